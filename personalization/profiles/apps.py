from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ProfilesConfig(AppConfig):
    name = "personalization.profiles"
    verbose_name = _("Profiles")

    def ready(self):
        from accounts.audit import register

        # Profiles and identities are data, not configuration: see docs/decisions.md (#11, ingestion auditing).
        register(self.get_model("ProfileField"))
        register(self.get_model("IdentityNamespace"))
