from django.urls import path

from personalization.alerts import views

app_name = "alerts"

urlpatterns = [
    path("", views.AlertsView.as_view(), name="alerts"),
    path("rules/", views.AlertRuleEnableView.as_view(), name="rule_enable"),
    path("history/", views.AlertHistoryView.as_view(), name="alert_history"),
    path("history/<int:pk>/resolve/", views.AlertResolveView.as_view(), name="alert_resolve"),
    path("destinations/<uuid:pk>/subscription/", views.AlertSubscriptionSaveView.as_view(), name="subscription_save"),
    path("destinations/<uuid:pk>/recipients/", views.AlertRecipientsSaveView.as_view(), name="recipients_save"),
    path("webhooks/", views.WebhookEndpointListView.as_view(), name="webhookendpoint_list"),
    path("webhooks/new/", views.WebhookEndpointCreateView.as_view(), name="webhookendpoint_create"),
    path("webhooks/<int:pk>/", views.WebhookEndpointDetailView.as_view(), name="webhookendpoint_detail"),
    path("webhooks/<int:pk>/test/", views.WebhookTestView.as_view(), name="webhookendpoint_test"),
    path("webhooks/<int:pk>/delete/", views.WebhookDeleteView.as_view(), name="webhookendpoint_delete"),
    path("notifications/", views.NotificationListView.as_view(), name="notification_list"),
    path("notifications/read/", views.NotificationsReadView.as_view(), name="notifications_read"),
]
