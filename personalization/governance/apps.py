from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class GovernanceConfig(AppConfig):
    name = "personalization.governance"
    verbose_name = _("Data governance")

    def ready(self):
        from accounts.audit import register
        from personalization.governance import receivers  # noqa: F401  (new sandboxes get the core catalogue)

        register(self.get_model("Label"))
        register(self.get_model("MarketingAction"))
        register(self.get_model("Policy"))
