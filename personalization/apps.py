from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PersonalizationConfig(AppConfig):
    """The project package as an app of its own, for project-wide management commands."""

    name = "personalization"
    verbose_name = _("Custom Personalization Connection")
