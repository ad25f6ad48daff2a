"""`manage.py seed_demo`: idempotent, deterministic, and the demo roles grant what their names promise."""

import datetime
import io
import json

import pytest

from django.contrib.auth import authenticate, get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied
from django.core.management import call_command
from django.db.models import Q
from django.utils import timezone

from accounts import constants as perms
from accounts.models import Role, Sandbox, SandboxGroupObjectPermission
from accounts.permissions import has_sandbox_permission, permission_map
from personalization.audiences.models import Audience, AudienceMembership
from personalization.audiences.rules import field_types_for, rule_to_q
from personalization.datastreams.models import Datastream
from personalization.datastreams.services import datastream_create
from personalization.demo import demo_profile_id, person
from personalization.destinations.models import AttributeMapping, AudienceActivation, Destination
from personalization.destinations.services import activation_save
from personalization.governance.models import Label, MarketingAction, Policy
from personalization.profiles.models import Identity, IdentityNamespace, Profile, ProfileField

pytestmark = pytest.mark.django_db

PROFILES = 200
ACTIVE = AudienceMembership.ACTIVE_STATUSES
COUNTED_MODELS = (
    Sandbox,
    get_user_model(),
    Group,
    Role,
    SandboxGroupObjectPermission,
    Datastream,
    IdentityNamespace,
    ProfileField,
    Label,
    Label.fields.through,
    MarketingAction,
    Policy,
    Profile,
    Identity,
    Audience,
    AudienceMembership,
    Destination,
    Destination.marketing_actions.through,
    AudienceActivation,
    AttributeMapping,
)

# The demo's rules, written again as ORM filters: an independent check that the seeded memberships match them.
RULES_AS_SQL = {
    "Gold loyalty members": Q(attributes__loyalty__status="gold"),
    "German customers": Q(attributes__homeAddress__countryCode="DE"),
    "High-value members": Q(attributes__loyalty__points__gte=5000),
    "Marketing opt-ins in France or Germany": Q(attributes__consents__marketing=True)
    & Q(attributes__homeAddress__countryCode__in=["FR", "DE"]),
}


def seed_demo(*args, **options):
    out = io.StringIO()
    call_command("seed_demo", *args, stdout=out, **options)
    return out.getvalue()


def counts():
    return {model._meta.label: model.objects.count() for model in COUNTED_MODELS}


@pytest.fixture
def seeded():
    seed_demo("--profiles", str(PROFILES))
    return {sandbox.name: sandbox for sandbox in Sandbox.objects.all()}


def user(username):
    return get_user_model().objects.get(username=username)


def test_seeding_twice_changes_nothing():
    first_output = seed_demo("--profiles", str(PROFILES))
    after_first = counts()
    grants = set(SandboxGroupObjectPermission.objects.values_list("pk", flat=True))
    updated = {a.pk: a.updated_at for a in Audience.objects.all()}

    second_output = seed_demo("--profiles", str(PROFILES))

    assert "Demo data created" in first_output
    assert "nothing changed" in second_output
    assert counts() == after_first
    assert set(SandboxGroupObjectPermission.objects.values_list("pk", flat=True)) == grants
    assert {a.pk: a.updated_at for a in Audience.objects.all()} == updated


