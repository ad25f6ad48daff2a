"""Writes for destinations, their activations and attribute mappings."""

from dataclasses import dataclass

from django.core.exceptions import ImproperlyConfigured, PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from accounts.permissions import CAN_ACTIVATE, CAN_CONNECT_DESTINATIONS, CAN_MAP_ATTRIBUTES
from personalization.destinations.models import AttributeMapping, AudienceActivation, Destination
from personalization.destinations.selectors import activation_policy_check, destination_policy_check
from personalization.destinations.signals import alert_types_chosen
from personalization.governance.selectors import PolicyCheck, PolicyViolation
from personalization.services import delete_checked, save_checked

__all__ = [
    "ActivationChanges",
    "PolicyCheck",
    "PolicyViolation",
    "activation_delete",
    "activation_policy_check",
    "activation_save",
    "attribute_mapping_create",
    "attribute_mapping_delete",
    "attribute_mapping_update",
    "destination_activation_apply",
    "destination_alerts_choose",
    "destination_connect",
    "destination_create",
    "destination_delete",
    "destination_policy_recheck",
    "destination_update",
    "policy_violation_error",
]


def _check_marketing_actions(destination: Destination, marketing_actions) -> None:
    foreign = [action for action in marketing_actions if action.sandbox_id != destination.sandbox_id]
    if foreign:
        raise ValidationError(
            {
                "marketing_actions": _(
                    "These marketing actions belong to another sandbox: %(names)s; pick ones from this sandbox."
                )
                % {"names": ", ".join(map(str, foreign))}
            },
            code="cross_sandbox",
        )


@transaction.atomic
def destination_create(*, user, sandbox, marketing_actions=(), **fields) -> Destination:
    """Create a destination connection with its marketing actions, all or nothing."""
    destination = Destination(sandbox=sandbox, created_by=user, **fields)
    _check_marketing_actions(destination, marketing_actions)
    save_checked(instance=destination, user=user, rule=CAN_CONNECT_DESTINATIONS)
    destination.marketing_actions.set(marketing_actions)
    return destination


@transaction.atomic
def destination_update(*, user, destination: Destination, marketing_actions=None, **fields) -> Destination:
    if "kind" in fields and fields["kind"] != destination.kind and destination.mappings.exists():
        raise ValidationError(
            {"kind": _("Remove this destination's attribute mappings before changing its kind.")}, code="kind_in_use"
        )
    if marketing_actions is not None:
        _check_marketing_actions(destination, marketing_actions)
    save_checked(instance=destination, user=user, rule=CAN_CONNECT_DESTINATIONS, update=fields)
    if marketing_actions is not None:
        destination.marketing_actions.set(marketing_actions)
        destination_policy_recheck(destination)
    return destination


def destination_delete(*, user, destination: Destination) -> None:
    """Delete a destination together with its activations and mappings; callers stop getting its entry."""
    delete_checked(instance=destination, user=user, rule=CAN_CONNECT_DESTINATIONS)


@transaction.atomic
def activation_save(*, user, activation: AudienceActivation, **fields) -> AudienceActivation:
    """Create or change an audience activation (its schedule)."""
    for field, value in fields.items():
        setattr(activation, field, value)
    CAN_ACTIVATE.require(user, activation.destination.sandbox_id)
    activation.full_clean()
    activation.save()
    return activation


@transaction.atomic
def activation_delete(*, user, activation: AudienceActivation) -> None:
    CAN_ACTIVATE.require(user, activation.destination.sandbox_id)
    activation.delete()


@transaction.atomic
def attribute_mapping_create(*, user, destination: Destination, recheck=True, **fields) -> AttributeMapping:
    """
    Map a profile field; only Activate Destinations (not "without mapping") may change mappings. A mapping that
    makes the destination violate an enabled data usage policy is refused (`recheck=False`: the caller checked
    the whole activation it applies).
    """
    mapping = save_checked(
        instance=AttributeMapping(destination=destination, **fields), user=user, rule=CAN_MAP_ATTRIBUTES
    )
    if recheck:
        destination_policy_recheck(destination)
    return mapping


@transaction.atomic
def attribute_mapping_update(*, user, mapping: AttributeMapping, recheck=True, **fields) -> AttributeMapping:
    mapping = save_checked(instance=mapping, user=user, rule=CAN_MAP_ATTRIBUTES, update=fields)
    if recheck:
        destination_policy_recheck(mapping.destination)
    return mapping


def policy_violation_error(check: PolicyCheck, destination: Destination) -> ValidationError:
    """Explain each violation: the policy, the labels, the fields, and the path field → audience or mapping → here."""
    messages = []
    for violation in check.violations:
        via = (
            _("the audience %(audience)s") % {"audience": violation.audience.name}
            if violation.audience is not None
            else _("the mapped attributes")
        )
        messages.append(
            _(
                "The policy %(policy)s forbids this: labels %(labels)s on %(fields)s reach %(destination)s through "
                "%(via)s for %(action)s. Remove those fields from the mapping or the audience's rule, or take "
                "%(action)s off the destination."
            )
            % {
                "policy": violation.policy.name,
                "labels": ", ".join(violation.labels),
                "fields": ", ".join(violation.fields),
                "destination": destination.name,
                "via": via,
                "action": violation.policy.marketing_action.name,
            }
        )
    return ValidationError(messages, code="policy_violation")


def destination_policy_recheck(destination: Destination) -> None:
    """Raise the explained violation when the destination's activations and mappings break an enabled policy."""
    check = destination_policy_check(destination)
    if not check.passed:
        raise policy_violation_error(check, destination)


