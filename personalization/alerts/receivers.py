"""
Receivers that connect alerts to the apps below it: the alert subscriptions destinations' pages collect, the runs
the edge app finishes (evaluated), and the events evaluation creates (delivered).
"""

import logging

from kombu.exceptions import OperationalError

from django.dispatch import receiver

from personalization.alerts.evaluation import alert_created
from personalization.alerts.services import alert_subscriptions_set
from personalization.alerts.tasks import deliver_event, evaluate_run
from personalization.destinations.models import Destination
from personalization.destinations.signals import alert_types_chosen
from personalization.edge.runs import run_finished

logger = logging.getLogger(__name__)

__all__ = ["deliver_created_alert", "evaluate_finished_runs", "store_chosen_alert_types"]


@receiver(alert_types_chosen, sender=Destination, dispatch_uid="alerts.store_chosen_alert_types")
def store_chosen_alert_types(sender, *, user, destination, alert_types, **kwargs) -> None:
    alert_subscriptions_set(user=user, destination=destination, alert_types=alert_types)


@receiver(run_finished, dispatch_uid="alerts.evaluate_finished_runs")
def evaluate_finished_runs(sender, *, run_ids, **kwargs) -> None:
    """Queue the rules' evaluation of each finished run (the periodic evaluation catches what this misses)."""
    try:
        for run_id in run_ids:
            evaluate_run.delay(str(run_id))
    except OperationalError:
        logger.warning("alerts.evaluation.deferred", extra={"runs": [str(run_id) for run_id in run_ids]})


@receiver(alert_created, dispatch_uid="alerts.deliver_created_alert")
def deliver_created_alert(sender, *, event_id, **kwargs) -> None:
    """Queue an event's delivery (the periodic evaluation hands out events whose delivery this could not queue)."""
    try:
        deliver_event.delay(event_id)
    except OperationalError:
        logger.warning("alerts.delivery.deferred", extra={"event": event_id})
