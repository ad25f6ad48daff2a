from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AlertsConfig(AppConfig):
    name = "personalization.alerts"
    verbose_name = _("Alerts")

    def ready(self):
        from accounts.audit import register

        register(self.get_model("AlertSubscription"))
        register(self.get_model("WebhookEndpoint"), mask=("secret_salt",))
