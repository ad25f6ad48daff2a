"""Writes for alerts: subscriptions, external recipients, resolving alerts, marking notifications read."""

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.permissions import CAN_MANAGE_ALERTS, CAN_RESOLVE_ALERTS, CAN_SUBSCRIBE_TO_ALERTS, CAN_VIEW_ALERTS
from personalization.alerts.models import (
    AlertEvent,
    AlertRecipient,
    AlertRuleSetting,
    AlertSubscription,
    AlertType,
    Notification,
)
from personalization.alerts.selectors import notifications_for

__all__ = [
    "alert_event_resolve",
    "alert_recipients_set",
    "alert_rule_enable",
    "alert_subscription_save",
    "alert_subscriptions_set",
    "notifications_mark_read",
]


@transaction.atomic
def alert_subscriptions_set(*, user, destination, alert_types) -> list:
    """
    Subscribe `user` to exactly `alert_types` on `destination`, ending the other subscriptions.

    Subscriptions are the user's own; they need View Destinations and View Alerts (where the alerts show up).
    """
    CAN_SUBSCRIBE_TO_ALERTS.require(user, destination.sandbox_id)
    wanted = list(dict.fromkeys(alert_types))
    unknown = sorted(set(wanted) - set(AlertType.values))
    if unknown:
        raise ValidationError(
            {
                "alert_types": _("These are not alerts this destination offers: %(unknown)s.")
                % {"unknown": ", ".join(unknown)}
            },
            code="invalid_alert_type",
        )
    current = AlertSubscription.objects.filter(user=user, destination=destination)
    current.exclude(alert_type__in=wanted).delete()
    subscribed = set(current.values_list("alert_type", flat=True))
    for alert_type in wanted:
        if alert_type not in subscribed:
            subscription = AlertSubscription(user=user, destination=destination, alert_type=alert_type)
            subscription.full_clean()
            subscription.save()
    return list(current.all())


def notifications_mark_read(*, user, notification_ids=None) -> int:
    """Mark the user's own unread notifications read (these, or all of them); return how many."""
    unread = notifications_for(user, unread_only=True)
    if notification_ids is not None:
        unread = unread.filter(pk__in=notification_ids)
    return Notification.objects.filter(pk__in=list(unread.values_list("pk", flat=True))).update(read_at=timezone.now())


@transaction.atomic
def alert_subscription_save(
    *, user, destination, alert_type: str, subscribed: bool, email: bool = False, threshold=None, subscriber=None
):
    """
    Subscribe `subscriber` (default: `user`) to one alert of a destination, with its email choice and threshold,
    or end the subscription. Users manage their own (View Destinations and View Alerts); other users'
    subscriptions need Manage Alerts. Return the subscription, or None once unsubscribed.
    """
    subscriber = subscriber or user
    if subscriber != user:
        CAN_MANAGE_ALERTS.require(user, destination.sandbox_id)
        if not CAN_VIEW_ALERTS.allows(subscriber, destination.sandbox_id):
            raise ValidationError(
                {
                    "subscriber": _("%(name)s cannot view alerts in this sandbox; grant View Alerts first.")
                    % {"name": subscriber.get_username()}
                },
                code="cannot_view_alerts",
            )
    else:
        CAN_SUBSCRIBE_TO_ALERTS.require(user, destination.sandbox_id)
    existing = AlertSubscription.objects.filter(user=subscriber, destination=destination, alert_type=alert_type)
    if not subscribed:
        existing.delete()
        return None
    subscription = existing.first() or AlertSubscription(
        user=subscriber, destination=destination, alert_type=alert_type
    )
    subscription.email = email
    subscription.threshold = threshold
    subscription.full_clean()
    subscription.save()
    return subscription


@transaction.atomic
def alert_recipients_set(*, user, destination, alert_type: str, emails: list[str]) -> list:
    """Make `emails` exactly the external addresses that also receive one alert of a destination (Manage Alerts)."""
    CAN_MANAGE_ALERTS.require(user, destination.sandbox_id)
    if alert_type not in AlertType.values:
        raise ValidationError({"alert_type": _("Choose one of the alerts this destination offers.")}, code="invalid")
    wanted = list(dict.fromkeys(address.strip().lower() for address in emails if address.strip()))
    bad = []
    for address in wanted:
        try:
            validate_email(address)
        except ValidationError:
            bad.append(address)
    if bad:
        raise ValidationError(
            {
                "emails": _("These are not email addresses: %(bad)s. Separate addresses with commas.")
                % {"bad": ", ".join(bad)}
            },
            code="invalid_email",
        )
    current = AlertRecipient.objects.filter(destination=destination, alert_type=alert_type)
    current.exclude(email__in=wanted).delete()
    have = set(current.values_list("email", flat=True))
    for address in wanted:
        if address not in have:
            AlertRecipient.objects.create(destination=destination, alert_type=alert_type, email=address, added_by=user)
    return list(current.all())


def alert_event_resolve(*, user, event):
    """Resolve a triggered alert by hand (Resolve Alerts); resolving it again changes nothing."""
    CAN_RESOLVE_ALERTS.require(user, event.destination.sandbox_id)
    AlertEvent.objects.filter(pk=event.pk, resolved_at__isnull=True).update(resolved_at=timezone.now())
    event.refresh_from_db()
    return event


@transaction.atomic
def alert_rule_enable(*, user, sandbox, alert_type: str, enabled: bool) -> AlertRuleSetting:
    """Switch one alert rule on or off in a sandbox (Manage Alerts); runs breaching a rule that is off raise nothing."""
    CAN_MANAGE_ALERTS.require(user, sandbox)
    if alert_type not in AlertType.values:
        raise ValidationError({"alert_type": _("Choose one of the alert rules.")}, code="invalid")
    setting, _created = AlertRuleSetting.objects.get_or_create(sandbox=sandbox, alert_type=alert_type)
    setting.enabled, setting.changed_by = enabled, user
    setting.save()
    return setting
