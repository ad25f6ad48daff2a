"""
Running a CSV import: claim it, read and check every row, write the valid ones as one transaction, record the end.

Everything is written inside a single transaction: a failure anywhere leaves the database as it was. On
PostgreSQL the valid rows go through `copy_writer.CopyWriter` (`COPY` and set-based statements), elsewhere
(SQLite) through `writers.OrmWriter` (batches with `bulk_create`/`bulk_update`). The import logs the seconds each
phase took (`audience.import.succeeded`).

The file is the audience's whole member list: rows present become (or stay) members with the other columns as
their payload; members missing from the file exit. Re-running the same file changes nothing.
"""

import datetime
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, IntegrityError, OperationalError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from personalization import changes
from personalization.audiences.imports.copy_writer import CopyWriter
from personalization.audiences.imports.models import AudienceImport
from personalization.audiences.imports.reading import (
    MAX_VALUE_LENGTH,
    FileProblem,
    RowError,
    check_header,
    iter_rows,
    read_layout,
    row_errors,
)
from personalization.audiences.imports.report import ErrorReport, error_report_path
from personalization.audiences.imports.writers import OrmWriter, Writer
from personalization.audiences.models import Audience, AudienceMembership
from personalization.profiles.identities import identity_checker

logger = logging.getLogger("personalization.audiences.csv_import")

__all__ = [
    "EXPIRY_REFRESH_WINDOW",
    "TRANSIENT_DATABASE_ERRORS",
    "WRITERS",
    "ImportOutcome",
    "audience_import_fail",
    "audience_import_release",
    "audience_import_run",
    "live_progress",
]

EXPIRY_REFRESH_WINDOW = datetime.timedelta(days=7)
# The writer of each database vendor; the others get `OrmWriter`. Both write the same memberships: a test runs
# both on PostgreSQL (tests/audiences/test_write_paths_equal.py).
WRITERS = {"postgresql": CopyWriter}


@dataclass
class ImportOutcome:
    rows_total: int = 0
    rows_valid: int = 0
    rows_invalid: int = 0
    profiles_created: int = 0
    changed_profiles: list = field(default_factory=list)
    timings: dict = field(default_factory=dict)  # seconds per phase, for the log


def _writer(audience: Audience, namespace_id: int, now, header: list[str], identity_index: int, **options) -> Writer:
    """Return the writer for the database in use: `COPY` on PostgreSQL, the ORM elsewhere (SQLite)."""
    writer_class = WRITERS.get(connection.vendor, OrmWriter)
    return writer_class(audience, namespace_id, now, header, identity_index, **options)


#
# Progress
#


def _progress_key(import_id) -> str:
    return "audience-import-progress:%s" % import_id


def live_progress(audience_import: AudienceImport) -> float:
    """
    Return the progress of `audience_import`, from 0 to 1.

    A running import writes inside one transaction, which other connections cannot see, so its progress
    travels through the cache (shared between web and workers when the cache is Redis).
    """
    if audience_import.status == AudienceImport.Status.RUNNING:
        return max(audience_import.progress, cache.get(_progress_key(audience_import.pk), 0.0))
    return audience_import.progress


#
# Services
#


def _expiry(audience: Audience, days: int, now):
    """
    Return the audience's expiry after a successful import.

    The first import sets it to now + `days`. Later imports refresh it only when fewer than 7 days remain
    (the product's rule), so uploading often cannot keep an audience alive without notice.
    """
    if audience.expires_at is None:
        return now + datetime.timedelta(days=days)
    if audience.expires_at - now < EXPIRY_REFRESH_WINDOW:
        return now + datetime.timedelta(days=days)
    return audience.expires_at


