"""Re-check data usage policies when a rule, a field's labels or a policy change (signals sent from below)."""

from dataclasses import replace

from django.core.exceptions import ValidationError
from django.dispatch import receiver

from personalization.audiences.models import Audience
from personalization.audiences.selectors import audiences_including
from personalization.audiences.signals import rule_changed
from personalization.destinations.models import Destination
from personalization.destinations.selectors import destination_policy_check, policy_would_block
from personalization.destinations.services import destination_policy_recheck, policy_violation_error
from personalization.governance.models import Label, Policy
from personalization.governance.signals import labels_changing, policy_enabling, policy_impact_asked

__all__ = [
    "answer_what_a_policy_would_block",
    "recheck_policies_for_a_new_rule",
    "recheck_policies_for_new_labels",
    "refuse_a_policy_current_activations_break",
]


@receiver(rule_changed, sender=Audience, dispatch_uid="destinations.recheck_policies_for_a_new_rule")
def recheck_policies_for_a_new_rule(sender, *, audience, **kwargs) -> None:
    """Refuse a rule that makes a destination activating the audience (or one including it) break a policy."""
    destinations = Destination.objects.filter(activations__audience_id__in=audiences_including(audience)).distinct()
    for destination in destinations:
        destination_policy_recheck(destination)


@receiver(policy_enabling, sender=Policy, dispatch_uid="destinations.refuse_a_policy_current_activations_break")
def refuse_a_policy_current_activations_break(sender, *, policy, **kwargs) -> None:
    """Refuse enabling a policy that current activations would break, naming each destination and why."""
    blocked = policy_would_block(policy)
    if blocked:
        messages = []
        for destination, check in blocked:
            messages += policy_violation_error(check, destination).messages
        raise ValidationError(messages, code="policy_would_block")


@receiver(labels_changing, sender=Label, dispatch_uid="destinations.recheck_policies_for_new_labels")
def recheck_policies_for_new_labels(sender, *, sandbox_id, paths, **kwargs) -> None:
    """
    Refuse labels that make a destination break an enabled policy through one of the relabelled fields. A
    violation that does not involve those fields (an older one) is not this change's doing and does not refuse it.
    """
    destinations = Destination.objects.filter(
        sandbox_id=sandbox_id, marketing_actions__policies__status=Policy.Status.ENABLED
    )
    for destination in destinations.distinct().order_by("name"):
        check = destination_policy_check(destination)
        caused = tuple(violation for violation in check.violations if set(violation.fields) & set(paths))
        if caused:
            raise policy_violation_error(replace(check, violations=caused), destination)


@receiver(policy_impact_asked, sender=Policy, dispatch_uid="destinations.answer_what_a_policy_would_block")
def answer_what_a_policy_would_block(sender, *, policy, **kwargs):
    """Tell the policy pages which destinations' activations the policy would block."""
    return policy_would_block(policy)