def test_the_first_seed_creates_the_documented_demo(seeded):
    prod, dev = seeded["prod"], seeded["dev"]
    assert (prod.title, prod.kind) == ("Production", Sandbox.Kind.PRODUCTION)
    assert (dev.title, dev.kind) == ("Development", Sandbox.Kind.DEVELOPMENT)
    assert Profile.objects.filter(sandbox=prod).count() == PROFILES
    assert Profile.objects.filter(sandbox=dev).count() == PROFILES // 10

    website = Datastream.objects.get(sandbox=prod, name="Website")
    assert website.accepts_personalization_destinations
    assert website.allowed_origins == ["http://127.0.0.1:8000", "http://localhost:8000"]
    analytics = Datastream.objects.get(sandbox=prod, name="Analytics only")
    assert not analytics.personalization_destinations

    destinations = {d.alias: d for d in Destination.objects.filter(datastream=website)}
    assert destinations["personalizationAlias"].name == "Personalization"
    assert destinations["personalizationAlias"].kind == Destination.Kind.CUSTOM_PERSONALIZATION
    assert not destinations["personalizationAlias"].mappings.exists()
    ad_server = destinations["adServerAlias"]
    assert (ad_server.name, ad_server.kind) == ("Ad server", Destination.Kind.WITH_ATTRIBUTES)
    assert {(m.source.path, m.target) for m in ad_server.mappings.select_related("source")} >= {
        ("homeAddress.countryCode", "countryCode"),
        ("loyalty.status", "membershipStatus"),
        ("person.name.firstName", "firstName"),
    }
    dated = AudienceActivation.objects.filter(destination__sandbox=prod).exclude(start_date=None, end_date=None)
    assert dated.exists()
    assert AudienceActivation.objects.filter(destination__sandbox=prod, start_date=None, end_date=None).exists()

    for sandbox in (prod, dev):
        assert set(IdentityNamespace.objects.filter(sandbox=sandbox).values_list("code", flat=True)) >= {
            "ECID",
            "Email",
            "CRMID",
        }
        fields = dict(ProfileField.objects.filter(sandbox=sandbox).values_list("path", "field_type"))
        assert fields["loyalty.points"] == ProfileField.FieldType.NUMBER
        assert fields["person.birthDate"] == ProfileField.FieldType.DATE
        assert fields["consents.marketing"] == ProfileField.FieldType.BOOLEAN
        assert {"homeAddress.countryCode", "loyalty.status", "person.name.firstName", "personalEmail.address"} <= set(
            fields
        )
        labels = set(Label.objects.filter(sandbox=sandbox).values_list("code", flat=True))
        assert labels >= {"C%d" % n for n in range(1, 13)} | {"I1", "I2", "S1", "S2"}
        actions = set(MarketingAction.objects.filter(sandbox=sandbox).values_list("name", flat=True))
        assert actions >= {"Onsite Personalization", "Onsite Advertising", "Export to Third Party", "Email Targeting"}


def test_every_profile_has_an_ecid_most_an_email_and_exactly_one_primary_identity(seeded):
    prod = seeded["prod"]
    identities = Identity.objects.filter(sandbox=prod).select_related("namespace")
    by_profile = {}
    for identity in identities:
        by_profile.setdefault(identity.profile_id, []).append(identity)

    assert len(by_profile) == PROFILES
    with_email = 0
    for profile_identities in by_profile.values():
        codes = {i.namespace.code: i for i in profile_identities}
        assert len(codes["ECID"].value) == 38 and codes["ECID"].value.isdigit()
        primary = [i for i in profile_identities if i.primary]
        assert len(primary) == 1
        assert primary[0].namespace.code == ("Email" if "Email" in codes else "ECID")
        with_email += "Email" in codes
    assert with_email > PROFILES * 0.7


def test_profiles_are_deterministic(seeded):
    profile = Profile.objects.get(pk=demo_profile_id("prod", 7))
    attributes, ecid, email = person("prod", 7)

    assert profile.attributes == attributes
    assert profile.identities.get(namespace__code="ECID").value == ecid
    assert person("prod", 7) == (attributes, ecid, email)
    assert person("dev", 7) != person("prod", 7)


def test_attributes_vary():
    people = [person("prod", index)[0] for index in range(300)]
    assert len({p["homeAddress"]["countryCode"] for p in people}) >= 6
    assert {p["loyalty"]["status"] for p in people if "loyalty" in p} == {"bronze", "silver", "gold", "platinum"}
    assert any("loyalty" not in p for p in people)
    assert {p["consents"]["marketing"] for p in people if "consents" in p} == {True, False}


def test_active_memberships_are_exactly_the_profiles_the_rule_selects(seeded):
    prod = seeded["prod"]
    for name, condition in RULES_AS_SQL.items():
        audience = Audience.objects.get(sandbox=prod, name=name)
        active = set(audience.memberships.filter(status__in=ACTIVE).values_list("profile_id", flat=True))
        selected = set(Profile.objects.filter(sandbox=prod).filter(condition).values_list("pk", flat=True))

        assert active, name
        assert active == selected, name
        assert audience.profile_count == len(active)
        exited = audience.memberships.filter(status=AudienceMembership.Status.EXITED)
        assert not exited.filter(profile_id__in=selected).exists()
        assert not exited.filter(exited_at=None).exists()


def test_every_seeded_segmentation_audience_agrees_with_its_rule(seeded):
    audiences = Audience.objects.filter(origin=Audience.Origin.SEGMENTATION, status=Audience.Status.PUBLISHED)
    assert audiences.count() >= 5
    for audience in audiences:
        active = set(audience.memberships.filter(status__in=ACTIVE).values_list("profile_id", flat=True))
        # The seed evaluates rules in memory; the batch (SQL) evaluator must select the same profiles.
        condition = rule_to_q(audience.rule, field_types=field_types_for(audience.sandbox_id))
        selected = Profile.objects.filter(sandbox=audience.sandbox).filter(condition).values_list("pk", flat=True)
        assert active == set(selected), audience.name


