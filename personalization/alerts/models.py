from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from accounts.models import SandboxedModel
from personalization.destinations.choices import AlertType
from personalization.validators import field_error

__all__ = [
    "AlertEmail",
    "AlertEvent",
    "AlertRecipient",
    "AlertRuleSetting",
    "AlertSubscription",
    "AlertType",
    "Notification",
    "WebhookDelivery",
    "WebhookEndpoint",
]


class AlertSubscription(SandboxedModel):
    """A user's wish to hear about one alert type on one destination."""

    SANDBOX_LOOKUP = "destination__sandbox"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="alert_subscriptions")
    destination = models.ForeignKey(
        "destinations.Destination", on_delete=models.CASCADE, related_name="alert_subscriptions"
    )
    alert_type = models.CharField(_("alert"), max_length=32, choices=AlertType.choices)
    email = models.BooleanField(_("also by email"), default=False)
    threshold = models.FloatField(
        _("threshold (% skipped)"),
        null=True,
        blank=True,
        validators=[MinValueValidator(0.0), MaxValueValidator(100.0)],
        help_text=_("Activation Skipped Rate Exceeded only: alert above this share of a run's profiles (default 1%)."),
    )
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

    def clean(self):
        super().clean()
        if self.threshold is not None and self.alert_type != AlertType.ACTIVATION_SKIPPED_RATE:
            raise field_error(
                "threshold", _("Only Activation Skipped Rate Exceeded takes a threshold."), "threshold_not_allowed"
            )


class AlertRuleSetting(SandboxedModel):
    """Whether one alert rule is switched off in one sandbox (Manage Alerts); rules are on unless a row says off."""

    sandbox = models.ForeignKey("accounts.Sandbox", on_delete=models.CASCADE, related_name="alert_rule_settings")
    alert_type = models.CharField(_("alert"), max_length=32, choices=AlertType.choices)
    enabled = models.BooleanField(_("enabled"), default=True)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    changed_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["sandbox", "alert_type"], name="alert_rule_setting_once_per_sandbox")
        ]

    def __str__(self):
        return "%s: %s" % (self.get_alert_type_display(), "on" if self.enabled else "off")


class AlertRecipient(SandboxedModel):
    """An email address outside the product that also hears about one alert type on one destination."""

    SANDBOX_LOOKUP = "destination__sandbox"

    destination = models.ForeignKey(
        "destinations.Destination", on_delete=models.CASCADE, related_name="alert_recipients"
    )
    alert_type = models.CharField(_("alert"), max_length=32, choices=AlertType.choices)
    email = models.EmailField(_("email address"))
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["email"]
        constraints = [
            models.UniqueConstraint(
                fields=["destination", "alert_type", "email"],
                name="alert_recipient_unique",
                violation_error_message=_("This address already receives this alert for this destination."),
            )
        ]

    def __str__(self):
        return self.email


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
    # Set once the bell, the emails and the webhook deliveries have been handed out (the periodic run retries
    # events still without it).
    delivered_at = models.DateTimeField(null=True, blank=True)

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

    SANDBOX_LOOKUP = "event__destination__sandbox"

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


class AlertEmail(models.Model):
    """One alert email to one address: claimed before it is sent, so a retried delivery sends it once."""

    event = models.ForeignKey(AlertEvent, on_delete=models.CASCADE, related_name="emails")
    address = models.EmailField()
    sent_at = models.DateTimeField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["event", "address"], name="alert_email_once_per_address")]

    def __str__(self):
        return "%s to %s" % (self.event, self.address)


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

    def get_absolute_url(self):
        return reverse("alerts:webhookendpoint_detail", kwargs={"pk": self.pk})

    def clean(self):
        super().clean()
        if self.url and not self.url.lower().startswith(("https://", "http://")) and "://" in self.url:
            raise field_error("url", _("Use an http:// or https:// address."), "invalid_scheme")
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
    # None for a test delivery sent from the endpoint's page.
    event = models.ForeignKey(AlertEvent, on_delete=models.CASCADE, related_name="deliveries", null=True, blank=True)
    message_id = models.CharField(max_length=64, blank=True)
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
