"""
The single choke point for sandbox-scoped access: `restrict()` and everything built on it.

Permissions are guardian object permissions on `Sandbox` rows, granted through roles. A user's map
`{sandbox_id: codenames}` is read once (two queries) and cached on the user object for the request.
Objects in a sandbox where the user lacks the permission are invisible (404); a user who holds the
permission in no sandbox at all is refused outright (403).
"""

from collections import defaultdict

from rest_framework import permissions as drf_permissions

from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.db.models import Model, QuerySet

from accounts.constants import SANDBOX_PERMISSION_CODENAMES

__all__ = [
    "SandboxObjectPermission",
    "SandboxPermissionRequiredMixin",
    "has_sandbox_permission",
    "holds_anywhere",
    "permission_map",
    "require_sandbox_permission",
    "restrict",
    "sandbox_ids_with",
    "sandbox_of",
    "sandboxes_visible_to",
]

_CACHE_ATTR = "_sandbox_permission_map"


def _check_codename(codename: str) -> None:
    if codename not in SANDBOX_PERMISSION_CODENAMES:
        raise ValueError("Unknown sandbox permission %r" % codename)


def permission_map(user) -> dict[int, frozenset[str]]:
    """Return `{sandbox_id: codenames}` for `user`, read from guardian's tables once per user object."""
    cached = getattr(user, _CACHE_ATTR, None)
    if cached is not None:
        return cached
    from accounts.models import Sandbox, SandboxGroupObjectPermission, SandboxUserObjectPermission

    grants: dict[int, set[str]] = defaultdict(set)
    if user.is_authenticated and user.is_active:
        if user.is_superuser:
            for sandbox_id in Sandbox.objects.values_list("pk", flat=True):
                grants[sandbox_id] = set(SANDBOX_PERMISSION_CODENAMES)
        else:
            rows = SandboxUserObjectPermission.objects.filter(user=user).values_list(
                "content_object_id", "permission__codename"
            )
            group_rows = SandboxGroupObjectPermission.objects.filter(group__user=user).values_list(
                "content_object_id", "permission__codename"
            )
            for sandbox_id, codename in [*rows, *group_rows]:
                grants[sandbox_id].add(codename)
    result = {sandbox_id: frozenset(codes) for sandbox_id, codes in grants.items()}
    if user.is_authenticated:
        setattr(user, _CACHE_ATTR, result)
    return result


def forget_permissions(user) -> None:
    """Drop the cached permission map, e.g. after a role changed in the same request."""
    if hasattr(user, _CACHE_ATTR):
        delattr(user, _CACHE_ATTR)


def sandbox_ids_with(user, codename: str) -> frozenset[int]:
    """Return the ids of sandboxes where `user` holds `codename`."""
    _check_codename(codename)
    return frozenset(sid for sid, codes in permission_map(user).items() if codename in codes)


def holds_anywhere(user, codename: str) -> bool:
    return bool(sandbox_ids_with(user, codename))


def has_sandbox_permission(user, codename: str, sandbox) -> bool:
    """Return whether `user` holds `codename` on `sandbox` (a `Sandbox` or its id)."""
    _check_codename(codename)
    sandbox_id = getattr(sandbox, "pk", sandbox)
    return codename in permission_map(user).get(sandbox_id, frozenset())


def sandboxes_visible_to(user) -> QuerySet:
    """Return the sandboxes where `user` holds any permission (what the sandbox switcher lists)."""
    from accounts.models import Sandbox

    return Sandbox.objects.filter(pk__in=[sid for sid, codes in permission_map(user).items() if codes])


def _sandbox_lookup(model: type[Model]) -> str:
    lookup = getattr(model, "SANDBOX_LOOKUP", None)
    if lookup is None:
        raise TypeError("%s declares no SANDBOX_LOOKUP; it cannot be restricted" % model.__name__)
    return lookup


