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
VIEW_ALERTS_HISTORY = "view_alerts_history"
MANAGE_ALERTS = "manage_alerts"
RESOLVE_ALERTS = "resolve_alerts"
VIEW_POLICIES = "view_policies"
MANAGE_POLICIES = "manage_policies"
APPLY_LABELS = "apply_labels"
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
    (VIEW_ALERTS_HISTORY, _("View Alerts History")),
    (MANAGE_ALERTS, _("Manage Alerts")),
    (RESOLVE_ALERTS, _("Resolve Alerts")),
    (VIEW_POLICIES, _("View Data Usage Policies")),
    (MANAGE_POLICIES, _("Manage Data Usage Policies")),
    (APPLY_LABELS, _("Apply Data Usage Labels")),
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
    VIEW_ALERTS: _("Receive alerts in the bell and subscribe to a destination's alerts (with View Destinations)."),
    VIEW_ALERTS_HISTORY: _("See the Alerts page and its history of triggered and resolved alerts (with View Alerts)."),
    MANAGE_ALERTS: _(
        "Switch alert rules on and off; manage others' subscriptions, email recipients and webhooks (with View Alerts)."
    ),
    RESOLVE_ALERTS: _("Resolve a triggered alert from the Alerts page's history (with View Alerts)."),
    VIEW_POLICIES: _(
        "See data usage labels, marketing actions and policies, and which activations a policy would block."
    ),
    MANAGE_POLICIES: _(
        "Write, enable and delete policies; add custom labels and marketing actions (needs View Data Usage Policies)."
    ),
    APPLY_LABELS: _("Apply data usage labels to profile fields, one by one or in bulk (with View Profiles)."),
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
    (_("Alerts"), (VIEW_ALERTS, VIEW_ALERTS_HISTORY, MANAGE_ALERTS, RESOLVE_ALERTS)),
    (_("Data Governance"), (VIEW_POLICIES, MANAGE_POLICIES, APPLY_LABELS)),
    (_("Administration"), (MANAGE_ROLES, VIEW_AUDIT_LOG)),
)
