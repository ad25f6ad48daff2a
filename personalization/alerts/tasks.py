"""Celery tasks for alerts: thin wrappers that take ids and call the evaluation and delivery services."""

import datetime
import logging

from celery import shared_task

from django.conf import settings
from django.utils import timezone

from personalization.alerts import delivery
from personalization.alerts.evaluation import alert_rules_evaluate_recent, alert_rules_evaluate_run
from personalization.alerts.models import AlertEvent

logger = logging.getLogger(__name__)

__all__ = ["deliver_event", "deliver_webhook", "evaluate_run", "evaluate_runs"]

# Events older than this without their fan-out (its task was lost) are handed out again by the periodic run.
_UNDELIVERED_AFTER = datetime.timedelta(minutes=2)


@shared_task(name="personalization.alerts.evaluate_run", acks_late=True)
def evaluate_run(run_id: str) -> int:
    """Evaluate the alert rules on one finished run; return how many alert events it created."""
    return len(alert_rules_evaluate_run(run_id=run_id))


@shared_task(name="personalization.alerts.evaluate_runs", acks_late=True)
def evaluate_runs() -> int:
    """Evaluate recent and overdue runs and hand out events whose delivery was lost (beat, every minute)."""
    created = alert_rules_evaluate_recent()
    stalled = AlertEvent.objects.filter(
        delivered_at__isnull=True, created_at__lte=timezone.now() - _UNDELIVERED_AFTER
    ).values_list("pk", flat=True)
    for event_id in stalled:
        deliver_event.delay(event_id)
    return created


@shared_task(name="personalization.alerts.deliver_event", bind=True, acks_late=True, max_retries=5)
def deliver_event(self, event_id: int) -> None:
    """Put an event in the bell, send its emails and queue one webhook delivery per endpoint; safe to repeat."""
    try:
        delivery.alert_event_notify(event_id=event_id)
        delivery.alert_event_email(event_id=event_id)
    except OSError as exc:  # the mail server refused or is unreachable; the addresses sent to stay sent
        raise self.retry(exc=exc, countdown=30 * 2**self.request.retries) from exc
    for endpoint_id in delivery.alert_event_webhooks(event_id=event_id):
        deliver_webhook.delay(endpoint_id, event_id)
    AlertEvent.objects.filter(pk=event_id, delivered_at__isnull=True).update(delivered_at=timezone.now())


@shared_task(name="personalization.alerts.deliver_webhook", bind=True, acks_late=True, max_retries=None)
def deliver_webhook(self, endpoint_id: int, event_id: int) -> str:
    """
    Deliver an event to one webhook endpoint: retried with exponential backoff after a network error, a 5xx or
    a 429, up to `WEBHOOK_MAX_ATTEMPTS` attempts in all; any other refusal is final.
    """
    outcome = delivery.webhook_deliver(endpoint_id=endpoint_id, event_id=event_id)
    attempts = delivery.webhook_attempts(endpoint_id=endpoint_id, event_id=event_id)
    if outcome == delivery.DeliveryOutcome.RETRY and attempts < settings.WEBHOOK_MAX_ATTEMPTS:
        countdown = settings.WEBHOOK_RETRY_SECONDS * 2 ** (attempts - 1)
        raise self.retry(countdown=countdown)
    if outcome != delivery.DeliveryOutcome.DELIVERED:
        logger.warning("alerts.webhook.gave_up", extra={"endpoint": endpoint_id, "event": event_id})
    return outcome
