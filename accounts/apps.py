from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = _("Accounts and access")

    def ready(self):
        # The user model and the audit module (which imports the models) exist only once the apps are loaded.
        from django.contrib.auth import get_user_model

        from accounts import audit

        audit.connect_lockout_signal()
        audit.register(self.get_model("Role"), exclude=("group",), m2m=("users", "sandboxes"))
        audit.register(self.get_model("ApiCredential"), mask=("secret_digest",))
        audit.register(self.get_model("PersonalToken"), mask=("digest",))
        audit.register(get_user_model(), exclude=("last_login", "date_joined"), mask=("password",))
