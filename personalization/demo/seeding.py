"""Create whatever part of the demo data is missing, through the domain services, as the demo admin."""

import datetime
import json
import os
import random
import secrets
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from accounts.models import Role, Sandbox
from accounts.permissions import forget_permissions
from accounts.services import role_create, role_update
from personalization import changes
from personalization.alerts.models import AlertType
from personalization.alerts.services import alert_subscriptions_set
from personalization.audiences.models import Audience, AudienceMembership
from personalization.audiences.rules import field_types_for, rule_matches
from personalization.audiences.services import audience_create, audience_update
from personalization.datastreams.models import Datastream
from personalization.datastreams.services import datastream_create
from personalization.demo.catalog import (
    CUSTOM_UPLOAD_LIFETIME,
    DEMO_USERS,
    DEV,
    FIELD_LABELS,
    NAMESPACES,
    POLICIES,
    PROD,
    PROFILE_FIELDS,
    SANDBOXES,
    AudienceSpec,
    SandboxSpec,
)
from personalization.demo.people import DEMO_NAMESPACE, ascii_slug, demo_profile_id, person
from personalization.destinations.models import AudienceActivation, Destination
from personalization.destinations.services import activation_save, attribute_mapping_create, destination_create
from personalization.edge.models import DataflowRun
from personalization.edge.runs import dataflow_runs_record
from personalization.governance.catalogue import catalogue_ensure
from personalization.governance.models import Label, MarketingAction, Policy
from personalization.profiles.models import Identity, IdentityNamespace, Profile, ProfileField
from personalization.profiles.services import identity_namespace_create, profile_field_create

DEFAULT_PROFILES = 3000
# Days of dataflow run history the seed accounts its memberships in (the runs page and its chart have a past).
SEEDED_RUN_DAYS = 14
BATCH_SIZE = 500

# ---------------------------------------------------------------------------------------------------------------
# Seeding.


@dataclass
class SeedResult:
    """What a seed run did: the number of rows it created per kind, and passwords of users it created."""

    created: dict = field(default_factory=dict)
    new_passwords: dict = field(default_factory=dict)
    summary: list = field(default_factory=list)

    def count(self, kind: str, n: int = 1) -> None:
        if n:
            self.created[kind] = self.created.get(kind, 0) + n

    @property
    def changed(self) -> bool:
        return bool(self.created)


def _clean_and_save(instance, result: SeedResult, kind: str):
    instance.full_clean()
    instance.save()
    result.count(kind)
    return instance


def _ensure_sandboxes(result: SeedResult) -> dict[str, Sandbox]:
    sandboxes = {}
    for name, title, kind in SANDBOXES:
        sandbox = Sandbox.objects.filter(name=name).first()
        if sandbox is None:
            sandbox = _clean_and_save(Sandbox(name=name, title=title, kind=kind), result, "sandboxes")
        sandboxes[name] = sandbox
    return sandboxes


def _ensure_users_and_roles(sandboxes: dict[str, Sandbox], result: SeedResult) -> dict:
    User = get_user_model()
    users = {}
    for spec in DEMO_USERS:
        user = User.objects.filter(username=spec.username).first()
        if user is None:
            password = secrets.token_urlsafe(12)
            user = User(username=spec.username, email="%s@example.com" % spec.username, is_staff=spec.is_staff)
            user.set_password(password)
            _clean_and_save(user, result, "users")
            result.new_passwords[spec.username] = password
        users[spec.username] = user

        role = Role.objects.filter(name=spec.role).first()
        if role is None:
            role_create(
                name=spec.role,
                description=spec.description,
                permissions=list(spec.permissions),
                users=[user],
                sandboxes=[sandboxes[name] for name in spec.sandboxes],
            )
            result.count("roles")
        elif not role.users.filter(pk=user.pk).exists():
            # The demo user was recreated after the role; put it back without touching the role's other grants.
            role_update(role=role, users=[*role.users.all(), user])
            result.count("role memberships")
        forget_permissions(user)
    return users


