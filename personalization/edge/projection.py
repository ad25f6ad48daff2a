"""
Compute lookup answers from the database, in a fixed number of queries.

`load_config` reads a datastream and its enabled destinations with their activations and mappings
(1 query, whatever their number). `load_identity` reads the profile an identity points at with its
attributes and active memberships (1 query). `build_projection` combines them into the payloads an
authenticated and an unauthenticated caller get, and says until when that answer holds.
"""

import datetime
import json
import uuid

from django.db.models import Exists, F, JSONField, OuterRef, Subquery
from django.db.models.functions import JSONObject
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from personalization.audiences.models import Audience, AudienceMembership
from personalization.datastreams.models import Datastream
from personalization.db import JSONGroupArray
from personalization.destinations.models import AttributeMapping, AudienceActivation, Destination
from personalization.edge.records import Answer, DatastreamConfig
from personalization.governance.models import Policy
from personalization.governance.selectors import blocked_mapped_paths
from personalization.profiles.models import Identity, IdentityNamespace

__all__ = [
    "activation_window",
    "build_projection",
    "date_epoch",
    "load_config",
    "load_identity",
    "render_payload",
    "segment_state",
    "serving_plan",
]

_FAR_FUTURE = 10**11
SEGMENT_NAMESPACE = "ups"
# Per process: config version → (from, until, serving plan); see `serving_plan`.
_PLANS: dict[str, tuple] = {}
_PLANS_LIMIT = 256


def _uuid(value) -> str:
    return str(uuid.UUID(str(value)))


def _epoch(value) -> float | None:
    if value is None:
        return None
    moment = parse_datetime(value) if isinstance(value, str) else value
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment, datetime.UTC)
    return moment.timestamp()


def date_epoch(value, *, end: bool) -> float | None:
    """Return the UTC instant a schedule date starts (start) or stops (the day after an end date)."""
    if value is None:
        return None
    day = parse_date(value) if isinstance(value, str) else value
    if end:
        day += datetime.timedelta(days=1)
    return datetime.datetime.combine(day, datetime.time.min, tzinfo=datetime.UTC).timestamp()


def activation_window(*, audience, start, end, status, expires) -> dict:
    """Describe when an activated audience serves: epochs for its dates and expiry, and whether it is published."""
    return {
        "audience": _uuid(audience),
        "from": date_epoch(start, end=False),
        "until": date_epoch(end, end=True),
        "published": status == Audience.Status.PUBLISHED,
        "expires": _epoch(expires),
    }


def _json_list(value) -> list:
    if value is None:
        return []
    return json.loads(value) if isinstance(value, str) else value


_DATASTREAM_FIELDS = (
    "id",
    "sandbox_id",
    "enabled",
    "access_type",
    "edge_segmentation",
    "allowed_origins",
    "platform_enabled",
    "personalization_destinations",
)


def _json_rows(queryset, *, group_by: str, item) -> Subquery:
    """Return a correlated subquery that folds the rows of `queryset` into one JSON array per `group_by`."""
    return Subquery(
        queryset.order_by().values(group_by).annotate(items=JSONGroupArray(item)).values("items"),
        output_field=JSONField(),
    )


