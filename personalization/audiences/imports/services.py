"""Services that start CSV custom uploads: store the file, record the import, run it on a worker after commit."""

import re
import shutil
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files import File
from django.db import transaction
from django.utils.translation import gettext as _

from accounts.permissions import CAN_IMPORT_AUDIENCES
from personalization.audiences.imports.models import UPLOAD_DIR, AudienceImport
from personalization.audiences.models import Audience
from personalization.audiences.tasks import import_csv as import_csv_task
from personalization.services import save_checked

__all__ = [
    "EXPIRATION_DAYS_DEFAULT",
    "EXPIRATION_DAYS_MAX",
    "EXPIRATION_DAYS_MIN",
    "EXTERNAL_ID_PATTERN",
    "audience_import_confirm_exits",
    "audience_import_create",
    "audience_import_start",
    "may_confirm_exits",
]

EXPIRATION_DAYS_MIN, EXPIRATION_DAYS_MAX, EXPIRATION_DAYS_DEFAULT = 1, 90, 30
EXTERNAL_ID_PATTERN = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")


def _store(source, audience_import: AudienceImport) -> None:
    """Copy the uploaded file chunk by chunk to its place under MEDIA_ROOT (never whole in memory)."""
    relative = "%s/%s.csv" % (UPLOAD_DIR, audience_import.pk)
    target = Path(settings.MEDIA_ROOT) / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    source.seek(0)
    with open(target, "wb") as out:
        shutil.copyfileobj(source, out, length=1024 * 1024)
    audience_import.file_path = relative
    audience_import.file_size = target.stat().st_size
    audience_import.save(update_fields=["file_path", "file_size"])


@transaction.atomic
def audience_import_start(
    *,
    user,
    audience: Audience,
    upload,
    namespace,
    identity_column: str,
    expiration_days: int,
    delimiter: str = ",",
    confirm_exits: bool = False,
) -> AudienceImport:
    """
    Record an import of `upload` (a file object) into the custom upload `audience` and run it after commit.

    Checks Import Audience, View and Manage Segments on the audience's sandbox, and that the namespace is the
    sandbox's. The file becomes the audience's member list (see `run`); unless `confirm_exits`, the import
    stops, changing nothing, when the file would make more than half of the current members exit.
    """
    CAN_IMPORT_AUDIENCES.require(user, audience.sandbox)
    if audience.origin != Audience.Origin.CUSTOM_UPLOAD:
        raise ValidationError(
            _("%(name)s is a segmentation audience; only custom upload audiences take CSV files.")
            % {"name": audience.name},
            code="not_custom_upload",
        )
    if namespace.sandbox_id != audience.sandbox_id:
        raise ValidationError({"namespace": _("Pick an identity namespace of this sandbox.")}, code="cross_sandbox")
    if not EXPIRATION_DAYS_MIN <= expiration_days <= EXPIRATION_DAYS_MAX:
        raise ValidationError(
            {
                "expiration_days": _("Data expiration must be between %(min)d and %(max)d days.")
                % {"min": EXPIRATION_DAYS_MIN, "max": EXPIRATION_DAYS_MAX}
            },
            code="expiration_range",
        )
    audience_import = AudienceImport.objects.create(
        audience=audience,
        namespace=namespace,
        identity_column=identity_column,
        expiration_days=expiration_days,
        delimiter=delimiter,
        confirm_exits=confirm_exits,
        file_name=Path(getattr(upload, "name", "") or "upload.csv").name[:255],
        file_path="",
        created_by=user,
    )
    _store(upload, audience_import)
    import_id = audience_import.pk
    transaction.on_commit(lambda: import_csv_task.delay(import_id))
    return audience_import


@transaction.atomic
def audience_import_create(
    *,
    user,
    sandbox,
    name: str,
    description: str = "",
    external_id: str = "",
    upload,
    namespace,
    identity_column: str,
    expiration_days: int = EXPIRATION_DAYS_DEFAULT,
    delimiter: str = ",",
) -> AudienceImport:
    """
    Create a custom upload audience (a draft until its first import succeeds) and start importing `upload`.
    """
    CAN_IMPORT_AUDIENCES.require(user, sandbox)
    if external_id and not EXTERNAL_ID_PATTERN.fullmatch(external_id):
        raise ValidationError(
            {
                "external_id": _(
                    "The external audience ID must start with a letter, _ or $, followed only by letters, digits, "
                    "_ or $."
                )
            },
            code="invalid_external_id",
        )
    audience = save_checked(
        instance=Audience(
            sandbox=sandbox,
            name=name,
            description=description,
            external_id=external_id,
            origin=Audience.Origin.CUSTOM_UPLOAD,
            status=Audience.Status.DRAFT,
            created_by=user,
        ),
        user=user,
        rule=CAN_IMPORT_AUDIENCES,
    )
    return audience_import_start(
        user=user,
        audience=audience,
        upload=upload,
        namespace=namespace,
        identity_column=identity_column,
        expiration_days=expiration_days,
        delimiter=delimiter,
    )


def may_confirm_exits(audience_import: AudienceImport) -> bool:
    """Return whether the import stopped for too many exits and is still the audience's latest one."""
    latest = audience_import.audience.imports.order_by("-created_at", "-pk").values_list("pk", flat=True).first()
    return audience_import.awaits_exit_confirmation and latest == audience_import.pk


def audience_import_confirm_exits(*, user, audience_import: AudienceImport) -> AudienceImport:
    """
    Import once more, with the exits confirmed, a file that stopped because it made most members exit.

    Same permissions as any import; refused unless the import stopped for that reason and no later import ran.
    """
    CAN_IMPORT_AUDIENCES.require(user, audience_import.audience.sandbox)
    if not may_confirm_exits(audience_import):
        raise ValidationError(
            _("This import does not wait for a confirmation (or a later file was imported since); nothing was done."),
            code="no_confirmation_pending",
        )
    stored = Path(settings.MEDIA_ROOT) / audience_import.file_path
    if not stored.is_file():
        raise ValidationError(_("The file of this import is no longer stored; upload it again."), code="file_gone")
    with open(stored, "rb") as handle:
        return audience_import_start(
            user=user,
            audience=audience_import.audience,
            upload=File(handle, name=audience_import.file_name),
            namespace=audience_import.namespace,
            identity_column=audience_import.identity_column,
            expiration_days=audience_import.expiration_days,
            delimiter=audience_import.delimiter,
            confirm_exits=True,
        )