def _ensure_vocabulary(sandbox: Sandbox, actor, result: SeedResult) -> tuple[dict, dict, dict]:
    """Identity namespaces, profile fields, labels, marketing actions and policies of one sandbox."""
    namespaces = {ns.code: ns for ns in IdentityNamespace.objects.filter(sandbox=sandbox)}
    for code, name, description in NAMESPACES:
        if code not in namespaces:
            namespaces[code] = identity_namespace_create(
                user=actor, sandbox=sandbox, code=code, name=name, description=description
            )
            result.count("identity namespaces")

    fields = {f.path: f for f in ProfileField.objects.filter(sandbox=sandbox)}
    for path, field_type, description in PROFILE_FIELDS:
        if path not in fields:
            fields[path] = profile_field_create(
                user=actor, sandbox=sandbox, path=path, field_type=field_type, description=description
            )
            result.count("profile fields")

    # The core labels and marketing actions every sandbox has; the demo only labels fields and adds policies.
    result.count("core labels, marketing actions and policies", catalogue_ensure(sandbox))
    labels = {label.code: label for label in Label.objects.filter(sandbox=sandbox)}
    for path, codes in FIELD_LABELS.items():
        for code in codes:
            if not labels[code].fields.filter(pk=fields[path].pk).exists():
                labels[code].fields.add(fields[path])
                result.count("field labels")

    actions = {action.key: action for action in MarketingAction.objects.filter(sandbox=sandbox)}

    existing_policies = set(Policy.objects.filter(sandbox=sandbox).values_list("name", flat=True))
    for name, description, action_key, deny, status in POLICIES:
        if name not in existing_policies:
            policy = Policy(
                sandbox=sandbox,
                name=name,
                description=description,
                marketing_action=actions[action_key],
                deny=deny,
                status=status,
            )
            _clean_and_save(policy, result, "policies")
    return namespaces, fields, actions


def _ensure_datastreams(sandbox: Sandbox, spec: SandboxSpec, actor, result: SeedResult) -> dict:
    datastreams = {ds.name: ds for ds in Datastream.objects.filter(sandbox=sandbox)}
    for fields in spec.datastreams:
        if fields["name"] not in datastreams:
            # A stable id, so the demo's datastreamId is the same on every machine.
            stable_id = uuid.uuid5(DEMO_NAMESPACE, "%s:datastream:%s" % (sandbox.name, fields["name"]))
            datastreams[fields["name"]] = datastream_create(user=actor, sandbox=sandbox, id=stable_id, **fields)
            result.count("datastreams")
    return datastreams


def _bulk_insert(model, rows: list, result: SeedResult, kind: str) -> None:
    """Validate each row (field validators and the model's `clean()`), then insert in batches.

    Three checks are left to the database, which makes the same ones on insert, because each would cost a query
    per row: that foreign keys exist (the rows point at objects written or read in this transaction),
    uniqueness, and check constraints.
    """
    foreign_keys = [f.name for f in model._meta.concrete_fields if f.is_relation]
    for row in rows:
        row.full_clean(exclude=foreign_keys, validate_unique=False, validate_constraints=False)
    model.objects.bulk_create(rows, batch_size=BATCH_SIZE)
    result.count(kind, len(rows))


def _ensure_profiles(sandbox: Sandbox, count: int, namespaces: dict, result: SeedResult) -> None:
    existing = set(Profile.objects.filter(sandbox=sandbox).values_list("id", flat=True))
    for start in range(0, count, BATCH_SIZE):
        profiles, identities = [], []
        for index in range(start, min(start + BATCH_SIZE, count)):
            profile_id = demo_profile_id(sandbox.name, index)
            if profile_id in existing:
                continue
            attributes, ecid, email = person(sandbox.name, index)
            profile = Profile(id=profile_id, sandbox=sandbox, attributes=attributes)
            profiles.append(profile)
            identities.append(
                Identity(sandbox=sandbox, namespace=namespaces["ECID"], profile=profile, value=ecid, primary=not email)
            )
            if email:
                identities.append(
                    Identity(sandbox=sandbox, namespace=namespaces["Email"], profile=profile, value=email, primary=True)
                )
        if profiles:
            _bulk_insert(Profile, profiles, result, "profiles")
            _bulk_insert(Identity, identities, result, "identities")
            # Bulk inserts send no model signals: tell the edge store which identities appeared.
            changes.announce_identities_changed(sandbox.pk, [(i.namespace.code, i.value) for i in identities])


def _bucket(profile_id: uuid.UUID, modulus: int) -> int:
    return profile_id.int % modulus


