from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DatastreamsConfig(AppConfig):
    name = "personalization.datastreams"
    verbose_name = _("Datastreams")

    def ready(self):
        from accounts.audit import register

        register(self.get_model("Datastream"))
