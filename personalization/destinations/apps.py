from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DestinationsConfig(AppConfig):
    name = "personalization.destinations"
    verbose_name = _("Destinations")

    def ready(self):
        from accounts.audit import register
        from personalization.destinations import receivers  # noqa: F401  (policy re-checks on rule changes)

        register(self.get_model("Destination"), m2m=("marketing_actions",))
        register(self.get_model("AudienceActivation"))
        register(self.get_model("AttributeMapping"))
