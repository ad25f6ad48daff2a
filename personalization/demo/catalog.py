"""What the demo contains: users and roles, the schema and governance vocabulary, and per-sandbox content."""

import datetime
from dataclasses import dataclass, field

from accounts import constants as perms
from accounts.models import Sandbox
from personalization.audiences.models import Audience
from personalization.destinations.models import Destination
from personalization.governance.models import Policy
from personalization.profiles.models import ProfileField

# ---------------------------------------------------------------------------------------------------------------
# Who can do what.

VIEW_CODENAMES = [
    perms.VIEW_DESTINATIONS,
    perms.VIEW_PROFILES,
    perms.VIEW_SEGMENTS,
    perms.VIEW_DATASTREAMS,
    perms.VIEW_ALERTS,
]
ALL_CODENAMES = [code for code, _label in perms.SANDBOX_PERMISSIONS]


@dataclass(frozen=True)
class DemoUser:
    username: str
    role: str
    permissions: list
    sandboxes: tuple
    description: str
    is_staff: bool = False


DEMO_USERS = (
    DemoUser(
        "admin",
        "Admin",
        ALL_CODENAMES,
        ("prod", "dev"),
        "Every permission in both sandboxes, including Manage Roles.",
        is_staff=True,
    ),
    DemoUser(
        "marketer",
        "Marketer",
        [*VIEW_CODENAMES, perms.ACTIVATE_DESTINATIONS, perms.MANAGE_SEGMENTS, perms.IMPORT_AUDIENCE],
        ("prod",),
        "Sees everything in Production, builds and imports audiences and activates them to destinations.",
    ),
    DemoUser("viewer", "Viewer", VIEW_CODENAMES, ("prod",), "Read-only access to Production."),
)

# ---------------------------------------------------------------------------------------------------------------
# The schema and governance vocabulary every sandbox gets.

SANDBOXES = (
    ("prod", "Production", Sandbox.Kind.PRODUCTION),
    ("dev", "Development", Sandbox.Kind.DEVELOPMENT),
)

NAMESPACES = (
    ("ECID", "Experience Cloud ID", "The visitor id minted by the Web SDK; 38 digits."),
    ("Email", "Email", "A personal email address, lower-cased."),
    ("CRMID", "CRM ID", "The customer id in the CRM system."),
)

PROFILE_FIELDS = (
    ("homeAddress.countryCode", ProfileField.FieldType.STRING, "ISO 3166-1 alpha-2 country of the home address."),
    ("homeAddress.city", ProfileField.FieldType.STRING, "City of the home address."),
    ("loyalty.status", ProfileField.FieldType.STRING, "Loyalty tier: bronze, silver, gold or platinum."),
    ("loyalty.points", ProfileField.FieldType.NUMBER, "Loyalty points balance."),
    ("person.name.firstName", ProfileField.FieldType.STRING, "First name."),
    ("person.name.lastName", ProfileField.FieldType.STRING, "Last name."),
    ("personalEmail.address", ProfileField.FieldType.STRING, "Personal email address."),
    ("person.birthDate", ProfileField.FieldType.DATE, "Date of birth (YYYY-MM-DD)."),
    ("consents.marketing", ProfileField.FieldType.BOOLEAN, "Whether the person agreed to marketing."),
)

# The core vocabulary (labels, marketing actions) is every sandbox's (`governance.catalogue`); the demo labels a
# few fields and adds two policies of its own.
FIELD_LABELS = {
    "person.name.firstName": ("I1",),
    "person.name.lastName": ("I1",),
    "personalEmail.address": ("I1",),
    "person.birthDate": ("I2",),
    "homeAddress.city": ("I2", "S2"),
}

POLICIES = (
    (
        "No third-party export of C2 data",
        "Data labelled C2 must never leave the organisation.",
        "export-to-third-party",
        {"label": "C2"},
        Policy.Status.ENABLED,
    ),
    (
        "No onsite ads on directly identifiable data",
        "Proposed: keep names and email addresses out of ad targeting.",
        "onsite-advertising",
        {"operator": "AND", "operands": [{"label": "I1"}, {"label": "C6"}]},
        Policy.Status.DRAFT,
    ),
)

# ---------------------------------------------------------------------------------------------------------------
# Per-sandbox content: datastreams, audiences, destinations.

LOCAL_ORIGINS = ["http://127.0.0.1:8000", "http://localhost:8000"]


def _equals(path, value):
    return {"field": path, "op": "equals", "value": value}


GOLD = {"all": [_equals("loyalty.status", "gold")]}
GERMANY = {"all": [_equals("homeAddress.countryCode", "DE")]}
HIGH_VALUE = {"all": [{"field": "loyalty.points", "op": "gte", "value": 5000}]}
OPT_INS_FR_DE = {
    "all": [
        _equals("consents.marketing", True),
        {"any": [_equals("homeAddress.countryCode", "FR"), _equals("homeAddress.countryCode", "DE")]},
    ]
}


@dataclass(frozen=True)
class AudienceSpec:
    name: str
    description: str
    origin: str = Audience.Origin.SEGMENTATION
    status: str = Audience.Status.PUBLISHED
    evaluation: str = Audience.Evaluation.BATCH
    rule: dict | None = None
    # Custom uploads: which profiles the "file" held (a bucket of the profile id) and the payload columns.
    upload_bucket: tuple[int, int] | None = None
    payload_columns: dict = field(default_factory=dict)


@dataclass(frozen=True)
class ActivationSpec:
    audience: str
    start_in_days: int | None = None
    end_in_days: int | None = None