def attribute_mapping_delete(*, user, mapping: AttributeMapping) -> None:
    delete_checked(instance=mapping, user=user, rule=CAN_MAP_ATTRIBUTES)


#
# Connect wizard
#


@transaction.atomic
def destination_connect(*, user, sandbox, kind: str, marketing_actions=(), alert_types=(), **fields) -> Destination:
    """Connect a destination as the connect wizard does: the connection, its marketing actions, the user's alerts."""
    CAN_CONNECT_DESTINATIONS.require(user, sandbox)
    destination = destination_create(
        user=user, sandbox=sandbox, marketing_actions=marketing_actions, kind=kind, **fields
    )
    if alert_types:
        destination_alerts_choose(user=user, destination=destination, alert_types=alert_types)
    return destination


def destination_alerts_choose(*, user, destination: Destination, alert_types) -> None:
    """
    Make `user` subscribed to exactly `alert_types` on `destination`.

    The alerts app stores and checks the subscriptions (it receives `signals.alert_types_chosen`); destinations,
    below it, only say what was chosen.
    """
    if not alert_types_chosen.has_listeners(sender=Destination):
        raise ImproperlyConfigured("No app stores alert subscriptions: is personalization.alerts installed?")
    alert_types_chosen.send(sender=Destination, user=user, destination=destination, alert_types=list(alert_types))


#
# Data usage policies at activation
#


#
# Activation wizard
#


@dataclass(frozen=True)
class ActivationChanges:
    """What `destination_activation_apply` changed, for the confirmation message."""

    added: int
    rescheduled: int
    removed: int
    mappings_changed: int
    total_audiences: int


def _named(audience, error: ValidationError) -> ValidationError:
    return ValidationError(
        [_("%(audience)s: %(message)s") % {"audience": audience.name, "message": message} for message in error.messages]
    )


def _apply_mappings(*, user, destination: Destination, mappings) -> int:
    """Make the destination map exactly `mappings`; removals go first so a swap never trips the 30 limit."""
    wanted: dict[str, object] = {}
    for source, target in mappings:
        if target in wanted:
            raise ValidationError(
                _("The target field %(target)s is used twice; target names must be unique.") % {"target": target},
                code="duplicate_target",
            )
        wanted[target] = source
    current = {mapping.target: mapping for mapping in destination.mappings.all()}
    changed = 0
    for target, mapping in current.items():
        if target not in wanted:
            attribute_mapping_delete(user=user, mapping=mapping)
            changed += 1
    for target, source in wanted.items():
        mapping = current.get(target)
        if mapping is None:
            attribute_mapping_create(user=user, destination=destination, source=source, target=target, recheck=False)
            changed += 1
        elif mapping.source_id != source.pk:
            attribute_mapping_update(user=user, mapping=mapping, source=source, recheck=False)
            changed += 1
    return changed


@transaction.atomic
def destination_activation_apply(
    *, user, destination: Destination, audiences, schedule: dict, mappings=None
) -> ActivationChanges:
    """
    Make `destination` activate exactly `audiences`, each between the dates `schedule[audience.pk]` gives
    (`(start_date, end_date)`, either None), and, when `mappings` (pairs of source field and target name) is
    given, map exactly those attributes.

    `mappings=None` leaves the mappings as they are; it is the only value a user with Activate Segments without
    Mapping may pass. Everything is written or nothing is: a refused row or a data usage policy violation undoes
    the whole activation.
    """
    # Lock the destination row (not its sandbox) so two Finishes on one destination apply one after the other.
    destination = Destination.objects.select_for_update(of=("self",)).select_related("sandbox").get(pk=destination.pk)
    CAN_ACTIVATE.require(user, destination.sandbox_id)
    if mappings is not None and not CAN_MAP_ATTRIBUTES.allows(user, destination.sandbox_id):
        raise PermissionDenied(_("Changing attribute mappings needs Activate Destinations."))
    audiences = list(dict.fromkeys(audiences))
    mapped_fields = (
        [source for source, _target in mappings]
        if mappings is not None
        else [mapping.source for mapping in destination.mappings.select_related("source")]
    )
    check = activation_policy_check(destination=destination, audiences=audiences, mapped_fields=mapped_fields)
    if not check.passed:
        raise ValidationError(
            [
                _("The policy %(policy)s forbids this activation.") % {"policy": violation.policy.name}
                for violation in check.violations
            ],
            code="policy_violation",
        )

    mappings_changed = 0
    if mappings is not None:
        mappings_changed = _apply_mappings(user=user, destination=destination, mappings=mappings)
    current = {activation.audience_id: activation for activation in destination.activations.select_related("audience")}
    wanted = {audience.pk for audience in audiences}
    removed = [activation for audience_id, activation in current.items() if audience_id not in wanted]
    for activation in removed:
        activation_delete(user=user, activation=activation)
    added = rescheduled = 0
    errors = []
    for audience in audiences:
        start_date, end_date = schedule.get(audience.pk, (None, None))
        activation = current.get(audience.pk)
        if activation is not None and (activation.start_date, activation.end_date) == (start_date, end_date):
            continue
        try:
            activation_save(
                user=user,
                activation=activation or AudienceActivation(destination=destination, audience=audience),
                start_date=start_date,
                end_date=end_date,
            )
        except ValidationError as error:
            errors.append(_named(audience, error))
            continue
        if activation is None:
            added += 1
        else:
            rescheduled += 1
    if errors:
        raise ValidationError(errors)
    return ActivationChanges(
        added=added,
        rescheduled=rescheduled,
        removed=len(removed),
        mappings_changed=mappings_changed,
        total_audiences=len(audiences),
    )
