"""Writes for accounts: roles and their guardian grants, personal tokens."""

from guardian.shortcuts import assign_perm

from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone

from accounts.models import ApiCredential, PersonalToken, Role, SandboxGroupObjectPermission
from accounts.permissions import CAN_MANAGE_API_CREDENTIALS
from personalization.changes import announce_tokens_revoked

__all__ = [
    "api_credential_create",
    "api_credential_revoke",
    "personal_token_create",
    "personal_token_revoke",
    "role_create",
    "role_sync_grants",
    "role_update",
]


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


@transaction.atomic
def api_credential_create(*, user, sandbox, name: str, expires_at=None) -> tuple[ApiCredential, str]:
    """
    Create a server-to-server credential in `sandbox`; return it with the secret, shown once and never stored.

    Creating credentials needs View and Manage Datastreams: a credential unlocks attributes on the sandbox's
    datastreams.
    """
    CAN_MANAGE_API_CREDENTIALS.require(user, sandbox)
    client_id, secret, digest = ApiCredential.generate()
    credential = ApiCredential(
        sandbox=sandbox, name=name, client_id=client_id, secret_digest=digest, created_by=user, expires_at=expires_at
    )
    credential.full_clean()
    credential.save()
    return credential, secret


@transaction.atomic
def api_credential_revoke(*, user, credential: ApiCredential) -> ApiCredential:
    """Revoke a credential; its bearer tokens stop working on the very next request."""
    CAN_MANAGE_API_CREDENTIALS.require(user, credential.sandbox_id)
    if credential.revoked_at is None:
        credential.revoked_at = timezone.now()
        credential.save(update_fields=["revoked_at"])
    announce_tokens_revoked(credential.tokens.values_list("digest", flat=True))
    return credential
