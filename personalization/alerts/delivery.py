"""
Delivering an alert event: the in-app bell, email, and signed webhooks.

Each channel is idempotent, so a delivery task that runs again (a retry, a worker killed before it acknowledged
its message) repeats nothing the recipient has had: a notification is one row per user and event, an email is
claimed per address before it is sent, and a webhook message keeps one `webhook-id` across every attempt (the
Standard Webhooks way for a receiver to drop a repeat) and is not sent again once an attempt succeeded.
"""

import base64
import datetime
import hashlib
import hmac
import json
import logging
import secrets
import time
import uuid

import requests
from standardwebhooks import Webhook

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.permissions import CAN_MANAGE_ALERTS, CAN_VIEW_ALERTS
from personalization.alerts.evaluation import skipped_rate_threshold
from personalization.alerts.models import (
    AlertEmail,
    AlertEvent,
    AlertRecipient,
    AlertSubscription,
    AlertType,
    Notification,
    WebhookDelivery,
    WebhookEndpoint,
)

logger = logging.getLogger(__name__)

__all__ = [
    "DeliveryOutcome",
    "alert_event_email",
    "alert_event_notify",
    "alert_event_webhooks",
    "webhook_attempts",
    "webhook_deliver",
    "webhook_endpoint_create",
    "webhook_endpoint_delete",
    "webhook_message_id",
    "webhook_payload",
    "webhook_secret",
    "webhook_test_deliver",
]

_MESSAGE_IDS = uuid.UUID("9c7f3f0e-2d7c-4a35-9a53-6b0d1c1f4e21")


class DeliveryOutcome:
    DELIVERED = "delivered"
    RETRY = "retry"  # a network error or a 5xx (or 429): worth another attempt
    GAVE_UP = "gave_up"  # any other answer: the receiver refused this message


def _subscriptions(event: AlertEvent):
    """Return the subscriptions this event reaches: their owner may still view alerts, their threshold is met."""
    sandbox_id = event.destination.sandbox_id
    reached = []
    for subscription in AlertSubscription.objects.filter(
        destination=event.destination, alert_type=event.alert_type
    ).select_related("user"):
        if not subscription.user.is_active or not CAN_VIEW_ALERTS.allows(subscription.user, sandbox_id):
            continue
        if event.alert_type == AlertType.ACTIVATION_SKIPPED_RATE and event.observed_value is not None:
            if event.observed_value <= skipped_rate_threshold(subscription):
                continue
        reached.append(subscription)
    return reached


def alert_event_notify(*, event_id) -> int:
    """Put the event in each reached subscriber's bell; return how many notifications are new."""
    event = AlertEvent.objects.select_related("destination").get(pk=event_id)
    users = [subscription.user for subscription in _subscriptions(event)]
    before = Notification.objects.filter(event=event).count()
    Notification.objects.bulk_create([Notification(user=user, event=event) for user in users], ignore_conflicts=True)
    return Notification.objects.filter(event=event).count() - before


def _absolute(path: str) -> str:
    return settings.SITE_URL.rstrip("/") + path


def _run_url(event: AlertEvent) -> str:
    return _absolute(reverse("runs:dataflowrun_detail", kwargs={"pk": event.run_id}))


def _email_body(event: AlertEvent) -> str:
    run = event.run
    lines = [
        event.message,
        "",
        _("Destination: %(name)s") % {"name": event.destination.name},
        _("Run started: %(at)s") % {"at": run.started_at.isoformat()},
        _("Profiles received %(received)s, activated %(activated)s, skipped %(skipped)s, failed %(failed)s.")
        % {
            "received": format(run.profiles_received, ","),
            "activated": format(run.profiles_activated, ","),
            "skipped": format(run.profiles_skipped, ","),
            "failed": format(run.profiles_failed, ","),
        },
        "",
        _("Open the run: %(url)s") % {"url": _run_url(event)},
    ]
    return "\n".join(lines)


