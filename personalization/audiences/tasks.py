"""Celery tasks for audiences: thin wrappers that take ids and call the evaluation services."""

import logging

from celery import shared_task

from django.db import DatabaseError
from django.utils import timezone
from django.utils.translation import gettext as _

from personalization import changes
from personalization.audiences import evaluation
from personalization.audiences.imports.run import (
    TRANSIENT_DATABASE_ERRORS,
    audience_import_fail,
    audience_import_release,
    audience_import_run,
)
from personalization.audiences.models import AudienceEvaluation

logger = logging.getLogger("personalization.audiences.tasks")

__all__ = ["evaluate_audience", "evaluate_published_audiences", "import_csv"]

MAX_RETRIES = 5


@shared_task(name="personalization.audiences.evaluate_audience", bind=True, max_retries=MAX_RETRIES, acks_late=True)
def evaluate_audience(self, evaluation_id: int) -> None:
    """Run a queued audience evaluation; database errors are retried with backoff, then the run is failed."""
    try:
        evaluation.audience_evaluation_run(evaluation_id=evaluation_id)
    except DatabaseError as exc:
        if self.request.retries < MAX_RETRIES:
            raise self.retry(exc=exc, countdown=30 * 2**self.request.retries) from exc
        _fail(AudienceEvaluation, evaluation_id, exc)
        raise
    except Exception as exc:
        _fail(AudienceEvaluation, evaluation_id, exc)
        raise


def _fail(model, evaluation_id, exc) -> None:
    logger.exception("audience.evaluation.failed", extra={"evaluation_id": evaluation_id})
    now, error = timezone.now(), ("%s: %s" % (type(exc).__name__, exc))[:2000]
    failed = model.objects.filter(pk=evaluation_id, status__in=model.ACTIVE_STATUSES).update(
        status=model.Status.FAILED, finished_at=now, error=error
    )
    if failed:
        evaluation = model.objects.get(pk=evaluation_id)
        changes.announce_audience_work_finished(
            audience_id=evaluation.audience_id,
            kind="batch",
            source="evaluation:%s" % evaluation_id,
            started_at=evaluation.started_at or evaluation.created_at,
            finished_at=now,
            error=_("The batch evaluation failed: %(error)s") % {"error": error},
        )


@shared_task(name="personalization.audiences.evaluate_published_audiences")
def evaluate_published_audiences() -> int:
    """Queue a batch evaluation of every published rule-based audience (the periodic run); return how many."""
    # The services import this module to enqueue its tasks; importing them back on use avoids the circle.
    from personalization.audiences.services import audience_evaluations_schedule

    return audience_evaluations_schedule()


#
# CSV custom upload
#

IMPORT_MAX_RETRIES = 3


@shared_task(
    name="personalization.audiences.import_csv",
    bind=True,
    max_retries=IMPORT_MAX_RETRIES,
    acks_late=True,
    # A 1 GB file takes longer than the default limits allow.
    soft_time_limit=3 * 3600,
    time_limit=3 * 3600 + 300,
)
def import_csv(self, import_id: int) -> None:
    """Run a pending CSV import; database errors release it and retry with backoff, then the import fails."""
    try:
        audience_import_run(import_id=import_id)
    except TRANSIENT_DATABASE_ERRORS as exc:
        logger.exception("audience.import.database_error", extra={"import_id": import_id})
        if self.request.retries < IMPORT_MAX_RETRIES:
            audience_import_release(import_id=import_id)
            raise self.retry(exc=exc, countdown=30 * 2**self.request.retries) from exc
        audience_import_fail(
            import_id=import_id,
            message=_(
                "The database was unavailable or busy on %(attempts)d attempts in a row, so nothing was written. "
                "Import the file again later."
            )
            % {"attempts": IMPORT_MAX_RETRIES + 1},
            reached_destinations=True,
        )
        raise
