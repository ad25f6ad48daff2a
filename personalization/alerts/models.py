from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from accounts.models import SandboxedModel
from personalization.destinations.choices import AlertType
from personalization.validators import field_error

__all__ = ["AlertEvent", "AlertSubscription", "AlertType", "Notification", "WebhookDelivery", "WebhookEndpoint"]


class AlertSubscription(SandboxedModel):
    """A user's wish to hear about one alert type on one destination."""

    SANDBOX_LOOKUP = "destination__sandbox"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="alert_subscriptions")
    destination = models.ForeignKey(
        "destinations.Destination", on_delete=models.CASCADE, related_name="alert_subscriptions"
    )
    alert_type = models.CharField(_("alert"), max_length=32, choices=AlertType.choices)
    email = models.BooleanField(_("also by email"), default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["destination__name", "alert_type"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "destination", "alert_type"],
                name="alert_subscription_unique",
                violation_error_message=_("You are already subscribed to this alert on this destination."),
            )
        ]

    def __str__(self):
        return "%s: %s" % (self.destination, self.get_alert_type_display())


class AlertEvent(SandboxedModel):
    """One breach of an alert rule by one dataflow run; idempotent per rule and run."""

    SANDBOX_LOOKUP = "destination__sandbox"

    destination = models.ForeignKey("destinations.Destination", on_delete=models.CASCADE, related_name="alert_events")
    run = models.ForeignKey("edge.DataflowRun", on_delete=models.CASCADE, related_name="alert_events")
    alert_type = models.CharField(_("alert"), max_length=32, choices=AlertType.choices)
    message = models.TextField(_("message"))
    observed_value = models.FloatField(null=True, blank=True)
    threshold = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["alert_type", "run"], name="alert_event_once_per_rule_and_run")]

    def __str__(self):
        return self.message

    def clean(self):
        super().clean()
        if self.run_id and self.destination_id and self.run.destination_id != self.destination_id:
            raise field_error("run", _("The run belongs to another destination."), "wrong_destination")


class Notification(models.Model):
    """An in-app message for one user (the bell)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    event = models.ForeignKey(AlertEvent, on_delete=models.CASCADE, related_name="notifications")
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["user", "event"], name="notification_once_per_user_event")]
        indexes = [models.Index(fields=["user", "read_at"], name="notification_user_unread")]

    def __str__(self):
        return "%s: %s" % (self.user, self.event)


class WebhookEndpoint(SandboxedModel):
    """
    A URL that receives alert events as signed JSON.

    The signing secret is derived from the server's secret key and `secret_salt` (HMAC), shown once and
    never stored, so the database holds nothing that can sign on its own.
    """

    sandbox = models.ForeignKey("accounts.Sandbox", on_delete=models.PROTECT, related_name="webhook_endpoints")
    name = models.CharField(_("name"), max_length=200)
    url = models.URLField(_("URL"), max_length=500)
    alert_types = models.JSONField(_("alerts"), default=list, blank=True)
    secret_salt = models.CharField(max_length=64, editable=False)
    enabled = models.BooleanField(_("enabled"), default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["sandbox", "name"],
                name="webhook_name_unique_per_sandbox",
                violation_error_message=_("This sandbox already has a webhook with this name."),
            )
        ]

    def __str__(self):
        return self.name

    def clean(self):
        super().clean()
        valid = set(AlertType.values)
        if not isinstance(self.alert_types, list) or not set(self.alert_types) <= valid:
            raise field_error(
                "alert_types",
                _("Choose alert types from: %(valid)s."),
                "invalid_alert_type",
                valid=", ".join(sorted(valid)),
            )


class WebhookDelivery(SandboxedModel):
    """One attempt to deliver one alert event to one webhook."""

    SANDBOX_LOOKUP = "endpoint__sandbox"

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    event = models.ForeignKey(AlertEvent, on_delete=models.CASCADE, related_name="deliveries")
    attempt = models.PositiveSmallIntegerField(default=1)
    succeeded = models.BooleanField(default=False)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response_excerpt = models.CharField(max_length=500, blank=True)
    error = models.CharField(max_length=500, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = _("webhook deliveries")
        constraints = [
            models.UniqueConstraint(fields=["endpoint", "event", "attempt"], name="webhook_delivery_attempt_unique")
        ]

    def __str__(self):
        return "%s attempt %d" % (self.endpoint, self.attempt)
