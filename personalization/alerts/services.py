"""Writes for alerts: a user's subscriptions to a destination's alerts."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from accounts.permissions import CAN_SUBSCRIBE_TO_ALERTS
from personalization.alerts.models import AlertSubscription, AlertType

__all__ = ["alert_subscriptions_set"]


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
