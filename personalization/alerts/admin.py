from django.contrib import admin

from personalization.alerts.models import AlertEvent, AlertSubscription, Notification, WebhookDelivery, WebhookEndpoint


@admin.register(AlertSubscription)
class AlertSubscriptionAdmin(admin.ModelAdmin):
    list_display = ("user", "destination", "alert_type")
    list_filter = ("alert_type",)
    search_fields = ("destination__name",)
    list_select_related = True


@admin.register(AlertEvent)
class AlertEventAdmin(admin.ModelAdmin):
    list_display = ("alert_type", "destination", "created_at", "resolved_at")
    list_filter = ("alert_type",)
    search_fields = ("message",)
    list_select_related = True


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ("user", "event", "created_at", "read_at")
    search_fields = ("user__username",)
    list_select_related = True


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    list_display = ("name", "url", "enabled", "sandbox")
    list_filter = ("sandbox", "enabled")
    search_fields = ("name", "url")


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ("endpoint", "event", "attempt", "succeeded", "status_code")
    list_filter = ("succeeded",)
    search_fields = ("endpoint__name",)
    list_select_related = True