def _import(audience_import: AudienceImport, report: ErrorReport) -> ImportOutcome:
    audience = audience_import.audience
    path = Path(settings.MEDIA_ROOT) / audience_import.file_path
    layout = read_layout(path)
    problems = check_header(layout.header, audience_import.identity_column)
    if problems:
        raise FileProblem(" ".join(problems), row=1)
    header = layout.header
    identity_index = header.index(audience_import.identity_column)
    namespace_code = audience_import.namespace.code
    size = max(audience_import.file_size, 1)
    now = timezone.now()
    outcome = ImportOutcome()
    seen: dict[int, int] = {}
    batch: list[list[str]] = []
    position = {"offset": 0}
    width = len(header)
    valid_identity = identity_checker(namespace_code)
    valid = invalid = 0
    started = time.perf_counter()

    def on_progress(offset):
        position["offset"] = offset

    with _writer(
        audience, audience_import.namespace_id, now, header, identity_index, confirm_exits=audience_import.confirm_exits
    ) as writer:
        for row_number, values, problem in iter_rows(path, layout, on_progress):
            # The common case in one expression; a row failing any check is looked at again to say why. The
            # identity is remembered by its 64-bit hash, not its value: a third of the memory on large files. Two
            # different identities share a hash with a chance of about 1 in 10^7 per million-row file.
            if not (
                problem is None
                and len(values) == width
                and max(map(len, values)) <= MAX_VALUE_LENGTH
                and "\x00" not in "".join(values)
                and valid_identity(values[identity_index])
                and seen.setdefault(hash(values[identity_index]), row_number) == row_number
            ):
                if problem is not None:
                    errors = [RowError(row_number, "", "", problem, kind="unreadable")]
                else:
                    errors = row_errors(row_number, values, header, identity_index, namespace_code, seen)
                if errors:
                    invalid += 1
                    for error in errors:
                        report.add(error)
                    continue
                seen.setdefault(hash(values[identity_index]), row_number)  # not reached while the checks agree
            valid += 1
            batch.append(values)
            if len(batch) >= writer.size:
                writer.write(batch)
                batch = []
                cache.set(_progress_key(audience_import.pk), min(0.99, position["offset"] / size), timeout=24 * 3600)
        if not valid:
            raise FileProblem(_no_valid_rows(invalid))
        if batch:
            writer.write(batch)
        outcome.timings["read"] = time.perf_counter() - started - writer.timings.get("write", 0.0)
        writer.finish()
    outcome.rows_valid, outcome.rows_invalid, outcome.rows_total = valid, invalid, valid + invalid
    outcome.timings.update(writer.timings)
    outcome.profiles_created = writer.profiles_created
    audience.expires_at = _expiry(audience, audience_import.expiration_days, now)
    if audience.status == Audience.Status.DRAFT:
        audience.status = Audience.Status.PUBLISHED
    audience.profile_count = AudienceMembership.objects.filter(
        audience=audience, status__in=AudienceMembership.ACTIVE_STATUSES
    ).count()
    audience.save(update_fields=["expires_at", "status", "profile_count", "updated_at"])
    if writer.changed_overflow:
        # Too many profiles to name one by one; the sandbox's whole edge store is refreshed instead.
        changes.announce_configuration_changed(audience.sandbox_id)
    elif writer.changed:
        changes.announce_profiles_changed(audience.sandbox_id, writer.changed)
    return outcome


def _no_valid_rows(invalid: int) -> str:
    """The message for a file that names nobody: importing it would make every member exit by accident."""
    if not invalid:
        return _(
            "The file has a header but no data rows, so nothing was imported and no member exits. Add one row "
            "per member of the audience."
        )
    return _(
        "None of the file's %(count)d data rows is valid (the error report lists why), so nothing was imported "
        "and no member exits. Fix the rows, or check that the identity column and namespace are the right ones."
    ) % {"count": invalid}


def _refuse_expired(audience: Audience) -> None:
    if audience.is_expired:
        raise FileProblem(
            _(
                "%(name)s expired on %(date)s; an expired upload cannot be refreshed. Import the file into a new "
                "audience instead."
            )
            % {"name": audience.name, "date": audience.expires_at.date().isoformat()}
        )


# Faults that pass: the connection dropped, a deadlock or serialization failure, or another writer added the same
# identity or membership first (a unique constraint). The task retries these; any other database error is final.
TRANSIENT_DATABASE_ERRORS = (OperationalError, IntegrityError)


