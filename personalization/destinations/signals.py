"""
Signals through which destinations reach the apps above them (alerts) without importing them.

Each is sent inside the sender's transaction; a receiver's `ValidationError` or `PermissionDenied` propagates, so
the write is refused as a whole.
"""

from django.dispatch import Signal

__all__ = ["alert_types_chosen"]

# user, destination, alert_types: the alerts `user` wants on `destination`, exactly (the others end). The alerts
# app stores them (`alerts.services.alert_subscriptions_set`).
alert_types_chosen = Signal()
