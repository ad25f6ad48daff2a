"""Writes for accounts: roles and their guardian grants, personal tokens."""

from guardian.shortcuts import assign_perm

from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone

from accounts.models import PersonalToken, Role, SandboxGroupObjectPermission

__all__ = ["personal_token_create", "personal_token_revoke", "role_create", "role_sync_grants", "role_update"]


def role_sync_grants(*, role: Role) -> None:
    """Make the role's group hold exactly the role's codenames on exactly the role's sandboxes."""
    SandboxGroupObjectPermission.objects.filter(group=role.group).delete()
    for sandbox in role.sandboxes.all():
        for codename in role.permissions:
            assign_perm("accounts.%s" % codename, role.group, sandbox)


def _apply_members(role: Role, users, sandboxes) -> None:
    if users is not None:
        role.users.set(users)
        role.group.user_set.set(users)
    if sandboxes is not None:
        role.sandboxes.set(sandboxes)


@transaction.atomic
def role_create(*, name: str, permissions: list[str], users=(), sandboxes=(), description: str = "") -> Role:
    """Create a role with its own group and grant its permissions on its sandboxes."""
    group, _created = Group.objects.get_or_create(name="role:%s" % name)
    role = Role(name=name, description=description, permissions=list(permissions), group=group)
    role.full_clean()
    role.save()
    _apply_members(role, users, sandboxes)
    role_sync_grants(role=role)
    return role


@transaction.atomic
def role_update(*, role: Role, users=None, sandboxes=None, **fields) -> Role:
    """Change a role's fields, members or sandboxes and re-grant its permissions."""
    for name, value in fields.items():
        setattr(role, name, value)
    role.full_clean()
    role.save()
    if role.group.name != "role:%s" % role.name:
        role.group.name = "role:%s" % role.name
        role.group.save(update_fields=["name"])
    _apply_members(role, users, sandboxes)
    role_sync_grants(role=role)
    return role


def personal_token_create(*, user, name: str, expires_at=None) -> tuple[PersonalToken, str]:
    """Create a token for `user`; return it with the plaintext, which is never stored."""
    plaintext, prefix, digest = PersonalToken.generate()
    token = PersonalToken(user=user, name=name, prefix=prefix, digest=digest, expires_at=expires_at)
    token.full_clean()
    token.save()
    return token, plaintext


def personal_token_revoke(*, token: PersonalToken) -> PersonalToken:
    token.revoked_at = timezone.now()
    token.save(update_fields=["revoked_at"])
    return token