def _desired_memberships(spec: AudienceSpec, profiles: list, field_types: dict, now) -> dict:
    """Map profile → membership fields for an audience, derived from the profiles' attributes."""
    desired = {}
    for profile in profiles:
        profile_id, attributes = profile.pk, profile.attributes
        rng = random.Random("%s:%s" % (spec.name, profile_id))
        qualified_at = now - datetime.timedelta(days=rng.randrange(0, 90), minutes=rng.randrange(0, 1440))
        status = AudienceMembership.Status.REALIZED if rng.random() < 0.1 else AudienceMembership.Status.EXISTING
        if spec.origin == Audience.Origin.CUSTOM_UPLOAD:
            modulus, remainder = spec.upload_bucket
            if _bucket(profile_id, modulus) != remainder:
                continue
            payload = {column: rng.choice(values) for column, values in spec.payload_columns.items()}
            desired[profile] = {"status": status, "qualified_at": qualified_at, "payload": payload}
        elif rule_matches(spec.rule, attributes=attributes, field_types=field_types, today=now.date()):
            desired[profile] = {"status": status, "qualified_at": qualified_at}
        elif _bucket(profile_id, 40) == 0:
            # A few people qualified once and left since: exited memberships, which no lookup returns.
            desired[profile] = {
                "status": AudienceMembership.Status.EXITED,
                "qualified_at": qualified_at - datetime.timedelta(days=30),
                "exited_at": qualified_at,
            }
    return desired


def _ensure_audiences(sandbox: Sandbox, spec: SandboxSpec, actor, result: SeedResult) -> dict:
    now = timezone.now()
    audiences = {a.name: a for a in Audience.objects.filter(sandbox=sandbox)}
    profiles = list(Profile.objects.filter(sandbox=sandbox).order_by("id").only("id", "sandbox", "attributes"))
    field_types = field_types_for(sandbox.pk)
    for audience_spec in spec.audiences:
        audience = audiences.get(audience_spec.name)
        desired = {}
        if audience_spec.status == Audience.Status.PUBLISHED:
            desired = _desired_memberships(audience_spec, profiles, field_types, now)
        active = sum(1 for fields in desired.values() if fields["status"] != AudienceMembership.Status.EXITED)
        if audience is None:
            is_upload = audience_spec.origin == Audience.Origin.CUSTOM_UPLOAD
            audience = audience_create(
                user=actor,
                sandbox=sandbox,
                name=audience_spec.name,
                description=audience_spec.description,
                origin=audience_spec.origin,
                status=audience_spec.status,
                evaluation=audience_spec.evaluation,
                rule=audience_spec.rule,
                external_id=("csv-%s" % ascii_slug(audience_spec.name)) if is_upload else "",
                expires_at=now + CUSTOM_UPLOAD_LIFETIME if is_upload else None,
                profile_count=active,
                last_evaluated_at=now if desired else None,
            )
            audiences[audience.name] = audience
            result.count("audiences")
        if not desired:
            continue
        have = set(audience.memberships.values_list("profile_id", flat=True))
        missing = [
            AudienceMembership(audience=audience, profile=profile, **fields)
            for profile, fields in desired.items()
            if profile.pk not in have
        ]
        if missing:
            _bulk_insert(AudienceMembership, missing, result, "memberships")
            changes.announce_profiles_changed(sandbox.pk, [membership.profile_id for membership in missing])
        if audience.profile_count != active:
            audience_update(user=actor, audience=audience, profile_count=active, last_evaluated_at=now)
    return audiences


def _ensure_destinations(
    sandbox: Sandbox, spec: SandboxSpec, actor, datastreams, audiences, fields, actions, result: SeedResult
) -> None:
    today = timezone.localdate()

    def day(offset):
        return None if offset is None else today + datetime.timedelta(days=offset)

    for dest_spec in spec.destinations:
        datastream = datastreams[dest_spec.datastream]
        destination = Destination.objects.filter(datastream=datastream, alias=dest_spec.alias).first()
        if destination is None:
            destination = destination_create(
                user=actor,
                sandbox=sandbox,
                kind=dest_spec.kind,
                name=dest_spec.name,
                description=dest_spec.description,
                alias=dest_spec.alias,
                datastream=datastream,
                marketing_actions=[actions[key] for key in dest_spec.marketing_actions],
            )
            # As if the admin ticked every alert in the connect wizard: the demo's runs reach their bell.
            alert_subscriptions_set(user=actor, destination=destination, alert_types=AlertType.values)
            result.count("destinations")
        activated = set(destination.activations.values_list("audience__name", flat=True))
        for activation in dest_spec.activations:
            if activation.audience not in activated:
                activation_save(
                    user=actor,
                    activation=AudienceActivation(destination=destination, audience=audiences[activation.audience]),
                    start_date=day(activation.start_in_days),
                    end_date=day(activation.end_in_days),
                )
                result.count("activations")
        mapped = set(destination.mappings.values_list("target", flat=True))
        for path, target in dest_spec.mappings:
            if target not in mapped:
                attribute_mapping_create(user=actor, destination=destination, source=fields[path], target=target)
                result.count("attribute mappings")


