"""Write helpers shared by the domain services: validate on the model, check the actor, save atomically."""

from django.db import transaction

from accounts.permissions import Rule, sandbox_of

__all__ = ["delete_checked", "save_checked"]


def save_checked(*, instance, user, rule: Rule, update: dict | None = None):
    """
    Apply `update` to `instance`, validate it with `full_clean()`, re-check that `user` satisfies `rule`
    on its sandbox, and save, all in one transaction. Return the instance.
    """
    with transaction.atomic():
        for field, value in (update or {}).items():
            setattr(instance, field, value)
        instance.full_clean()
        rule.require(user, sandbox_of(instance))
        instance.save()
    return instance


def delete_checked(*, instance, user, rule: Rule) -> None:
    """Delete `instance` after checking that `user` satisfies `rule` on its sandbox."""
    with transaction.atomic():
        rule.require(user, sandbox_of(instance))
        instance.delete()
