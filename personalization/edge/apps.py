from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class EdgeConfig(AppConfig):
    name = "personalization.edge"
    verbose_name = _("Edge")

    def ready(self):
        from personalization.edge import (
            receivers,  # noqa: F401  (connects the edge store invalidation)
            run_receivers,  # noqa: F401  (counts finished activation work in runs)
        )
