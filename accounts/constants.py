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
)
SANDBOX_PERMISSION_CODENAMES = frozenset(code for code, _label in SANDBOX_PERMISSIONS)