@dataclass(frozen=True)
class DestinationSpec:
    name: str
    kind: str
    alias: str
    datastream: str
    description: str
    marketing_actions: tuple
    activations: tuple
    mappings: tuple = ()


@dataclass(frozen=True)
class SandboxSpec:
    name: str
    profile_share: float
    datastreams: tuple
    audiences: tuple
    destinations: tuple


NEWSLETTER = AudienceSpec(
    "Newsletter subscribers",
    "Imported from the newsletter tool's CSV export; the columns travel with each member.",
    origin=Audience.Origin.CUSTOM_UPLOAD,
    upload_bucket=(7, 1),
    payload_columns={"subscriptionTier": ["weekly", "monthly"], "signupSource": ["footer", "checkout", "popup"]},
)
WEBINAR = AudienceSpec(
    "Webinar attendees",
    "Imported from the webinar platform's attendee list.",
    origin=Audience.Origin.CUSTOM_UPLOAD,
    upload_bucket=(11, 4),
    payload_columns={"webinarTopic": ["Getting started", "Loyalty deep dive", "Spring collection"]},
)

PROD = SandboxSpec(
    name="prod",
    profile_share=1.0,
    datastreams=(
        {
            "name": "Website",
            "description": "The storefront's Web SDK and server-side calls.",
            "platform_enabled": True,
            "personalization_destinations": True,
            "edge_segmentation": True,
            "allowed_origins": LOCAL_ORIGINS,
        },
        {
            "name": "Analytics only",
            "description": "Collects events for reporting; no personalization answers on it.",
            "platform_enabled": True,
            "personalization_destinations": False,
        },
    ),
    audiences=(
        AudienceSpec(
            "Gold loyalty members",
            "Members whose loyalty tier is gold.",
            evaluation=Audience.Evaluation.STREAMING,
            rule=GOLD,
        ),
        AudienceSpec(
            "German customers",
            "People whose home address is in Germany.",
            evaluation=Audience.Evaluation.EDGE,
            rule=GERMANY,
        ),
        AudienceSpec("High-value members", "At least 5,000 loyalty points.", rule=HIGH_VALUE),
        AudienceSpec(
            "Marketing opt-ins in France or Germany",
            "Consented to marketing and live in France or Germany.",
            rule=OPT_INS_FR_DE,
        ),
        NEWSLETTER,
        WEBINAR,
        AudienceSpec(
            "Platinum early access",
            "Work in progress: platinum members for the next launch.",
            status=Audience.Status.DRAFT,
            rule={"all": [_equals("loyalty.status", "platinum")]},
        ),
        AudienceSpec(
            "Spring sale 2024 shoppers",
            "Last year's campaign; kept for reference.",
            status=Audience.Status.INACTIVE,
            rule={"all": [_equals("homeAddress.countryCode", "ES")]},
        ),
    ),
    destinations=(
        DestinationSpec(
            name="Personalization",
            kind=Destination.Kind.CUSTOM_PERSONALIZATION,
            alias="personalizationAlias",
            datastream="Website",
            description="Audiences for the storefront's on-page personalization.",
            marketing_actions=("onsite-personalization",),
            activations=(
                ActivationSpec("Gold loyalty members"),
                ActivationSpec("German customers", start_in_days=-7),
                ActivationSpec("Newsletter subscribers", start_in_days=0, end_in_days=30),
            ),
        ),
        DestinationSpec(
            name="Ad server",
            kind=Destination.Kind.WITH_ATTRIBUTES,
            alias="adServerAlias",
            datastream="Website",
            description="The ad server asks server-to-server for audiences and a few attributes.",
            marketing_actions=("onsite-advertising",),
            activations=(
                ActivationSpec("High-value members"),
                ActivationSpec("Marketing opt-ins in France or Germany", start_in_days=7),
                ActivationSpec("Webinar attendees", start_in_days=-3, end_in_days=14),
            ),
            mappings=(
                ("homeAddress.countryCode", "countryCode"),
                ("loyalty.status", "membershipStatus"),
                ("loyalty.points", "loyaltyPoints"),
                ("person.name.firstName", "firstName"),
            ),
        ),
    ),
)

DEV = SandboxSpec(
    name="dev",
    profile_share=0.1,
    datastreams=(
        {
            "name": "Website (staging)",
            "description": "The staging storefront.",
            "platform_enabled": True,
            "personalization_destinations": True,
            "allowed_origins": LOCAL_ORIGINS,
        },
    ),
    audiences=(
        AudienceSpec("Gold loyalty members", "Members whose loyalty tier is gold.", rule=GOLD),
        AudienceSpec("German customers", "People whose home address is in Germany.", rule=GERMANY),
        AudienceSpec(
            "QA testers",
            "Test accounts uploaded by the QA team.",
            origin=Audience.Origin.CUSTOM_UPLOAD,
            upload_bucket=(5, 0),
            payload_columns={"testPlan": ["smoke", "regression"]},
        ),
    ),
    destinations=(
        DestinationSpec(
            name="Personalization",
            kind=Destination.Kind.CUSTOM_PERSONALIZATION,
            alias="personalizationAlias",
            datastream="Website (staging)",
            description="Staging twin of the production personalization destination.",
            marketing_actions=("onsite-personalization",),
            activations=(ActivationSpec("Gold loyalty members"), ActivationSpec("QA testers")),
        ),
    ),
)

CUSTOM_UPLOAD_LIFETIME = datetime.timedelta(days=30)
