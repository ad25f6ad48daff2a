"""Give every new sandbox the core data usage vocabulary (`catalogue`), as the data migration gave the others."""

from django.db.models.signals import post_save
from django.dispatch import receiver

from accounts.models import Sandbox
from personalization.governance.catalogue import catalogue_ensure

__all__ = ["new_sandbox_gets_the_catalogue"]


@receiver(post_save, sender=Sandbox, dispatch_uid="governance.new_sandbox_gets_the_catalogue")
def new_sandbox_gets_the_catalogue(sender, instance, created, raw=False, **kwargs) -> None:
    if created and not raw:
        catalogue_ensure(instance)
