from accounts import permissions as rules
from accounts.hints import MissingHere
from accounts.middleware import SANDBOX_ORDER
from accounts.permissions import permission_map, sandboxes_visible_to

# (label, url name, the rule its page declares), in menu order: a section shows when its page would open.
NAVIGATION = (
    ("Datastreams", "datastreams:datastream_list", rules.CAN_VIEW_DATASTREAMS),
    ("Profile fields", "profiles:profilefield_list", rules.CAN_VIEW_PROFILES),
    ("Profiles", "profiles:profile_list", rules.CAN_VIEW_PROFILES),
    ("Audiences", "audiences:audience_list", rules.CAN_VIEW_SEGMENTS),
    ("Destinations", "destinations:destination_list", rules.CAN_VIEW_DESTINATIONS),
    ("Lookup preview", "edge:lookup_preview", rules.CAN_PREVIEW_LOOKUPS),
    ("Alerts", "alerts:alerts", rules.CAN_OPEN_ALERTS),
    ("Data governance", "governance:policy_list", rules.CAN_VIEW_POLICIES),
    ("Roles", "accounts:role_list", rules.CAN_MANAGE_ROLES),
    ("Users", "accounts:user_list", rules.CAN_MANAGE_ROLES),
    ("Audit log", "accounts:audit_log", rules.CAN_VIEW_AUDIT_LOG),
)


class RulesHere:
    """`{% if allowed.CAN_IMPORT_AUDIENCES %}`: whether the user satisfies a named rule in the current sandbox."""

    def __init__(self, user, sandbox):
        self.user = user
        self.sandbox = sandbox

    def __getitem__(self, name: str) -> bool:
        return rules.RULES[name].allows(self.user, self.sandbox)


def navigation(request):
    """Give templates the sections and sandboxes the signed-in user may see."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    sandbox = getattr(request, "sandbox", None)
    sections = [
        {"label": label, "url_name": url_name} for label, url_name, rule in NAVIGATION if rule.allows(user, sandbox)
    ]
    granted = set()
    if sandbox is not None:
        granted = set(permission_map(user).get(sandbox.pk, ()))
    return {
        "nav_sections": sections,
        "nav_sandboxes": sandboxes_visible_to(user).order_by(*SANDBOX_ORDER),
        "current_sandbox": sandbox,
        "sandbox_perms": granted,
        "allowed": RulesHere(user, sandbox),
        "missing": MissingHere(user, sandbox),
    }
