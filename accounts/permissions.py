"""
The single choke point for sandbox-scoped access: named rules, `restrict()` and everything built on them.

Permissions are guardian object permissions on `Sandbox` rows, granted through roles. A user's map
`{sandbox_id: codenames}` is read once (two queries) and cached on the user object for the request.
Each capability is one `Rule` declared below (all of some codenames, plus one of others); views, API
actions, services and templates all ask the same rule. Objects in a sandbox where the user lacks the
rule's view part are invisible (404); a user who holds the rule in no sandbox at all is refused (403).
"""

from collections import defaultdict
from dataclasses import dataclass

from rest_framework import permissions as drf_permissions

from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.db.models import Model, QuerySet
from django.utils.translation import gettext_lazy as _

from accounts import constants as codes
from accounts.constants import SANDBOX_PERMISSION_CODENAMES

__all__ = [
    "PUBLIC",
    "RULES",
    "SIGNED_IN",
    "Rule",
    "RuleDeclaringViewSetMixin",
    "SandboxObjectPermission",
    "SandboxPermissionRequiredMixin",
    "as_rule",
    "declare_rule",
    "declared_rules",
    "has_sandbox_permission",
    "holds_anywhere",
    "in_sandbox",
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


@dataclass(frozen=True)
class Rule:
    """
    One capability: every codename of `all_of` and, when `any_of` is given, at least one of those, on one sandbox.

    A rule with no codenames asks only for a signed-in user (`SIGNED_IN`); `public` ones ask for nothing.
    """

    label: str
    all_of: tuple[str, ...] = ()
    any_of: tuple[str, ...] = ()
    public: bool = False
    superuser_only: bool = False  # operations that span every sandbox (the service's metrics)

    def __post_init__(self):
        for codename in (*self.all_of, *self.any_of):
            _check_codename(codename)

    def __str__(self):
        return str(self.label)

    @property
    def codenames(self) -> frozenset[str]:
        return frozenset((*self.all_of, *self.any_of))

    @property
    def is_sandboxed(self) -> bool:
        return bool(self.all_of or self.any_of)

    def satisfied_by(self, granted) -> bool:
        """Return whether a set of codenames held on one sandbox satisfies the rule."""
        return set(self.all_of) <= set(granted) and (not self.any_of or bool(set(self.any_of) & set(granted)))

    def sandbox_ids(self, user) -> frozenset[int]:
        """Return the ids of the sandboxes where `user` satisfies the rule."""
        return frozenset(sid for sid, granted in permission_map(user).items() if self.satisfied_by(granted))

    def allows(self, user, sandbox) -> bool:
        """Return whether `user` satisfies the rule on `sandbox` (a `Sandbox` or its id)."""
        if self.public:
            return True
        if user is None or not user.is_authenticated:
            return False
        if self.superuser_only:
            return user.is_superuser
        if not self.is_sandboxed:
            return True
        if sandbox is None:
            return False
        return self.satisfied_by(permission_map(user).get(getattr(sandbox, "pk", sandbox), frozenset()))

    def allows_anywhere(self, user) -> bool:
        if self.public:
            return True
        if user is None or not user.is_authenticated:
            return False
        if self.superuser_only:
            return user.is_superuser
        return not self.is_sandboxed or bool(self.sandbox_ids(user))

    def require(self, user, sandbox) -> None:
        """Raise `PermissionDenied` naming the rule unless `user` satisfies it on `sandbox`; services call this."""
        if not self.allows(user, sandbox):
            raise PermissionDenied(_("Your role does not allow this in this sandbox: %(rule)s.") % {"rule": self})

    def minimal_grants(self) -> list[frozenset[str]]:
        """Return each smallest set of codenames that satisfies the rule (one per `any_of` alternative)."""
        if not self.any_of:
            return [frozenset(self.all_of)]
        return [frozenset((*self.all_of, alternative)) for alternative in self.any_of]

    def grants_missing_one(self) -> list[frozenset[str]]:
        """Return the sets of codenames that fall short of the rule by exactly one requirement."""
        full = self.minimal_grants()[0]
        short = [full - {codename} for codename in self.all_of]
        if self.any_of:
            short.append(frozenset(self.all_of))
        return short


def as_rule(rule_or_codename) -> Rule:
    """Accept a `Rule` or a single codename (the rule of holding just that permission)."""
    if isinstance(rule_or_codename, Rule):
        return rule_or_codename
    _check_codename(rule_or_codename)
    return _SINGLE[rule_or_codename]


_SINGLE = {code: Rule(label, all_of=(code,)) for code, label in codes.SANDBOX_PERMISSIONS}

# Markers for pages that need no sandbox permission; the matrix test reads them like any other rule.
PUBLIC = Rule(_("Anyone, signed in or not"), public=True)
SIGNED_IN = Rule(_("Any signed-in user"))

#
# The capabilities (DESIGN §6, spec §11 "Permission sets per action"). Declared once; everything asks these.
#

# Datastreams and their server-to-server credentials
CAN_VIEW_DATASTREAMS = _SINGLE[codes.VIEW_DATASTREAMS]
CAN_MANAGE_DATASTREAMS = Rule(
    _("Create, change and delete datastreams"), all_of=(codes.VIEW_DATASTREAMS, codes.MANAGE_DATASTREAMS)
)
CAN_MANAGE_API_CREDENTIALS = Rule(
    _("Create and revoke API credentials"), all_of=(codes.VIEW_DATASTREAMS, codes.MANAGE_DATASTREAMS)
)
# Profiles
CAN_VIEW_PROFILES = _SINGLE[codes.VIEW_PROFILES]
CAN_MANAGE_PROFILES = Rule(
    _("Change profile fields, namespaces and profiles"), all_of=(codes.VIEW_PROFILES, codes.MANAGE_PROFILES)
)
CAN_INGEST_PROFILES = Rule(_("Write profile attributes through the API"), all_of=(codes.MANAGE_PROFILES,))
# Audiences
CAN_VIEW_SEGMENTS = _SINGLE[codes.VIEW_SEGMENTS]
CAN_MANAGE_SEGMENTS = Rule(
    _("Create, change, publish and delete audiences"), all_of=(codes.VIEW_SEGMENTS, codes.MANAGE_SEGMENTS)
)
CAN_IMPORT_AUDIENCES = Rule(
    _("Import an audience from a CSV file"),
    all_of=(codes.VIEW_SEGMENTS, codes.MANAGE_SEGMENTS, codes.IMPORT_AUDIENCE),
)
# Destinations
CAN_VIEW_DESTINATIONS = _SINGLE[codes.VIEW_DESTINATIONS]
CAN_CONNECT_DESTINATIONS = Rule(
    _("Connect, change and delete destinations"), all_of=(codes.VIEW_DESTINATIONS, codes.MANAGE_DESTINATIONS)
)
CAN_ACTIVATE = Rule(
    _("Activate audiences to a destination"),
    all_of=(codes.VIEW_DESTINATIONS, codes.VIEW_PROFILES, codes.VIEW_SEGMENTS),
    any_of=(codes.ACTIVATE_DESTINATIONS, codes.ACTIVATE_SEGMENTS_WITHOUT_MAPPING),
)
CAN_MAP_ATTRIBUTES = Rule(
    _("Add, change and remove mapped attributes"),
    all_of=(codes.VIEW_DESTINATIONS, codes.VIEW_PROFILES, codes.VIEW_SEGMENTS, codes.ACTIVATE_DESTINATIONS),
)
CAN_SUBSCRIBE_TO_ALERTS = Rule(
    _("Subscribe to a destination's alerts"), all_of=(codes.VIEW_DESTINATIONS, codes.VIEW_ALERTS)
)
CAN_PREVIEW_LOOKUPS = Rule(_("Preview what a lookup answers"), all_of=(codes.VIEW_PROFILES, codes.VIEW_DESTINATIONS))
# Alerts and governance
CAN_VIEW_ALERTS = _SINGLE[codes.VIEW_ALERTS]
CAN_MANAGE_ALERTS = Rule(
    _("Manage alert subscribers, recipients and webhooks"), all_of=(codes.VIEW_ALERTS, codes.MANAGE_ALERTS)
)
# The Alerts page needs View Alerts plus one of the other three alert permissions (spec §9.4).
CAN_OPEN_ALERTS = Rule(
    _("Open the Alerts page"),
    all_of=(codes.VIEW_ALERTS,),
    any_of=(codes.VIEW_ALERTS_HISTORY, codes.MANAGE_ALERTS, codes.RESOLVE_ALERTS),
)
CAN_VIEW_ALERTS_HISTORY = Rule(
    _("See the history of triggered alerts"), all_of=(codes.VIEW_ALERTS, codes.VIEW_ALERTS_HISTORY)
)
CAN_RESOLVE_ALERTS = Rule(_("Resolve triggered alerts"), all_of=(codes.VIEW_ALERTS, codes.RESOLVE_ALERTS))
CAN_VIEW_POLICIES = _SINGLE[codes.VIEW_POLICIES]
CAN_MANAGE_POLICIES = Rule(
    _("Write data usage policies, custom labels and marketing actions"),
    all_of=(codes.VIEW_POLICIES, codes.MANAGE_POLICIES),
)
CAN_APPLY_LABELS = Rule(
    _("Apply data usage labels to profile fields"), all_of=(codes.VIEW_PROFILES, codes.APPLY_LABELS)
)
# Administration
CAN_MANAGE_ROLES = _SINGLE[codes.MANAGE_ROLES]
# Operations: `/metrics` spans every sandbox (no sandbox data in it); scrapers use METRICS_TOKEN instead.
CAN_READ_METRICS = Rule(_("Read the service metrics"), superuser_only=True)
CAN_VIEW_AUDIT_LOG = _SINGLE[codes.VIEW_AUDIT_LOG]

RULES = {name: value for name, value in globals().items() if name.startswith("CAN_") and isinstance(value, Rule)}


def permission_map(user) -> dict[int, frozenset[str]]:
    """Return `{sandbox_id: codenames}` for `user`, read from guardian's tables once per user object."""
    cached = getattr(user, _CACHE_ATTR, None)
    if cached is not None:
        return cached
    # accounts.models imports this module (`in_sandbox`, `restrict`); the models are read on use.
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


def sandbox_ids_with(user, rule) -> frozenset[int]:
    """Return the ids of sandboxes where `user` satisfies `rule` (a `Rule` or a codename)."""
    return as_rule(rule).sandbox_ids(user)


def holds_anywhere(user, rule) -> bool:
    return as_rule(rule).allows_anywhere(user)


def has_sandbox_permission(user, rule, sandbox) -> bool:
    """Return whether `user` satisfies `rule` (a `Rule` or a codename) on `sandbox` (a `Sandbox` or its id)."""
    return as_rule(rule).allows(user, sandbox)


def sandboxes_visible_to(user) -> QuerySet:
    """Return the sandboxes where `user` holds any permission (what the sandbox switcher lists)."""
    # See `permission_map`: accounts.models imports this module.
    from accounts.models import Sandbox

    return Sandbox.objects.filter(pk__in=[sid for sid, granted in permission_map(user).items() if granted])


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


def restrict(queryset: QuerySet, user, rule) -> QuerySet:
    """
    Return the part of `queryset` that `user` may see under `rule` (a `Rule` or a codename).

    Every list, detail, form choice and API queryset goes through here. The model names the path to
    its sandbox in `SANDBOX_LOOKUP`; multi-valued paths are filtered through a `pk__in` subquery so
    the result never holds duplicates.
    """
    sandbox_ids = sandbox_ids_with(user, rule)
    if not sandbox_ids:
        return queryset.none()
    lookup = _sandbox_lookup(queryset.model)
    if lookup == "pk":
        return queryset.filter(pk__in=sandbox_ids)
    if getattr(queryset.model, "SANDBOX_LOOKUP_MULTIVALUED", False):
        inner = queryset.model._default_manager.filter(**{lookup + "__in": sandbox_ids}).values("pk")
        return queryset.filter(pk__in=inner)
    return queryset.filter(**{lookup + "__in": sandbox_ids})


def in_sandbox(queryset: QuerySet, sandbox) -> QuerySet:
    """Keep the rows of `queryset` that belong to `sandbox` (a `Sandbox`, its id, or None for none)."""
    if sandbox is None:
        return queryset.none()
    return queryset.filter(**{_sandbox_lookup(queryset.model): getattr(sandbox, "pk", sandbox)})


#
# Declaring what a view needs. The matrix test (tests/test_permission_matrix.py) reads these declarations.
#


def declare_rule(rule: Rule):
    """Mark a function view with the rule it needs (`PUBLIC` for the Edge Network endpoints)."""

    def mark(view):
        view.rule = rule
        return view

    return mark


def declared_rules(callback) -> dict[str, Rule]:
    """
    Return `{what: rule}` for a URL pattern's callback: one entry for a page, one per action for an API viewset.

    Raise `ImproperlyConfigured` when the view declares nothing: every view must say what it needs.
    """
    view_class = getattr(callback, "view_class", None) or getattr(callback, "cls", None)
    actions = getattr(callback, "actions", None)
    if view_class is not None and actions and hasattr(view_class, "rule_for"):
        return {action: view_class.rule_for(action) for action in dict.fromkeys(actions.values())}
    target = view_class or callback
    declared = getattr(target, "declared_rule", None)
    rule = declared() if callable(declared) else getattr(target, "rule", None)
    if not isinstance(rule, Rule):
        name = getattr(target, "__qualname__", repr(target))
        raise ImproperlyConfigured("%s declares no permission rule (set `rule`, or use @declare_rule)." % name)
    return {"view": rule}


class SandboxPermissionRequiredMixin(LoginRequiredMixin):
    """
    Gate a class-based view on its `rule` and scope its queryset with `restrict()`.

    `rule` is what the page needs; `visible_with` (default: the rule itself) is what makes its objects
    visible, so an object the user may see but not change answers 403, one they may not see 404. Pages
    without URL arguments (lists, create pages) and `current_sandbox_only` ones act on the sandbox picked
    in the switcher; object pages check the object's own sandbox.
    """

    rule: Rule | None = None
    visible_with: Rule | None = None
    current_sandbox_only = False

    @classmethod
    def declared_rule(cls) -> Rule:
        if cls.rule is None:
            raise ImproperlyConfigured("%s declares no permission rule." % cls.__qualname__)
        return as_rule(cls.rule)

    @classmethod
    def visibility_rule(cls) -> Rule:
        return as_rule(cls.visible_with) if cls.visible_with is not None else cls.declared_rule()

    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        if not self.has_permission():
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)

    def acts_on_current_sandbox(self) -> bool:
        return bool(self.current_sandbox_only or not self.kwargs)

    def has_permission(self) -> bool:
        user = self.request.user
        rule = self.declared_rule()
        if self.acts_on_current_sandbox():
            return rule.allows(user, getattr(self.request, "sandbox", None))
        return rule.allows_anywhere(user) and self.visibility_rule().allows_anywhere(user)

    def get_queryset(self):
        queryset = restrict(super().get_queryset(), self.request.user, self.visibility_rule())
        if self.current_sandbox_only:
            queryset = in_sandbox(queryset, self.request.sandbox)
        return queryset

    def get_object(self, queryset=None):
        obj = super().get_object(queryset)
        if not self.declared_rule().allows(self.request.user, sandbox_of(obj)):
            raise PermissionDenied
        return obj