def audience_import_run(*, import_id) -> AudienceImport | None:
    """
    Run a pending import: claim it, read and check every row, write the valid ones in one transaction.

    Returns None when the import is gone or already claimed (a duplicate task). A file-level problem, a database
    error that is not transient or an unexpected error fails the import with a message and writes nothing;
    transient database errors (`TRANSIENT_DATABASE_ERRORS`) propagate so the task can retry (the import is
    released back to pending first).
    """
    claimed = AudienceImport.objects.filter(pk=import_id, status=AudienceImport.Status.PENDING).update(
        status=AudienceImport.Status.RUNNING, started_at=timezone.now(), progress=0.0
    )
    if not claimed:
        return None
    audience_import = AudienceImport.objects.select_related("audience", "namespace").get(pk=import_id)
    report = ErrorReport(error_report_path(audience_import))
    try:
        _refuse_expired(audience_import.audience)
        with transaction.atomic():
            outcome = _import(audience_import, report)
            committing = time.perf_counter()
        # Deferred foreign key checks run here: on PostgreSQL a large share of a big import's time.
        outcome.timings["commit"] = time.perf_counter() - committing
    except FileProblem as problem:
        report.add(RowError(problem.row or 0, "", "", problem.message, kind="file"))
        report.close()
        return audience_import_fail(
            import_id=import_id,
            message=problem.message,
            report=report.relative,
            summary=report.summary(),
            exits_refused=getattr(problem, "exits", 0),
        )
    except TRANSIENT_DATABASE_ERRORS:
        report.close()
        raise
    except DatabaseError:
        # Not a passing fault: the same file would fail the same way, so it is not retried. The rows are checked
        # for everything the database refuses; reaching this is a bug, logged with its cause, not shown raw.
        report.close()
        logger.exception("audience.import.database_refused", extra={"import_id": import_id})
        return audience_import_fail(
            import_id=import_id,
            message=_(
                "The database refused to store this file's rows, so nothing was written. Check the file for unusual "
                "characters and try again; if it happens again, an admin can find the cause in the server log."
            ),
            report=report.relative,
            reached_destinations=True,
        )
    except Exception:
        report.close()
        logger.exception("audience.import.crashed", extra={"import_id": import_id})
        return audience_import_fail(
            import_id=import_id,
            message=_("The import stopped on an unexpected error and wrote nothing; try again or contact an admin."),
            report=report.relative,
            reached_destinations=True,
        )
    report.close()
    finished_at = timezone.now()
    AudienceImport.objects.filter(pk=import_id).update(
        status=AudienceImport.Status.SUCCEEDED,
        progress=1.0,
        rows_total=outcome.rows_total,
        rows_valid=outcome.rows_valid,
        rows_invalid=outcome.rows_invalid,
        profiles_created=outcome.profiles_created,
        error_report_path=report.relative if report.count else "",
        error_summary=report.summary(),
        finished_at=finished_at,
        error="",
    )
    changes.announce_audience_work_finished(
        audience_id=audience_import.audience_id,
        kind="import",
        source="import:%s" % import_id,
        started_at=audience_import.started_at,
        finished_at=finished_at,
    )
    cache.delete(_progress_key(import_id))
    logger.info(
        "audience.import.succeeded",
        extra={
            "import_id": import_id,
            "rows_valid": outcome.rows_valid,
            "seconds": {phase: round(seconds, 3) for phase, seconds in outcome.timings.items()},
        },
    )
    return AudienceImport.objects.get(pk=import_id)


def audience_import_fail(
    *,
    import_id,
    message: str,
    report: str = "",
    summary: dict | None = None,
    exits_refused: int = 0,
    reached_destinations: bool = False,
) -> AudienceImport | None:
    """
    Mark an unfinished import failed with `message` (nothing it read was written). A failure of the system rather
    than of the file (`reached_destinations`) is also a failed dataflow run for the audience's destinations; a
    refused file is the uploader's to fix, shown on the import's page.
    """
    now = timezone.now()
    failed = AudienceImport.objects.filter(
        pk=import_id, status__in=(AudienceImport.Status.PENDING, AudienceImport.Status.RUNNING)
    ).update(
        status=AudienceImport.Status.FAILED,
        error=message[:4000],
        error_report_path=report,
        error_summary=summary or {},
        exits_refused=exits_refused,
        finished_at=now,
    )
    cache.delete(_progress_key(import_id))
    audience_import = AudienceImport.objects.filter(pk=import_id).first()
    if failed and reached_destinations and audience_import is not None:
        changes.announce_audience_work_finished(
            audience_id=audience_import.audience_id,
            kind="import",
            source="import:%s" % import_id,
            started_at=audience_import.started_at or audience_import.created_at,
            finished_at=now,
            error=message,
        )
    return audience_import


def audience_import_release(*, import_id) -> None:
    """Put a running import back to pending so a retried task can claim it again."""
    AudienceImport.objects.filter(pk=import_id, status=AudienceImport.Status.RUNNING).update(
        status=AudienceImport.Status.PENDING, progress=0.0
    )
