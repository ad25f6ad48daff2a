"""
The alert rules, evaluated on dataflow runs: each breach is one `AlertEvent` per rule and run.

- Activation Skipped Rate Exceeded: a finished run skipped more than the threshold of the profiles it received
  (`ALERT_SKIPPED_RATE_PERCENT`, 1 %, or a subscriber's lower threshold).
- Destination Flow Run Failure: the run failed.
- Destination Flow Run Delay: the run had not finished `ALERT_RUN_DELAY_MINUTES` (150) after it started.

A rule an admin switched off in a sandbox (`AlertRuleSetting`) raises nothing there. Evaluating a run twice, or
in two workers at once, creates no second event (the database allows one per rule and
run). A healthy finished run resolves the destination's open alerts of that rule from earlier runs. Each new
event is handed to delivery after its commit (`alert_created`).
"""

import datetime

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Min
from django.dispatch import Signal
from django.utils import timezone
from django.utils.translation import gettext as _

from personalization.alerts.models import AlertEvent, AlertRuleSetting, AlertSubscription, AlertType
from personalization.edge.models import DataflowRun

__all__ = ["alert_created", "alert_rules_evaluate_recent", "alert_rules_evaluate_run", "skipped_rate_threshold"]

# event_id: an alert event that was just created (sent after its commit).
alert_created = Signal()
# Finished runs are evaluated again for this long (a lost evaluation is caught up by the periodic one).
_LOOKBACK = datetime.timedelta(hours=6)


def _delay() -> datetime.timedelta:
    return datetime.timedelta(minutes=settings.ALERT_RUN_DELAY_MINUTES)


def skipped_rate_threshold(subscription: AlertSubscription | None = None) -> float:
    """Return the skipped-rate threshold in percent: the subscription's own, else the default."""
    if subscription is not None and subscription.threshold is not None:
        return subscription.threshold
    return settings.ALERT_SKIPPED_RATE_PERCENT


def _lowest_skipped_threshold(destination_id) -> float:
    lowest = AlertSubscription.objects.filter(
        destination_id=destination_id, alert_type=AlertType.ACTIVATION_SKIPPED_RATE, threshold__isnull=False
    ).aggregate(lowest=Min("threshold"))["lowest"]
    default = settings.ALERT_SKIPPED_RATE_PERCENT
    return default if lowest is None else min(lowest, default)


def _breaches(run: DataflowRun, now: datetime.datetime) -> dict:
    """Return `{alert type: (message, observed, threshold)}` for each rule the run breaches."""
    breaches = {}
    if run.status == DataflowRun.Status.FAILED:
        errors = "; ".join(str(error) for error in run.errors or [])[:500]
        breaches[AlertType.RUN_FAILURE] = (
            _("The dataflow run to %(destination)s failed: %(errors)s")
            % {"destination": run.destination.name, "errors": errors or _("no error was recorded")},
            None,
            None,
        )
    if run.status == DataflowRun.Status.SUCCESS and run.profiles_received:
        observed, threshold = 100.0 * run.skipped_rate, _lowest_skipped_threshold(run.destination_id)
        if observed > threshold:
            breaches[AlertType.ACTIVATION_SKIPPED_RATE] = (
                _("%(skipped)s of %(received)s profiles (%(rate).1f%%) were skipped activating to %(destination)s.")
                % {
                    "skipped": format(run.profiles_skipped, ","),
                    "received": format(run.profiles_received, ","),
                    "rate": observed,
                    "destination": run.destination.name,
                },
                observed,
                threshold,
            )
    # A batch run is due the delay after it started; a streaming window the delay after the window ends.
    due = (run.window_end or run.started_at) if run.kind == DataflowRun.Kind.STREAMING else run.started_at
    late = (run.finished_at or now) - due - _delay()
    if late > datetime.timedelta(0):
        minutes = settings.ALERT_RUN_DELAY_MINUTES
        breaches[AlertType.RUN_DELAY] = (
            _("The dataflow run to %(destination)s has not finished within %(minutes)d minutes.")
            % {"destination": run.destination.name, "minutes": minutes},
            (late + _delay()).total_seconds() / 60,
            float(minutes),
        )
    return breaches


def _healthy(run: DataflowRun, breaches: dict) -> list[str]:
    """Return the rules a finished run shows healthy again (it breaches none of them)."""
    if run.finished_at is None:
        return []
    return [alert_type for alert_type in AlertType.values if alert_type not in breaches]


def alert_rules_evaluate_run(*, run_id, now: datetime.datetime | None = None) -> list[AlertEvent]:
    """Evaluate every rule on one run; return the events this call created (none when they existed)."""
    now = now or timezone.now()
    run = DataflowRun.objects.select_related("destination").filter(pk=run_id).first()
    if run is None:
        return []
    breaches = _breaches(run, now)
    switched_off = set(
        AlertRuleSetting.objects.filter(sandbox_id=run.destination.sandbox_id, enabled=False).values_list(
            "alert_type", flat=True
        )
    )
    breaches = {alert_type: breach for alert_type, breach in breaches.items() if alert_type not in switched_off}
    created = []
    for alert_type, (message, observed, threshold) in breaches.items():
        try:
            with transaction.atomic():
                event = AlertEvent.objects.create(
                    destination=run.destination,
                    run=run,
                    alert_type=alert_type,
                    message=message,
                    observed_value=observed,
                    threshold=threshold,
                )
                transaction.on_commit(lambda pk=event.pk: alert_created.send(sender=AlertEvent, event_id=pk))
        except IntegrityError:
            continue  # evaluated before, or by another worker right now: one event per rule and run
        created.append(event)
    for alert_type in _healthy(run, breaches):
        AlertEvent.objects.filter(
            destination=run.destination,
            alert_type=alert_type,
            resolved_at__isnull=True,
            run__started_at__lt=run.started_at,
        ).update(resolved_at=now)
    return created


def alert_rules_evaluate_recent(*, now: datetime.datetime | None = None) -> int:
    """Evaluate the runs finished lately and those still running past the delay; return the events created."""
    now = now or timezone.now()
    finished = DataflowRun.objects.filter(finished_at__gte=now - _LOOKBACK)
    overdue = DataflowRun.objects.filter(status=DataflowRun.Status.RUNNING, started_at__lte=now - _delay())
    run_ids = set(finished.values_list("pk", flat=True)) | set(overdue.values_list("pk", flat=True))
    return sum(len(alert_rules_evaluate_run(run_id=run_id, now=now)) for run_id in run_ids)
