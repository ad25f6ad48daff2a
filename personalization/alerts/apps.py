from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AlertsConfig(AppConfig):
    name = "personalization.alerts"
    verbose_name = _("Alerts")

    def ready(self):
        # Imported for its side effect: connecting the receivers (models are not importable before ready()).
        from accounts.audit import register
        from personalization.alerts import receivers  # noqa: F401

        register(self.get_model("AlertSubscription"))
        register(self.get_model("WebhookEndpoint"), mask=("secret_salt",))