def test_custom_uploads_expire_in_30_days_and_carry_payload_columns(seeded):
    uploads = Audience.objects.filter(
        sandbox=seeded["prod"], origin=Audience.Origin.CUSTOM_UPLOAD, status=Audience.Status.PUBLISHED
    )
    assert uploads.count() == 2
    for audience in uploads:
        assert audience.rule is None
        ahead = audience.expires_at - timezone.now()
        assert datetime.timedelta(days=29) < ahead <= datetime.timedelta(days=30)
        memberships = list(audience.memberships.all())
        assert memberships and audience.profile_count == len(memberships)
        assert all(m.payload for m in memberships)


def test_draft_and_inactive_audiences_have_no_members_and_are_not_activated(seeded):
    for status in (Audience.Status.DRAFT, Audience.Status.INACTIVE):
        audience = Audience.objects.get(sandbox=seeded["prod"], status=status)
        assert not audience.memberships.exists()
        assert not audience.activations.exists()


def test_adding_profiles_later_extends_the_demo_without_duplicates():
    seed_demo("--profiles", "100")
    seed_demo("--profiles", "150")

    prod = Sandbox.objects.get(name="prod")
    assert Profile.objects.filter(sandbox=prod).count() == 150
    gold = Audience.objects.get(sandbox=prod, name="Gold loyalty members")
    active = set(gold.memberships.filter(status__in=ACTIVE).values_list("profile_id", flat=True))
    assert active == set(
        Profile.objects.filter(sandbox=prod, attributes__loyalty__status="gold").values_list("pk", flat=True)
    )
    assert gold.profile_count == len(active)


def test_admin_holds_every_permission_in_both_sandboxes_without_being_a_superuser(seeded):
    admin = user("admin")

    assert admin.is_staff and not admin.is_superuser
    for sandbox in seeded.values():
        assert permission_map(admin)[sandbox.pk] == perms.SANDBOX_PERMISSION_CODENAMES


def test_viewer_sees_production_but_cannot_change_anything(seeded):
    viewer, prod = user("viewer"), seeded["prod"]

    assert has_sandbox_permission(viewer, perms.VIEW_DESTINATIONS, prod)
    assert has_sandbox_permission(viewer, perms.VIEW_SEGMENTS, prod)
    manage = {code for code in perms.SANDBOX_PERMISSION_CODENAMES if not code.startswith("view_")}
    assert not manage & permission_map(viewer)[prod.pk]
    assert seeded["dev"].pk not in permission_map(viewer)
    with pytest.raises(PermissionDenied):
        datastream_create(user=viewer, sandbox=prod, name="Not allowed")


def test_marketer_can_activate_audiences_but_not_manage_destinations(seeded):
    marketer, prod = user("marketer"), seeded["prod"]
    granted = permission_map(marketer)[prod.pk]

    assert {perms.ACTIVATE_DESTINATIONS, perms.MANAGE_SEGMENTS, perms.IMPORT_AUDIENCE} <= granted
    assert {perms.VIEW_DESTINATIONS, perms.VIEW_PROFILES, perms.VIEW_SEGMENTS, perms.VIEW_DATASTREAMS} <= granted
    assert perms.MANAGE_DESTINATIONS not in granted
    assert perms.MANAGE_ROLES not in granted
    assert seeded["dev"].pk not in permission_map(marketer)

    destination = Destination.objects.get(sandbox=prod, alias="personalizationAlias")
    audience = Audience.objects.get(sandbox=prod, name="High-value members")
    activation_save(user=marketer, activation=AudienceActivation(destination=destination, audience=audience))
    assert destination.activations.filter(audience=audience).exists()


def test_passwords_are_hidden_without_debug_and_printed_on_request():
    output = seed_demo("--profiles", "0")

    assert "changepassword" in output
    assert "(password not shown)" in output


def test_print_passwords_shows_working_logins():
    output = seed_demo("--profiles", "0", "--print-passwords")

    for username in ("admin", "marketer", "viewer"):
        line = next(line for line in output.splitlines() if line.strip().startswith(username + " "))
        password = line.split()[1]
        assert authenticate(username=username, password=password) is not None


def test_with_debug_the_logins_are_remembered_and_printed_on_every_run(settings, tmp_path):
    settings.DEBUG = True
    settings.VAR_DIR = tmp_path

    first = seed_demo("--profiles", "0")
    second = seed_demo("--profiles", "0")

    stored = json.loads((tmp_path / "demo-logins.json").read_text())
    assert set(stored) == {"admin", "marketer", "viewer"}
    assert (tmp_path / "demo-logins.json").stat().st_mode & 0o077 == 0
    for username, password in stored.items():
        assert password in first and password in second
        assert authenticate(username=username, password=password) is not None
