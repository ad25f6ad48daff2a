"""Celery tasks for the edge app: the periodic counting of streaming changes into dataflow runs."""

import datetime

from celery import shared_task

from django.utils import timezone

from personalization.edge.runs import dataflow_runs_catch_up, dataflow_runs_close_windows

__all__ = ["close_run_windows"]


@shared_task(name="personalization.edge.close_run_windows", acks_late=True)
def close_run_windows() -> int:
    """
    Count waiting streaming changes into their window runs, finish the windows that ended and record finished
    work whose runs are missing; return how many runs finished.
    """
    now = timezone.now()
    dataflow_runs_catch_up(since=now - datetime.timedelta(days=1))
    return len(dataflow_runs_close_windows(now=now))
