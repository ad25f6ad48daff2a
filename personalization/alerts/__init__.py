"""
Alerts: users' subscriptions to a destination's alerts, alert events, notifications and webhook deliveries.

No selectors.py, forms.py, views.py, api.py or urls.py yet: subscriptions are chosen on the destination pages,
which send `destinations.signals.alert_types_chosen` (received in receivers.py). No tasks.py: nothing raises or
delivers alerts yet.
"""
