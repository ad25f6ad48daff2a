from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from accounts.constants import MANAGE_SEGMENTS
from personalization.audiences.models import Audience
from personalization.services import delete_checked, save_checked

__all__ = ["audience_create", "audience_delete", "audience_update"]


def _refuse_if_activated(audience: Audience, action: str) -> None:
    names = sorted(audience.activations.values_list("destination__name", flat=True))
    if names:
        raise ValidationError(
            _("%(name)s is activated to %(destinations)s; remove it from those destinations before you %(action)s it.")
            % {"name": audience.name, "destinations": ", ".join(names), "action": action},
            code="audience_activated",
        )


def audience_create(*, user, sandbox, **fields) -> Audience:
    return save_checked(
        instance=Audience(sandbox=sandbox, created_by=user, **fields), user=user, codename=MANAGE_SEGMENTS
    )


def audience_update(*, user, audience: Audience, **fields) -> Audience:
    if fields.get("status") == Audience.Status.INACTIVE and audience.status != Audience.Status.INACTIVE:
        _refuse_if_activated(audience, _("inactivate"))
    return save_checked(instance=audience, user=user, codename=MANAGE_SEGMENTS, update=fields)


def audience_delete(*, user, audience: Audience) -> None:
    _refuse_if_activated(audience, _("delete"))
    delete_checked(instance=audience, user=user, codename=MANAGE_SEGMENTS)
