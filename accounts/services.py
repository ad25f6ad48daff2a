"""Writes for accounts: roles and their guardian grants, users, personal tokens and API credentials."""

from contextlib import contextmanager

from axes.utils import reset
from guardian.shortcuts import assign_perm

from django.contrib.auth import get_user_model, password_validation
from django.contrib.auth.models import Group
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.utils.translation import gettext as _

from accounts.models import ApiCredential, PersonalToken, Role, Sandbox, SandboxGroupObjectPermission
from accounts.permissions import CAN_MANAGE_API_CREDENTIALS, CAN_MANAGE_ROLES, forget_permissions
from accounts.selectors import may_administer, sandboxes_with_role_managers
from personalization.changes import announce_tokens_revoked

__all__ = [
    "api_credential_create",
    "api_credential_revoke",
    "personal_token_create",
    "personal_token_revoke",
    "role_create",
    "role_delete",
    "role_sync_grants",
    "role_update",
    "user_create",
    "user_set_active",
    "user_unlock",
]


@contextmanager
def _keeping_role_managers():
    """
    Refuse, and roll back, a change that leaves a sandbox without any active holder of Manage Roles.

    Nobody may lock the admins out: the check compares the sandboxes with a role manager before and after.
    Use it inside a transaction so the refusal undoes what the change already wrote.
    """
    before = sandboxes_with_role_managers()
    yield
    orphaned = before - sandboxes_with_role_managers()
    if orphaned:
        names = ", ".join(str(sandbox) for sandbox in Sandbox.objects.filter(pk__in=orphaned))
        raise ValidationError(
            _(
                "Nobody would be left who may manage roles in %(sandboxes)s. "
                "Give Manage Roles there to another active user first."
            )
            % {"sandboxes": names},
            code="last_role_manager",
        )


def _require_administers(user, sandbox_ids) -> None:
    """Raise `PermissionDenied` unless `user` holds Manage Roles on each of `sandbox_ids`."""
    if user is None:
        return  # internal callers (seed data, the Django admin) act as the system
    missing = set(sandbox_ids) - CAN_MANAGE_ROLES.sandbox_ids(user)
    if missing:
        names = ", ".join(str(sandbox) for sandbox in Sandbox.objects.filter(pk__in=missing))
        raise PermissionDenied(
            _("You do not hold Manage Roles in %(sandboxes)s, which this change reaches.") % {"sandboxes": names}
        )


def _sandbox_ids(sandboxes) -> set[int]:
    return {getattr(sandbox, "pk", sandbox) for sandbox in sandboxes}


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
def role_create(*, name: str, permissions: list[str], users=(), sandboxes=(), description: str = "", user=None) -> Role:
    """
    Create a role with its own group and grant its permissions on its sandboxes.

    `user` is who asks (None for the system): they need Manage Roles on every sandbox the role reaches.
    """
    _require_administers(user, _sandbox_ids(sandboxes))
    if user is not None and not sandboxes:
        raise ValidationError({"sandboxes": _("Choose at least one sandbox the role applies to.")}, code="required")
    group, _created = Group.objects.get_or_create(name="role:%s" % name)
    role = Role(name=name, description=description, permissions=list(permissions), group=group)
    role.full_clean()
    role.save()
    _apply_members(role, users, sandboxes)
    role_sync_grants(role=role)
    return role


@transaction.atomic
def role_update(*, role: Role, users=None, sandboxes=None, user=None, **fields) -> Role:
    """
    Change a role's fields, members or sandboxes and re-grant its permissions; members see it on their next request.

    Refused when `user` lacks Manage Roles on a sandbox the role reaches before or after, or when the change
    would leave a sandbox without anyone who may manage roles.
    """
    reached = set(role.sandboxes.values_list("pk", flat=True))
    if sandboxes is not None:
        reached |= _sandbox_ids(sandboxes)
        if user is not None and not sandboxes:
            raise ValidationError({"sandboxes": _("Choose at least one sandbox the role applies to.")}, code="required")
    _require_administers(user, reached)
    with _keeping_role_managers():
        for name, value in fields.items():
            setattr(role, name, value)
        role.full_clean()
        role.save()
        if role.group.name != "role:%s" % role.name:
            role.group.name = "role:%s" % role.name
            role.group.save(update_fields=["name"])
        _apply_members(role, users, sandboxes)
        role_sync_grants(role=role)
    if user is not None:
        forget_permissions(user)
    return role


