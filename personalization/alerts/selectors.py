"""Reads for alerts: notifications, the rules as the Alerts page shows them, subscriptions per destination."""

from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils.translation import gettext as _

from accounts.permissions import CAN_VIEW_ALERTS, restrict
from personalization.alerts.models import AlertRecipient, AlertRuleSetting, AlertSubscription, AlertType, Notification

__all__ = ["AlertRow", "AlertRule", "alert_rows", "alert_rules", "notifications_for", "users_who_can_view_alerts"]


def notifications_for(user, *, unread_only: bool = False):
    """Return `user`'s notifications, newest first, with their event, run and destination."""
    notifications = restrict(Notification.objects.filter(user=user), user, CAN_VIEW_ALERTS)
    if unread_only:
        notifications = notifications.filter(read_at__isnull=True)
    return notifications.select_related("event", "event__destination", "event__run").order_by("-created_at", "-pk")


@dataclass(frozen=True)
class AlertRule:
    alert_type: str
    name: str
    condition: str
    threshold: str
    enabled: bool = True


def alert_rules(sandbox=None) -> list[AlertRule]:
    """Return the three rules with their conditions, thresholds and whether they are on in `sandbox`."""
    off = set()
    if sandbox is not None:
        off = set(AlertRuleSetting.objects.filter(sandbox=sandbox, enabled=False).values_list("alert_type", flat=True))
    rules = [
        AlertRule(
            AlertType.ACTIVATION_SKIPPED_RATE,
            AlertType.ACTIVATION_SKIPPED_RATE.label,
            _("A finished run skipped more than the threshold of the profiles it received."),
            _("%(percent)s %% of a run's profiles (each subscriber may choose a lower one)")
            % {"percent": format(settings.ALERT_SKIPPED_RATE_PERCENT, "g")},
        ),
        AlertRule(
            AlertType.RUN_FAILURE,
            AlertType.RUN_FAILURE.label,
            _("A run failed: its batch evaluation or CSV import stopped on an error."),
            _("any failure"),
        ),
        AlertRule(
            AlertType.RUN_DELAY,
            AlertType.RUN_DELAY.label,
            _("A run had not finished this long after it started (a streaming window: after it ended)."),
            _("%(minutes)d minutes") % {"minutes": settings.ALERT_RUN_DELAY_MINUTES},
        ),
    ]
    return [AlertRule(**{**rule.__dict__, "enabled": rule.alert_type not in off}) for rule in rules]


@dataclass
class AlertRow:
    """One destination on the Alerts page: the user's own subscriptions, and (for managers) everyone's."""

    destination: object
    mine: dict  # alert type -> the user's subscription or None
    subscriptions: list
    recipients: dict  # alert type -> "a@x, b@y"


def alert_rows(*, user, destinations: list) -> list[AlertRow]:
    """Return one row per destination with its subscriptions and external recipients (two queries)."""
    subscriptions = AlertSubscription.objects.filter(destination__in=destinations).select_related("user")
    recipients = AlertRecipient.objects.filter(destination__in=destinations).order_by("email")
    by_destination, addresses = {}, {}
    for subscription in subscriptions:
        by_destination.setdefault(subscription.destination_id, []).append(subscription)
    for recipient in recipients:
        addresses.setdefault((recipient.destination_id, recipient.alert_type), []).append(recipient.email)
    rows = []
    for destination in destinations:
        theirs = by_destination.get(destination.pk, [])
        mine = {alert_type: None for alert_type in AlertType.values}
        for subscription in theirs:
            if subscription.user_id == user.pk:
                mine[subscription.alert_type] = subscription
        rows.append(
            AlertRow(
                destination=destination,
                mine=mine,
                subscriptions=sorted(theirs, key=lambda s: (s.user.get_username(), s.alert_type)),
                recipients={
                    alert_type: ", ".join(addresses.get((destination.pk, alert_type), []))
                    for alert_type in AlertType.values
                },
            )
        )
    return rows


def users_who_can_view_alerts(sandbox):
    """Return the active users who may view alerts in `sandbox` (the ones a manager can subscribe)."""
    users = get_user_model().objects.filter(is_active=True).order_by("username")
    return users.filter(pk__in=[user.pk for user in users if CAN_VIEW_ALERTS.allows(user, sandbox)])
