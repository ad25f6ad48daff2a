from accounts import constants as perms
from accounts.middleware import SANDBOX_ORDER
from accounts.permissions import has_sandbox_permission, sandboxes_visible_to

# (label, url name, codenames that make the section visible in the current sandbox), in menu order.
NAVIGATION = (
    ("Datastreams", "datastreams:datastream_list", (perms.VIEW_DATASTREAMS,)),
    ("Profile fields", "profiles:profilefield_list", (perms.VIEW_PROFILES,)),
    ("Profiles", "profiles:profile_list", (perms.VIEW_PROFILES,)),
    ("Audiences", "audiences:audience_list", (perms.VIEW_SEGMENTS,)),
    ("Destinations", "destinations:destination_list", (perms.VIEW_DESTINATIONS,)),
    ("Lookup preview", "edge:lookup_preview", (perms.VIEW_PROFILES, perms.VIEW_DESTINATIONS)),
)


def navigation(request):
    """Give templates the sections and sandboxes the signed-in user may see."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    sandbox = getattr(request, "sandbox", None)
    sections = [
        {"label": label, "url_name": url_name}
        for label, url_name, codenames in NAVIGATION
        if sandbox is not None and all(has_sandbox_permission(user, code, sandbox) for code in codenames)
    ]
    granted = set()
    if sandbox is not None:
        from accounts.permissions import permission_map

        granted = set(permission_map(user).get(sandbox.pk, ()))
    return {
        "nav_sections": sections,
        "nav_sandboxes": sandboxes_visible_to(user).order_by(*SANDBOX_ORDER),
        "current_sandbox": sandbox,
        "sandbox_perms": granted,
    }