def sandbox_of(obj: Model):
    """Return the sandbox id an object belongs to, following its model's `SANDBOX_LOOKUP`."""
    lookup = _sandbox_lookup(type(obj))
    if lookup == "pk":
        return obj.pk
    target = obj
    parts = lookup.split("__")
    for part in parts[:-1]:
        target = getattr(target, part)
    return getattr(target, parts[-1] + "_id")


def restrict(queryset: QuerySet, user, codename: str) -> QuerySet:
    """
    Return the part of `queryset` that `user` may see under `codename`.

    Every list, detail, form choice and API queryset goes through here. The model names the path to
    its sandbox in `SANDBOX_LOOKUP`; multi-valued paths are filtered through a `pk__in` subquery so
    the result never holds duplicates.
    """
    sandbox_ids = sandbox_ids_with(user, codename)
    if not sandbox_ids:
        return queryset.none()
    lookup = _sandbox_lookup(queryset.model)
    if lookup == "pk":
        return queryset.filter(pk__in=sandbox_ids)
    if getattr(queryset.model, "SANDBOX_LOOKUP_MULTIVALUED", False):
        inner = queryset.model._default_manager.filter(**{lookup + "__in": sandbox_ids}).values("pk")
        return queryset.filter(pk__in=inner)
    return queryset.filter(**{lookup + "__in": sandbox_ids})


class SandboxPermissionRequiredMixin(LoginRequiredMixin):
    """
    Gate a class-based view on a sandbox permission and scope its queryset with `restrict()`.

    `permission_required` is the codename that lets a user see the objects; `change_permission`, when
    set, is additionally required on the object's (or current) sandbox for this view, giving 403 when
    the object is visible but the action is not allowed. `current_sandbox_only` scopes list views to
    the sandbox picked in the switcher.
    """

    permission_required: str = ""
    change_permission: str | None = None
    current_sandbox_only = False

    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        if not self.has_permission():
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)

    def has_permission(self) -> bool:
        user = self.request.user
        needed = [self.permission_required, *([self.change_permission] if self.change_permission else [])]
        # List and create pages act on the current sandbox; object pages check the object's own sandbox later.
        if self.current_sandbox_only or (self.change_permission and not self.kwargs):
            sandbox = getattr(self.request, "sandbox", None)
            return sandbox is not None and all(has_sandbox_permission(user, code, sandbox) for code in needed)
        return all(holds_anywhere(user, code) for code in needed)

    def get_queryset(self):
        queryset = restrict(super().get_queryset(), self.request.user, self.permission_required)
        if self.current_sandbox_only:
            queryset = queryset.filter(**{_sandbox_lookup(queryset.model): self.request.sandbox.pk})
        return queryset

    def get_object(self, queryset=None):
        obj = super().get_object(queryset)
        if self.change_permission and not has_sandbox_permission(
            self.request.user, self.change_permission, sandbox_of(obj)
        ):
            raise PermissionDenied
        return obj


class SandboxObjectPermission(drf_permissions.BasePermission):
    """
    DRF permission for sandboxed viewsets.

    The viewset declares `view_permission` and `change_permission` (codenames). Reads need the view
    permission somewhere, writes need the change permission somewhere; the object-level check then
    requires it on the object's own sandbox. The queryset itself is always `restrict()`-ed by the
    viewset, so objects elsewhere are 404.
    """

    def _codename(self, request, view) -> str:
        if request.method in drf_permissions.SAFE_METHODS:
            return view.view_permission
        return getattr(view, "change_permission", None) or view.view_permission

    def has_permission(self, request, view) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        return holds_anywhere(request.user, view.view_permission) and holds_anywhere(
            request.user, self._codename(request, view)
        )

    def has_object_permission(self, request, view, obj) -> bool:
        return has_sandbox_permission(request.user, self._codename(request, view), sandbox_of(obj))


def require_sandbox_permission(user, codename: str, sandbox) -> None:
    """Raise `PermissionDenied` unless `user` holds `codename` on `sandbox`; services call this before writing."""
    if user is None or not has_sandbox_permission(user, codename, sandbox):
        raise PermissionDenied("Your role does not grant %s in this sandbox." % codename)
