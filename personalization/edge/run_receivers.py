"""Count the activation work audiences report in the destinations' dataflow runs (`edge.runs`)."""

import logging

from django.db import DatabaseError
from django.dispatch import receiver

from personalization import changes
from personalization.edge.runs import dataflow_runs_record

logger = logging.getLogger(__name__)

__all__ = ["record_audience_work"]


@receiver(changes.audience_work_finished, dispatch_uid="edge.record_audience_work")
def record_audience_work(sender, *, audience_id, kind, source, started_at, finished_at, error, **kwargs) -> None:
    """Record the runs now; if the database refuses, the periodic catch-up records them (the work is done)."""
    try:
        dataflow_runs_record(
            audience_id=audience_id,
            kind=kind,
            source=source,
            started_at=started_at,
            finished_at=finished_at,
            error=error,
        )
    except DatabaseError:
        logger.exception("edge.runs.record_deferred", extra={"source": source})