def alert_event_email(*, event_id) -> int:
    """
    Email the event to each reached subscriber who asked for email and to the destination's external recipients
    for this alert; return how many emails were sent now (an address already sent to is not sent again).
    """
    event = AlertEvent.objects.select_related("destination", "run").get(pk=event_id)
    addresses = [s.user.email for s in _subscriptions(event) if s.email and s.user.email]
    addresses += AlertRecipient.objects.filter(destination=event.destination, alert_type=event.alert_type).values_list(
        "email", flat=True
    )
    subject = "[%s] %s: %s" % (settings.ALERT_EMAIL_SUBJECT_PREFIX, event.get_alert_type_display(), event.destination)
    sent = 0
    for address in dict.fromkeys(address.strip().lower() for address in addresses):
        try:
            with transaction.atomic():
                claim, _created = AlertEmail.objects.get_or_create(event=event, address=address)
        except IntegrityError:
            claim = AlertEmail.objects.get(event=event, address=address)
        if claim.sent_at is not None:
            continue
        try:
            send_mail(subject, _email_body(event), settings.DEFAULT_FROM_EMAIL, [address])
        except OSError as error:  # SMTP refused or unreachable: the task retries the addresses not yet sent
            AlertEmail.objects.filter(pk=claim.pk).update(error=str(error)[:500])
            raise
        AlertEmail.objects.filter(pk=claim.pk).update(sent_at=timezone.now(), error="")
        sent += 1
    return sent


def alert_event_webhooks(*, event_id) -> list:
    """Return the ids of the sandbox's enabled webhook endpoints that take this event's alert type."""
    event = AlertEvent.objects.select_related("destination").get(pk=event_id)
    endpoints = WebhookEndpoint.objects.filter(sandbox_id=event.destination.sandbox_id, enabled=True)
    return [endpoint.pk for endpoint in endpoints if event.alert_type in (endpoint.alert_types or [])]


#
# Webhooks
#


def webhook_secret(endpoint: WebhookEndpoint) -> str:
    """Return the endpoint's signing secret (`whsec_…`), derived from the server's secret key and its salt."""
    key = hmac.new(settings.SECRET_KEY.encode(), ("webhook:" + endpoint.secret_salt).encode(), hashlib.sha256)
    return "whsec_" + base64.b64encode(key.digest()).decode()


@transaction.atomic
def webhook_endpoint_create(*, user, sandbox, name: str, url: str, alert_types) -> tuple[WebhookEndpoint, str]:
    """Register a webhook endpoint (Manage Alerts) and return it with its signing secret, shown only now."""
    CAN_MANAGE_ALERTS.require(user, sandbox)
    endpoint = WebhookEndpoint(
        sandbox=sandbox,
        name=name,
        url=url,
        alert_types=list(dict.fromkeys(alert_types)),
        secret_salt=secrets.token_hex(16),
        created_by=user,
    )
    endpoint.full_clean()
    endpoint.save()
    return endpoint, webhook_secret(endpoint)


def webhook_message_id(endpoint_id, event_id) -> str:
    """Return the `webhook-id` of one event sent to one endpoint: the same on every attempt."""
    return "msg_%s" % uuid.uuid5(_MESSAGE_IDS, "%s:%s" % (endpoint_id, event_id)).hex


def webhook_payload(event: AlertEvent) -> dict:
    """Return the JSON body of an alert event, in the Standard Webhooks shape (`type`, `timestamp`, `data`)."""
    run = event.run
    return {
        "type": "alert.%s" % event.alert_type,
        "timestamp": event.created_at.astimezone(datetime.UTC).isoformat().replace("+00:00", "Z"),
        "data": {
            "event_id": event.pk,
            "alert": {
                "type": event.alert_type,
                "name": event.get_alert_type_display(),
                "message": event.message,
                "observed": event.observed_value,
                "threshold": event.threshold,
            },
            "destination": {"id": str(event.destination_id), "name": event.destination.name},
            "run": {
                "id": str(run.pk),
                "kind": run.kind,
                "status": run.status,
                "started_at": run.started_at.isoformat(),
                "finished_at": run.finished_at.isoformat() if run.finished_at else None,
                "profiles_received": run.profiles_received,
                "profiles_activated": run.profiles_activated,
                "profiles_skipped": run.profiles_skipped,
                "profiles_failed": run.profiles_failed,
                "skip_reasons": run.skip_reasons,
            },
            "links": {
                "run": _run_url(event),
                "destination": _absolute(
                    reverse("destinations:destination_detail", kwargs={"pk": event.destination_id})
                ),
            },
        },
    }


