"""Permission codenames granted on sandboxes, with the labels the product shows."""

from django.utils.translation import gettext_lazy as _

VIEW_DESTINATIONS = "view_destinations"
MANAGE_DESTINATIONS = "manage_destinations"
ACTIVATE_DESTINATIONS = "activate_destinations"
ACTIVATE_SEGMENTS_WITHOUT_MAPPING = "activate_segments_without_mapping"
VIEW_PROFILES = "view_profiles"
MANAGE_PROFILES = "manage_profiles"
VIEW_SEGMENTS = "view_segments"
MANAGE_SEGMENTS = "manage_segments"
IMPORT_AUDIENCE = "import_audience"
VIEW_DATASTREAMS = "view_datastreams"
MANAGE_DATASTREAMS = "manage_datastreams"
VIEW_ALERTS = "view_alerts"
MANAGE_ALERTS = "manage_alerts"
MANAGE_POLICIES = "manage_policies"
MANAGE_ROLES = "manage_roles"
VIEW_AUDIT_LOG = "view_audit_log"

SANDBOX_PERMISSIONS = (
    (VIEW_DESTINATIONS, _("View Destinations")),
    (MANAGE_DESTINATIONS, _("Manage Destinations")),
    (ACTIVATE_DESTINATIONS, _("Activate Destinations")),
    (ACTIVATE_SEGMENTS_WITHOUT_MAPPING, _("Activate Segments without Mapping")),
    (VIEW_PROFILES, _("View Profiles")),
    (MANAGE_PROFILES, _("Manage Profiles")),
    (VIEW_SEGMENTS, _("View Segments")),
    (MANAGE_SEGMENTS, _("Manage Segments")),
    (IMPORT_AUDIENCE, _("Import Audience")),
    (VIEW_DATASTREAMS, _("View Datastreams")),
    (MANAGE_DATASTREAMS, _("Manage Datastreams")),
    (VIEW_ALERTS, _("View Alerts")),
    (MANAGE_ALERTS, _("Manage Alerts")),
    (MANAGE_POLICIES, _("Manage Data Usage Policies")),
    (MANAGE_ROLES, _("Manage Roles")),
    (VIEW_AUDIT_LOG, _("View Audit Log")),
)
SANDBOX_PERMISSION_CODENAMES = frozenset(code for code, _label in SANDBOX_PERMISSIONS)

# What each permission allows, in one line: the roles page shows these, and
# tests/accounts/test_permission_descriptions.py checks each line against what the permission really opens.
PERMISSION_DESCRIPTIONS = {
    VIEW_DESTINATIONS: _("See destinations, the catalog, and each destination's activations and mapped attributes."),
    MANAGE_DESTINATIONS: _("Connect, change, switch off and delete destinations (needs View Destinations too)."),
    ACTIVATE_DESTINATIONS: _(
        "Activate audiences to a destination, mapping step included (with View Destinations, Profiles and Segments)."
    ),
    ACTIVATE_SEGMENTS_WITHOUT_MAPPING: _(
        "Activate audiences without the mapping step; cannot add or remove mapped attributes (with the same views)."
    ),
    VIEW_PROFILES: _(
        "See profiles, profile fields and identity namespaces; audience names on them need View Segments."
    ),
    MANAGE_PROFILES: _(
        "Write profile attributes through the API; with View Profiles, change profile fields and namespaces."
    ),
    VIEW_SEGMENTS: _("See audiences, their rules, sizes and CSV imports."),
    MANAGE_SEGMENTS: _("Create, change, publish, inactivate and delete audiences (needs View Segments too)."),
    IMPORT_AUDIENCE: _("Import an audience from a CSV file (needs View and Manage Segments too)."),
    VIEW_DATASTREAMS: _("See datastreams and the sandbox's API credentials."),
    MANAGE_DATASTREAMS: _(
        "Create, change and delete datastreams, create and revoke API credentials (needs View Datastreams too)."
    ),
    VIEW_ALERTS: _("Subscribe to a destination's alerts (with View Destinations)."),
    MANAGE_ALERTS: _("Reserved for alert rules and webhook endpoints: no page or API action uses it yet."),
    MANAGE_POLICIES: _("Reserved for data usage labels and policies: no page or API action uses it yet."),
    MANAGE_ROLES: _("Create, change and delete roles and users that reach this sandbox, and unlock sign-ins."),
    VIEW_AUDIT_LOG: _("Read the audit log: configuration changes in this sandbox, and sign-ins."),
}

# The product's categories, in the order the roles page shows them.
PERMISSION_CATEGORIES = (
    (
        _("Destinations"),
        (VIEW_DESTINATIONS, MANAGE_DESTINATIONS, ACTIVATE_DESTINATIONS, ACTIVATE_SEGMENTS_WITHOUT_MAPPING),
    ),
    (_("Profile Management"), (VIEW_PROFILES, MANAGE_PROFILES, VIEW_SEGMENTS, MANAGE_SEGMENTS, IMPORT_AUDIENCE)),
    (_("Data Collection"), (VIEW_DATASTREAMS, MANAGE_DATASTREAMS)),
    (_("Alerts"), (VIEW_ALERTS, MANAGE_ALERTS)),
    (_("Data Governance"), (MANAGE_POLICIES,)),
    (_("Administration"), (MANAGE_ROLES, VIEW_AUDIT_LOG)),
)