@transaction.atomic
def role_delete(*, role: Role, user=None) -> None:
    """Delete a role and its grants; refused when it holds the last Manage Roles of a sandbox."""
    _require_administers(user, role.sandboxes.values_list("pk", flat=True))
    group = role.group
    with _keeping_role_managers():
        SandboxGroupObjectPermission.objects.filter(group=group).delete()
        # Deleting through the queryset leaves `role` intact, so a refused deletion can still be shown.
        Role.objects.filter(pk=role.pk).delete()
        Group.objects.filter(pk=group.pk).delete()
    if user is not None:
        forget_permissions(user)


@transaction.atomic
def user_create(
    *,
    user,
    username: str,
    email: str = "",
    first_name: str = "",
    last_name: str = "",
    password: str | None = None,
    roles=(),
    invite_url_base: str | None = None,
):
    """
    Create a user who signs in with `password`, or, with none, invite them by email to choose one.

    The invitation is Django's password-reset link (a one-time token tied to the password and last login),
    sent through the configured email backend; the console backend prints it when embedded. The new user
    joins `roles`, each of which `user` must administer.
    """
    for role in roles:
        if not may_administer(user, role):
            raise PermissionDenied(_("You cannot add users to the role %(role)s.") % {"role": role})
    if password is None and not email:
        raise ValidationError({"email": _("An invitation needs an email address.")}, code="email_required")
    new_user = get_user_model()(username=username, email=email, first_name=first_name, last_name=last_name)
    if password is None:
        new_user.set_unusable_password()
    else:
        password_validation.validate_password(password, new_user)
        new_user.set_password(password)
    new_user.full_clean(exclude=["password"])
    new_user.save()
    for role in roles:
        role.users.add(new_user)
        role.group.user_set.add(new_user)
    if password is None:
        _send_invitation(new_user, invite_url_base or "")
    return new_user


def invitation_path(new_user) -> str:
    """Return the set-password path of `new_user`'s invitation (valid until used or PASSWORD_RESET_TIMEOUT)."""
    uid = urlsafe_base64_encode(force_bytes(new_user.pk))
    return reverse("accounts:password_set", args=[uid, default_token_generator.make_token(new_user)])


def _send_invitation(new_user, url_base: str) -> None:
    context = {"user": new_user, "url": url_base.rstrip("/") + invitation_path(new_user)}
    send_mail(
        subject=_("You are invited to Custom Personalization Connection"),
        message=render_to_string("accounts/invitation_email.txt", context),
        from_email=None,
        recipient_list=[new_user.email],
    )


@transaction.atomic
def user_set_active(*, user, target, active: bool):
    """
    Deactivate or reactivate `target`: a deactivated user cannot sign in and their sessions and tokens stop working.

    Refused for yourself, for users reaching a sandbox you do not manage, and for the last role manager of a sandbox.
    """
    if target.pk == user.pk:
        raise ValidationError(_("You cannot deactivate yourself; ask another administrator."), code="self")
    if not may_administer(user, target):
        raise PermissionDenied(_("This user has roles in sandboxes where you do not hold Manage Roles."))
    with _keeping_role_managers():
        target.is_active = active
        target.save(update_fields=["is_active"])
    return target


def user_unlock(*, user, target) -> int:
    """Lift a sign-in lockout of `target` (failed attempts are forgotten); return how many lockouts were lifted."""
    if not may_administer(user, target):
        raise PermissionDenied(_("This user has roles in sandboxes where you do not hold Manage Roles."))
    return reset(username=target.get_username())


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