def load_config(datastream_id) -> DatastreamConfig | None:
    """
    Return the datastream's lookup configuration, or None when it does not exist.

    One query reads the enabled destinations with their datastream, activations, mappings and the
    sandbox's namespace codes folded in as JSON; a datastream with no enabled destination needs a second.
    With edge segmentation on, the rules of its edge audiences come too (`segmentation.load_edge_rules`).
    """
    namespaces = _json_rows(
        IdentityNamespace.objects.filter(sandbox=OuterRef("datastream__sandbox")), group_by="sandbox", item=F("code")
    )
    activations = _json_rows(
        AudienceActivation.objects.filter(destination=OuterRef("pk")),
        group_by="destination",
        item=JSONObject(
            audience="audience_id",
            start="start_date",
            end="end_date",
            status="audience__status",
            expires="audience__expires_at",
        ),
    )
    mappings = _json_rows(
        AttributeMapping.objects.filter(destination=OuterRef("pk")),
        group_by="destination",
        item=JSONObject(target="target", path="source__path"),
    )
    policed = Exists(Policy.objects.filter(sandbox=OuterRef("sandbox"), status=Policy.Status.ENABLED))
    rows = list(
        Destination.objects.filter(datastream_id=datastream_id, enabled=True)
        .order_by("created_at", "pk")
        .annotate(activation_rows=activations, mapping_rows=mappings, namespace_codes=namespaces, policed=policed)
        .values(
            "id",
            "alias",
            "kind",
            "activation_rows",
            "mapping_rows",
            "namespace_codes",
            "policed",
            *("datastream__%s" % name for name in _DATASTREAM_FIELDS),
        )
    )
    if rows:
        datastream = {name: rows[0]["datastream__%s" % name] for name in _DATASTREAM_FIELDS}
        namespace_codes = rows[0]["namespace_codes"]
    else:
        namespaces = _json_rows(
            IdentityNamespace.objects.filter(sandbox=OuterRef("sandbox")), group_by="sandbox", item=F("code")
        )
        datastream = (
            Datastream.objects.filter(pk=datastream_id)
            .annotate(namespace_codes=namespaces)
            .values("namespace_codes", *_DATASTREAM_FIELDS)
            .first()
        )
        if datastream is None:
            return None
        namespace_codes = datastream["namespace_codes"]
    serving = datastream["platform_enabled"] and datastream["personalization_destinations"]
    config = {
        "id": str(datastream["id"]),
        "sandbox": datastream["sandbox_id"],
        "enabled": datastream["enabled"],
        "authenticated_only": datastream["access_type"] == Datastream.AccessType.AUTHENTICATED,
        "edge_segmentation": datastream["edge_segmentation"],
        "origins": list(datastream["allowed_origins"] or []),
        "namespaces": sorted(_json_list(namespace_codes)),
        "destinations": [
            {
                "id": str(row["id"]),
                "alias": row["alias"],
                "attributes": row["kind"] == Destination.Kind.WITH_ATTRIBUTES,
                "activations": sorted(
                    (
                        activation_window(
                            audience=item["audience"],
                            start=item["start"],
                            end=item["end"],
                            status=item["status"],
                            expires=item["expires"],
                        )
                        for item in _json_list(row["activation_rows"])
                    ),
                    key=lambda activation: activation["audience"],
                ),
                "mappings": _allowed_mappings(row, datastream["sandbox_id"]),
            }
            for row in (rows if serving else [])
        ],
    }
    if config["edge_segmentation"]:
        # segmentation reads this module's serving plan, so it is imported on use here.
        from personalization.edge.segmentation import load_edge_rules

        activated = {activation["audience"] for item in config["destinations"] for activation in item["activations"]}
        config.update(load_edge_rules(config["sandbox"], activated))
    return config


def _allowed_mappings(row: dict, sandbox_id) -> list:
    """
    Return a destination's `[target, path]` mappings, less those an enabled data usage policy forbids sending for
    its marketing actions (read only in a sandbox with an enabled policy: a config load, never a warm lookup).
    """
    mappings = sorted([item["target"], item["path"]] for item in _json_list(row["mapping_rows"]))
    if not mappings or not row["policed"] or row["kind"] != Destination.Kind.WITH_ATTRIBUTES:
        return mappings
    blocked = blocked_mapped_paths(
        sandbox_id=sandbox_id,
        marketing_actions=Destination.marketing_actions.through.objects.filter(destination_id=row["id"]).values(
            "marketingaction_id"
        ),
        mapped_paths={path for _target, path in mappings},
    )
    return [mapping for mapping in mappings if mapping[1] not in blocked]


def load_identity(sandbox_id, namespace: str, value: str) -> dict | None:
    """Return `{"profile", "attributes", "audiences"}` for an identity, or None when nobody has it."""
    memberships = _json_rows(
        AudienceMembership.objects.filter(
            profile=OuterRef("profile_id"), status__in=AudienceMembership.ACTIVE_STATUSES
        ),
        group_by="profile",
        item=F("audience_id"),
    )
    row = (
        Identity.objects.filter(sandbox_id=sandbox_id, namespace__code=namespace, value=value)
        .annotate(audience_rows=memberships)
        .values("profile_id", "profile__attributes", "audience_rows")
        .first()
    )
    if row is None:
        return None
    attributes = row["profile__attributes"]
    if isinstance(attributes, str):
        attributes = json.loads(attributes)
    return {
        "profile": str(row["profile_id"]),
        "attributes": attributes or {},
        "audiences": sorted(_uuid(audience) for audience in _json_list(row["audience_rows"])),
    }


