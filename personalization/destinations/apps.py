from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DestinationsConfig(AppConfig):
    name = "personalization.destinations"
    verbose_name = _("Destinations")
