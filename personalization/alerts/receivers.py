"""Receivers that let destinations, below alerts, hand over the alert subscriptions their pages collect."""

from django.dispatch import receiver

from personalization.alerts.services import alert_subscriptions_set
from personalization.destinations.models import Destination
from personalization.destinations.signals import alert_types_chosen

__all__ = ["store_chosen_alert_types"]


@receiver(alert_types_chosen, sender=Destination, dispatch_uid="alerts.store_chosen_alert_types")
def store_chosen_alert_types(sender, *, user, destination, alert_types, **kwargs) -> None:
    alert_subscriptions_set(user=user, destination=destination, alert_types=alert_types)
