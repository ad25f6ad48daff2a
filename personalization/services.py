"""Write helpers shared by the domain services: validate on the model, check the actor, save atomically."""

from django.db import transaction

from accounts.permissions import require_sandbox_permission, sandbox_of

__all__ = ["delete_checked", "save_checked"]


def save_checked(*, instance, user, codename: str, update: dict | None = None):
    """
    Apply `update` to `instance`, validate it with `full_clean()`, re-check that `user` holds `codename`
    on its sandbox, and save, all in one transaction. Return the instance.
    """
    with transaction.atomic():
        for field, value in (update or {}).items():
            setattr(instance, field, value)
        instance.full_clean()
        require_sandbox_permission(user, codename, sandbox_of(instance))
        instance.save()
    return instance


def delete_checked(*, instance, user, codename: str) -> None:
    """Delete `instance` after checking that `user` holds `codename` on its sandbox."""
    with transaction.atomic():
        require_sandbox_permission(user, codename, sandbox_of(instance))
        instance.delete()