def _summarize(sandbox: Sandbox) -> list[str]:
    counts = {
        "profiles": Profile.objects.filter(sandbox=sandbox).count(),
        "identities": Identity.objects.filter(sandbox=sandbox).count(),
        "audiences": Audience.objects.filter(sandbox=sandbox).count(),
        "memberships": AudienceMembership.objects.filter(audience__sandbox=sandbox).count(),
        "destinations": Destination.objects.filter(sandbox=sandbox).count(),
    }
    lines = ["%s (%s): %s" % (sandbox.title, sandbox.name, ", ".join("%s %d" % item for item in counts.items()))]
    for datastream in Datastream.objects.filter(sandbox=sandbox, personalization_destinations=True):
        lines.append("  datastream %r: id %s" % (datastream.name, datastream.pk))
    gold = AudienceMembership.objects.filter(
        audience__sandbox=sandbox,
        audience__name="Gold loyalty members",
        status__in=AudienceMembership.ACTIVE_STATUSES,
    ).values_list("profile_id", flat=True)
    ecid = (
        Identity.objects.filter(sandbox=sandbox, namespace__code="ECID", profile_id__in=gold)
        .order_by("value")
        .values_list("value", flat=True)
        .first()
    )
    if ecid:
        lines.append("  a visitor in 'Gold loyalty members': ECID %s" % ecid)
    return lines


def _record_seeded_runs(audiences, now) -> None:
    """
    Account the seeded memberships as the daily batch runs (at 02:00 UTC) of the last two weeks would have
    delivered them: each run received the profiles that entered or left an audience in the day before it.
    """
    last = now.replace(hour=2, minute=0, second=0, microsecond=0)
    if last > now:
        last -= datetime.timedelta(days=1)
    for days_ago in range(SEEDED_RUN_DAYS - 1, -1, -1):
        started = last - datetime.timedelta(days=days_ago)
        for index, audience in enumerate(audiences):
            dataflow_runs_record(
                audience_id=audience.pk,
                kind=DataflowRun.Kind.BATCH,
                source="demo-seed:%s" % started.date().isoformat(),
                moved_since=started - datetime.timedelta(days=1),
                started_at=started,
                finished_at=started + datetime.timedelta(seconds=20 + 7 * index),
            )


def seed(*, profiles: int = DEFAULT_PROFILES) -> SeedResult:
    """Create whatever part of the demo data is missing; return what was created. Safe to run repeatedly."""
    result = SeedResult()
    with transaction.atomic():
        sandboxes = _ensure_sandboxes(result)
        users = _ensure_users_and_roles(sandboxes, result)
        actor = users["admin"]
        for spec in (PROD, DEV):
            sandbox = sandboxes[spec.name]
            namespaces, fields, actions = _ensure_vocabulary(sandbox, actor, result)
            datastreams = _ensure_datastreams(sandbox, spec, actor, result)
            _ensure_profiles(sandbox, int(profiles * spec.profile_share), namespaces, result)
            audiences = _ensure_audiences(sandbox, spec, actor, result)
            _ensure_destinations(sandbox, spec, actor, datastreams, audiences, fields, actions, result)
            _record_seeded_runs(audiences.values(), timezone.now())
    for spec in (PROD, DEV):
        result.summary.extend(_summarize(sandboxes[spec.name]))
    return result


# ---------------------------------------------------------------------------------------------------------------
# Demo logins in the embedded mode.


def remember_logins(path: Path, passwords: dict) -> None:
    """Keep generated demo passwords in a local file (owner-only), so later `make run`s can print them again."""
    known = recall_logins(path)
    known.update(passwords)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(known, handle, indent=2, sort_keys=True)


def recall_logins(path: Path) -> dict:
    """Return the remembered `{username: password}` pairs that still work."""
    try:
        stored = json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return {}
    User = get_user_model()
    users = {user.username: user for user in User.objects.filter(username__in=list(stored))}
    return {
        name: password
        for name, password in stored.items()
        if name in users and isinstance(password, str) and users[name].check_password(password)
    }