def linked_identities(sandbox_id, profile_id, namespaces: list[str]) -> list[tuple[str, str]]:
    """Return the profile's `(namespace, value)` identities in these namespaces, in the order they are named."""
    rows = Identity.objects.filter(
        sandbox_id=sandbox_id, profile_id=profile_id, namespace__code__in=namespaces
    ).values_list("namespace__code", "value")
    order = {code: index for index, code in enumerate(namespaces)}
    return sorted(rows, key=lambda row: (order[row[0]], row[1]))


def _lookup_path(attributes: dict, path: str):
    value = attributes
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def segment_state(activation: dict, at: float) -> str | None:
    """Return why an activation does not serve at `at` (None when it serves)."""
    if not activation["published"]:
        return "audience_inactive"
    if activation["expires"] is not None and activation["expires"] <= at:
        return "audience_expired"
    if activation["from"] is not None and at < activation["from"]:
        return "before_schedule"
    if activation["until"] is not None and at >= activation["until"]:
        return "after_schedule"
    return None


def serving_plan(config: dict, at: float) -> tuple[list, float]:
    """
    Return `[(destination, [audience ids served at `at`]) ...]` and the moment that list next changes.

    Computed once per config and schedule window, not once per visitor: the per-visitor work is then a
    set intersection, whatever the number of activations. Memoised per process by config version (equal
    versions are equal configs), outside the config, which holds only what every process shares.
    """
    version = config.get("version")
    memo = _PLANS.get(version) if version is not None else None
    if memo is not None and memo[0] <= at < memo[1]:
        return memo[2], memo[1]
    until = _FAR_FUTURE
    plan = []
    for destination in config["destinations"]:
        served = []
        for activation in destination["activations"]:
            for boundary in (activation["from"], activation["until"], activation["expires"]):
                if boundary is not None and boundary > at:
                    until = min(until, boundary)
            if segment_state(activation, at) is None:
                served.append(activation["audience"])
        plan.append((destination, served))
    if version is not None:
        if len(_PLANS) >= _PLANS_LIMIT:
            _PLANS.clear()
        _PLANS[version] = (at, until, plan)
    return plan, until


def build_projection(config: dict, identity: dict | None, at: float) -> Answer:
    """
    Return the answer for one identity on one datastream.

    `full` is the payload JSON for authenticated callers, `anon` the same without any `attributes`
    key, each as a tuple of pieces whose concatenation is the JSON (`render_payload`). `until` is the
    next moment a schedule or expiry boundary could change the answer.
    """
    if identity is None:
        return Answer(until=_FAR_FUTURE, profile=None, full=_EMPTY, anon=_EMPTY)
    plan, until = serving_plan(config, at)
    member_of = set(identity["audiences"])
    attributes = identity["attributes"]
    dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
    full, anon = [], []
    for index, (destination, served) in enumerate(plan):
        header = '%s{"type":"profileLookup","destinationId":%s,"alias":%s' % (
            "," if index else "[",
            dumps(destination["id"]),
            dumps(destination["alias"]),
        )
        segments = [{"id": audience, "namespace": SEGMENT_NAMESPACE} for audience in served if audience in member_of]
        tail = ',"segments":%s}' % dumps(segments)
        anon += (header, tail)
        full.append(header)
        if destination["attributes"]:
            values = {}
            for target, path in destination["mappings"]:
                value = _lookup_path(attributes, path)
                if value is not None and not isinstance(value, dict | list):
                    values[target] = {"value": value}
            full.append(',"attributes":%s' % dumps(values))
        full.append(tail)
    if not plan:
        return Answer(until=until, profile=identity["profile"], full=_EMPTY, anon=_EMPTY)
    anon[-1] += "]"
    full[-1] += "]"
    return Answer(until=until, profile=identity["profile"], full=tuple(full), anon=tuple(anon))


_EMPTY = ("[]",)


def render_payload(pieces: tuple) -> str:
    """Return the payload JSON an answer's pieces make up."""
    return "".join(pieces)