class SandboxObjectPermission(drf_permissions.BasePermission):
    """
    DRF permission for sandboxed viewsets, asking the viewset's `rule_for(action)`.

    The viewset declares `read_rule` (reads; it also scopes the queryset, so objects elsewhere are 404),
    `write_rule` (create, update, delete) and `action_rules` for its extra actions. The request needs the
    action's rule in some sandbox; the object-level check then needs it on the object's own sandbox.
    """

    def _rule(self, request, view) -> Rule:
        return view.rule_for(getattr(view, "action", None), request.method)

    def has_permission(self, request, view) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        return self._rule(request, view).allows_anywhere(request.user)

    def has_object_permission(self, request, view, obj) -> bool:
        return self._rule(request, view).allows(request.user, sandbox_of(obj))


class RuleDeclaringViewSetMixin:
    """Give a viewset `rule_for(action)`: its `action_rules`, else `read_rule` for reads and `write_rule` for writes."""

    read_rule: Rule | None = None
    write_rule: Rule | None = None
    action_rules: dict[str, Rule] = {}

    READ_ACTIONS = frozenset({"list", "retrieve", "metadata"})

    @classmethod
    def rule_for(cls, action: str | None, method: str = "GET") -> Rule:
        if cls.read_rule is None:
            raise ImproperlyConfigured("%s declares no read_rule." % cls.__qualname__)
        if action in cls.action_rules:
            return as_rule(cls.action_rules[action])
        if action in cls.READ_ACTIONS or (action is None and method in drf_permissions.SAFE_METHODS):
            return as_rule(cls.read_rule)
        return as_rule(cls.write_rule or cls.read_rule)


def require_sandbox_permission(user, rule, sandbox) -> None:
    """Raise `PermissionDenied` unless `user` satisfies `rule` on `sandbox`; services call this before writing."""
    as_rule(rule).require(user, sandbox)
