"""Reads for the destinations workspace and wizards: what a user may pick, see and do in a sandbox."""

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from accounts.permissions import CAN_VIEW_DESTINATIONS, CAN_VIEW_PROFILES, CAN_VIEW_SEGMENTS, Rule
from personalization.audiences.models import Audience
from personalization.audiences.selectors import audience_field_paths
from personalization.datastreams.models import Datastream
from personalization.destinations.models import Destination
from personalization.governance.models import MarketingAction
from personalization.governance.selectors import PolicyCheck, policy_check
from personalization.profiles.models import ProfileField

__all__ = [
    "activatable_audiences",
    "destination_kind_counts",
    "destinations_to_activate",
    "eligible_datastreams",
    "mappable_fields",
    "marketing_action_catalogue",
    "policy_would_block",
]


def _in_sandbox(queryset: QuerySet, user, rule: Rule, sandbox) -> QuerySet:
    return queryset.restrict(user, rule).in_sandbox(sandbox)


# Choices offered in forms.


def eligible_datastreams(*, user, sandbox) -> QuerySet[Datastream]:
    """Return the datastreams of `sandbox` a destination may answer on: platform service and Personalization on."""
    queryset = Datastream.objects.filter(platform_enabled=True, personalization_destinations=True)
    return _in_sandbox(queryset, user, CAN_VIEW_DESTINATIONS, sandbox).order_by("name")


def marketing_action_catalogue(*, user, sandbox) -> QuerySet[MarketingAction]:
    return _in_sandbox(MarketingAction.objects.all(), user, CAN_VIEW_DESTINATIONS, sandbox).order_by("name")


def activatable_audiences(*, user, sandbox, destination: Destination | None = None) -> QuerySet[Audience]:
    """
    Return the published, unexpired audiences of `sandbox` the user may see, plus those `destination` already
    activates (whatever their state now), so an edit can keep or drop them.
    """
    eligible = Q(status=Audience.Status.PUBLISHED) & (Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now()))
    if destination is not None:
        eligible |= Q(activations__destination=destination)
    queryset = _in_sandbox(Audience.objects.all(), user, CAN_VIEW_SEGMENTS, sandbox)
    return queryset.filter(pk__in=Audience.objects.filter(eligible).values("pk")).order_by("name")


def mappable_fields(*, user, sandbox) -> QuerySet[ProfileField]:
    """Return the scalar profile fields of `sandbox`: arrays and maps cannot be sent as attributes."""
    queryset = ProfileField.objects.filter(field_type__in=ProfileField.SCALAR_TYPES)
    return _in_sandbox(queryset, user, CAN_VIEW_PROFILES, sandbox).prefetch_related("labels").order_by("path")


def destinations_to_activate(*, user, sandbox, kind: str) -> QuerySet[Destination]:
    """Return the connections of one catalog card in `sandbox`, with their activated audience counts."""
    queryset = Destination.objects.filter(kind=kind).select_related("datastream")
    return (
        _in_sandbox(queryset, user, CAN_VIEW_DESTINATIONS, sandbox)
        .annotate(activation_count=Count("activations"))
        .order_by("name")
    )


def destination_kind_counts(*, sandbox) -> dict[str, int]:
    """Return `{kind: connections}` in `sandbox`, every kind present (the catalog's Set up / Activate switch)."""
    counts = dict.fromkeys(Destination.Kind.values, 0)
    rows = Destination.objects.filter(sandbox=sandbox).values_list("kind").annotate(total=Count("pk"))
    counts.update(dict(rows))
    return counts


def activation_policy_check(*, destination: Destination, audiences, mapped_fields, as_enabled=()) -> PolicyCheck:
    """
    Check an activation against the enabled policies on the destination's marketing actions (and `as_enabled`,
    as if enabled) with `governance.selectors.policy_check`: the fields of each audience's rule (and of the
    audiences it includes, transitively) and the mapped attributes.
    """
    return policy_check(
        sandbox_id=destination.sandbox_id,
        marketing_actions=destination.marketing_actions.all(),
        mapped_paths={field.path for field in mapped_fields},
        audience_paths=[(audience, audience_field_paths(audience)) for audience in audiences],
        as_enabled=as_enabled,
    )


def destination_policy_check(destination: Destination, *, as_enabled=()) -> PolicyCheck:
    """Check a destination's current activations and mappings (`activation_policy_check`)."""
    return activation_policy_check(
        destination=destination,
        audiences=[activation.audience for activation in destination.activations.select_related("audience")],
        mapped_fields=[mapping.source for mapping in destination.mappings.select_related("source")],
        as_enabled=as_enabled,
    )


def policy_would_block(policy) -> list[tuple[object, PolicyCheck]]:
    """
    Return `(destination, PolicyCheck)` for each destination in the policy's sandbox whose current activations
    and mappings the policy would block if it were enabled (an enabled one: blocks now).
    """
    blocked = []
    destinations = Destination.objects.filter(
        sandbox_id=policy.sandbox_id, marketing_actions=policy.marketing_action_id
    )
    for destination in destinations:
        check = destination_policy_check(destination, as_enabled=[policy])
        mine = tuple(violation for violation in check.violations if violation.policy.pk == policy.pk)
        if mine:
            blocked.append((destination, PolicyCheck(check.enabled_policies, check.applicable_policies, mine)))
    return blocked
