"""Writes for destinations, their activations and attribute mappings."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from accounts.constants import ACTIVATE_DESTINATIONS, MANAGE_DESTINATIONS
from accounts.permissions import has_sandbox_permission, require_sandbox_permission
from personalization.destinations.models import AttributeMapping, AudienceActivation, Destination
from personalization.services import delete_checked, save_checked

__all__ = [
    "activation_delete",
    "activation_save",
    "attribute_mapping_create",
    "attribute_mapping_delete",
    "attribute_mapping_update",
    "destination_create",
    "destination_delete",
    "destination_update",
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
    save_checked(instance=destination, user=user, codename=MANAGE_DESTINATIONS)
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
    save_checked(instance=destination, user=user, codename=MANAGE_DESTINATIONS, update=fields)
    if marketing_actions is not None:
        destination.marketing_actions.set(marketing_actions)
    return destination


def destination_delete(*, user, destination: Destination) -> None:
    """Delete a destination together with its activations and mappings; callers stop getting its entry."""
    delete_checked(instance=destination, user=user, codename=MANAGE_DESTINATIONS)


def _require_activate(user, destination: Destination) -> None:
    """Activating needs Activate Destinations or Activate Segments without Mapping on the sandbox."""
    from accounts.constants import ACTIVATE_SEGMENTS_WITHOUT_MAPPING

    if has_sandbox_permission(user, ACTIVATE_SEGMENTS_WITHOUT_MAPPING, destination.sandbox_id):
        return
    require_sandbox_permission(user, ACTIVATE_DESTINATIONS, destination.sandbox_id)


@transaction.atomic
def activation_save(*, user, activation: AudienceActivation, **fields) -> AudienceActivation:
    """Create or change an audience activation (its schedule)."""
    for field, value in fields.items():
        setattr(activation, field, value)
    _require_activate(user, activation.destination)
    activation.full_clean()
    activation.save()
    return activation


@transaction.atomic
def activation_delete(*, user, activation: AudienceActivation) -> None:
    _require_activate(user, activation.destination)
    activation.delete()


def attribute_mapping_create(*, user, destination: Destination, **fields) -> AttributeMapping:
    """Map a profile field; only Activate Destinations (not "without mapping") may change mappings."""
    return save_checked(
        instance=AttributeMapping(destination=destination, **fields), user=user, codename=ACTIVATE_DESTINATIONS
    )


def attribute_mapping_update(*, user, mapping: AttributeMapping, **fields) -> AttributeMapping:
    return save_checked(instance=mapping, user=user, codename=ACTIVATE_DESTINATIONS, update=fields)


def attribute_mapping_delete(*, user, mapping: AttributeMapping) -> None:
    delete_checked(instance=mapping, user=user, codename=ACTIVATE_DESTINATIONS)
