from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AudiencesConfig(AppConfig):
    name = "personalization.audiences"
    verbose_name = _("Audiences")

    def ready(self):
        from accounts.audit import register

        # Sizes and evaluation times change with every evaluation; the rule, status and name are what people change.
        register(self.get_model("Audience"), exclude=("profile_count", "last_evaluated_at"))
        register(
            self.get_model("AudienceImport"),
            exclude=("progress", "rows_total", "rows_valid", "rows_invalid", "profiles_created", "started_at"),
        )
