"""Reads for the access-administration pages: roles, users and who holds what where."""

from collections import defaultdict

from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet

from accounts.constants import MANAGE_ROLES, PERMISSION_CATEGORIES, PERMISSION_DESCRIPTIONS, SANDBOX_PERMISSIONS
from accounts.models import AuditEntry, Role, Sandbox, SandboxGroupObjectPermission, SandboxUserObjectPermission
from accounts.permissions import CAN_MANAGE_ROLES, CAN_VIEW_AUDIT_LOG, restrict

__all__ = [
    "audit_entries",
    "effective_permissions",
    "managed_sandbox_ids",
    "may_administer",
    "permission_catalog",
    "role_list",
    "roles_administered_by",
    "sandboxes_with_role_managers",
    "user_list",
]


def managed_sandbox_ids(user) -> frozenset[int]:
    """Return the sandboxes where `user` holds Manage Roles."""
    return CAN_MANAGE_ROLES.sandbox_ids(user)


def role_list(*, user) -> QuerySet:
    """Return the roles reaching a sandbox where `user` holds Manage Roles, with their members and sandboxes."""
    return restrict(Role.objects.all(), user, CAN_MANAGE_ROLES).prefetch_related("sandboxes", "users")


def roles_administered_by(user) -> QuerySet:
    """Return the roles `user` may change: every sandbox they reach is one where `user` holds Manage Roles."""
    managed = managed_sandbox_ids(user)
    return role_list(user=user).exclude(sandboxes__in=Sandbox.objects.exclude(pk__in=managed))


def _sandboxes_reached(target) -> set[int]:
    """Return the sandboxes where `target` (a role or a user) grants or holds anything."""
    if isinstance(target, Role):
        return set(target.sandboxes.values_list("pk", flat=True))
    return set(Sandbox.objects.filter(roles__users=target).values_list("pk", flat=True))


def may_administer(user, target) -> bool:
    """Return whether `user` holds Manage Roles on every sandbox `target` (a role or a user) reaches."""
    return _sandboxes_reached(target) <= managed_sandbox_ids(user)


def user_list(*, user) -> QuerySet:
    """
    Return the users a role manager sees: members of a role on a sandbox they manage, and users in no role yet.

    Users in no role are shown to every manager, so a user who was just created can be given a role.
    """
    managed = managed_sandbox_ids(user)
    if not managed:
        return get_user_model().objects.none()
    reachable = Q(roles__sandboxes__in=managed) | Q(roles__isnull=True)
    ids = get_user_model().objects.filter(reachable).values("pk")
    return get_user_model().objects.filter(pk__in=ids).prefetch_related("roles").order_by("username")


def effective_permissions(*, target, sandbox_ids) -> list[dict]:
    """
    Return, for each sandbox in `sandbox_ids`, the permissions `target` holds there and the roles granting each.

    `[{"sandbox": Sandbox, "permissions": [{"codename", "label", "roles": [Role, ...]}, ...]}, ...]`
    """
    granted: dict[int, dict[str, list[Role]]] = defaultdict(lambda: defaultdict(list))
    for role in target.roles.prefetch_related("sandboxes"):
        for sandbox in role.sandboxes.all():
            if sandbox.pk in sandbox_ids:
                for codename in role.permissions:
                    granted[sandbox.pk][codename].append(role)
    labels = dict(SANDBOX_PERMISSIONS)
    rows = []
    for sandbox in Sandbox.objects.filter(pk__in=sandbox_ids).order_by("-kind", "name"):
        held = granted.get(sandbox.pk, {})
        rows.append(
            {
                "sandbox": sandbox,
                "permissions": [
                    {"codename": code, "label": labels[code], "roles": held[code]}
                    for code, _label in SANDBOX_PERMISSIONS
                    if code in held
                ],
            }
        )
    return rows


def permission_catalog() -> list[dict]:
    """Return the permissions grouped by the product's categories, each with its label and one-line description."""
    labels = dict(SANDBOX_PERMISSIONS)
    return [
        {
            "category": category,
            "permissions": [
                {"codename": code, "label": labels[code], "description": PERMISSION_DESCRIPTIONS[code]}
                for code in codenames
            ],
        }
        for category, codenames in PERMISSION_CATEGORIES
    ]


def sandboxes_with_role_managers() -> set[int]:
    """Return the sandboxes where at least one active user holds Manage Roles (through a role or directly)."""
    through_roles = SandboxGroupObjectPermission.objects.filter(
        permission__codename=MANAGE_ROLES, group__user__is_active=True
    ).values_list("content_object_id", flat=True)
    direct = SandboxUserObjectPermission.objects.filter(
        permission__codename=MANAGE_ROLES, user__is_active=True
    ).values_list("content_object_id", flat=True)
    return set(through_roles) | set(direct)


def audit_entries(*, user) -> QuerySet:
    """
    Return the audit log entries `user` may read: those of sandboxes where they hold View Audit Log, and the
    organisation-wide ones (sign-ins, users, roles, personal tokens) when they hold it in any sandbox.
    """
    sandbox_ids = CAN_VIEW_AUDIT_LOG.sandbox_ids(user)
    if not sandbox_ids:
        return AuditEntry.objects.none()
    return (
        AuditEntry.objects.filter(Q(sandbox__in=sandbox_ids) | Q(sandbox__isnull=True))
        .select_related("actor", "content_type", "sandbox")
        .order_by("-timestamp", "-pk")
    )