def webhook_deliver(*, endpoint_id, event_id) -> str:
    """
    Make one delivery attempt of an event to an endpoint and record it; return the `DeliveryOutcome`.
    An event already delivered to the endpoint is not sent again.
    """
    endpoint = WebhookEndpoint.objects.filter(pk=endpoint_id).first()
    event = AlertEvent.objects.select_related("destination", "run").filter(pk=event_id).first()
    if endpoint is None or event is None or not endpoint.enabled:
        return DeliveryOutcome.GAVE_UP
    attempts = WebhookDelivery.objects.filter(endpoint=endpoint, event=event)
    if attempts.filter(succeeded=True).exists():
        return DeliveryOutcome.DELIVERED
    body = json.dumps(webhook_payload(event), separators=(",", ":"))
    message_id, sent_at = webhook_message_id(endpoint.pk, event.pk), timezone.now()
    status_code, excerpt, error, seconds = _post(endpoint, body, message_id, sent_at)
    succeeded = status_code is not None and 200 <= status_code < 300
    _record_attempt(endpoint, event, message_id, status_code, succeeded, excerpt, error, seconds)
    if succeeded:
        return DeliveryOutcome.DELIVERED
    if status_code is None or status_code >= 500 or status_code == 429:
        return DeliveryOutcome.RETRY
    return DeliveryOutcome.GAVE_UP


def _post(endpoint: WebhookEndpoint, body: str, message_id: str, sent_at) -> tuple:
    """POST a signed message; return `(status code or None, response excerpt, error, seconds)`."""
    signature = Webhook(webhook_secret(endpoint)).sign(message_id, sent_at, body)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "CustomPersonalizationConnection-Webhooks/1",
        "webhook-id": message_id,
        "webhook-timestamp": str(int(sent_at.timestamp())),
        "webhook-signature": signature,
    }
    started = time.perf_counter()
    try:
        response = requests.post(
            endpoint.url, data=body.encode(), headers=headers, timeout=settings.WEBHOOK_TIMEOUT, allow_redirects=False
        )
    except requests.RequestException as exc:
        return None, "", ("%s: %s" % (type(exc).__name__, exc))[:500], time.perf_counter() - started
    return response.status_code, response.text[:500], "", time.perf_counter() - started


def webhook_test_deliver(*, user, endpoint: WebhookEndpoint) -> WebhookDelivery:
    """Send a signed `alert.test` message to an endpoint now (Manage Alerts) and record the attempt."""
    CAN_MANAGE_ALERTS.require(user, endpoint.sandbox_id)
    sent_at = timezone.now()
    message_id = "msg_test_%s" % uuid.uuid4().hex
    body = json.dumps(
        {
            "type": "alert.test",
            "timestamp": sent_at.astimezone(datetime.UTC).isoformat().replace("+00:00", "Z"),
            "data": {"endpoint": endpoint.name, "sent_by": user.get_username()},
        },
        separators=(",", ":"),
    )
    status_code, excerpt, error, seconds = _post(endpoint, body, message_id, sent_at)
    return WebhookDelivery.objects.create(
        endpoint=endpoint,
        event=None,
        message_id=message_id,
        attempt=1,
        succeeded=status_code is not None and 200 <= status_code < 300,
        status_code=status_code,
        response_excerpt=excerpt,
        error=error,
        duration_ms=round(seconds * 1000),
    )


def webhook_attempts(*, endpoint_id, event_id) -> int:
    """Return how many delivery attempts of an event to an endpoint are recorded."""
    return WebhookDelivery.objects.filter(endpoint_id=endpoint_id, event_id=event_id).count()


def _record_attempt(endpoint, event, message_id, status_code, succeeded, excerpt, error, seconds) -> None:
    """Record one attempt under the next free attempt number (a repeated task never overwrites one)."""
    for _try in range(5):
        number = (WebhookDelivery.objects.filter(endpoint=endpoint, event=event).count() or 0) + 1
        try:
            with transaction.atomic():
                WebhookDelivery.objects.create(
                    endpoint=endpoint,
                    event=event,
                    attempt=number,
                    message_id=message_id,
                    succeeded=succeeded,
                    status_code=status_code,
                    response_excerpt=excerpt,
                    error=error,
                    duration_ms=round(seconds * 1000),
                )
            return
        except IntegrityError:
            continue
    logger.error("alerts.webhook.attempt_unrecorded", extra={"endpoint": endpoint.pk, "event": event.pk})


def webhook_endpoint_delete(*, user, endpoint: WebhookEndpoint) -> None:
    """Remove a webhook endpoint and its delivery records (Manage Alerts); nothing is sent to it any more."""
    CAN_MANAGE_ALERTS.require(user, endpoint.sandbox_id)
    endpoint.delete()
