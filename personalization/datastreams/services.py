from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from accounts.permissions import CAN_MANAGE_DATASTREAMS
from personalization.datastreams.models import Datastream
from personalization.services import delete_checked, save_checked

__all__ = ["datastream_create", "datastream_delete", "datastream_update"]


def datastream_create(*, user, sandbox, **fields) -> Datastream:
    return save_checked(instance=Datastream(sandbox=sandbox, **fields), user=user, rule=CAN_MANAGE_DATASTREAMS)


def datastream_update(*, user, datastream: Datastream, **fields) -> Datastream:
    return save_checked(instance=datastream, user=user, rule=CAN_MANAGE_DATASTREAMS, update=fields)


def datastream_delete(*, user, datastream: Datastream) -> None:
    """Delete a datastream; refused while destinations still answer on it (they would stop silently)."""
    names = list(datastream.destinations.values_list("name", flat=True))
    if names:
        raise ValidationError(
            _("Delete or move these destinations first, they answer on this datastream: %(names)s.")
            % {"names": ", ".join(names)},
            code="datastream_in_use",
        )
    delete_checked(instance=datastream, user=user, rule=CAN_MANAGE_DATASTREAMS)
