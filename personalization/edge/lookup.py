"""
The profile lookup: from an Edge Network request to the `activation:pull` answer.

The request flow, one module per step:

1. middleware (`middleware.EdgeFastPathMiddleware`): `/ee/…` and `/oauth/token` go straight to their views,
   before sessions, auth and CSRF.
2. view (`views._interact`): parse the query, the body and the credential headers into a `LookupRequest`;
   turn an `EdgeError` into its RFC 7807 problem; render the answer around the payload.
3. lookup (`interact`, here): pick the visitor, count the request (`ratelimit`), authenticate the caller,
   read the config and the visitor's profile facts, evaluate edge audiences (`segmentation`), compose.
4. store (`store.EdgeStore.fetch`): config version, profile facts and bearer token from this process's
   mirror (`mirror`) or Redis in one round trip; `None` when Redis is unavailable (`breaker`), and then
   everything comes from PostgreSQL.
5. projection (`projection.load_config`, `load_identity`: one query each on a miss; `build_projection`):
   the payload for these facts under this config, memoised on the facts per config version.
6. render (`views._interact`): the payload JSON is spliced into the response as bytes.

A warm request costs no SQL and, with the mirror, no network round trip, on datastreams with edge segmentation
too: their edge audiences are evaluated in memory on the profile facts plus the request's event
(`segmentation.qualify`), and PostgreSQL is written only when a visitor newly qualifies. Misses are filled from
the database in a bounded number of queries (`projection.load_config`: 1, 2-3 with edge audiences;
`projection.load_identity`: 1).
"""

import base64
import json
import random
import re
import secrets
import time
from dataclasses import dataclass, field

from django.conf import settings

from accounts.models import AccessToken
from personalization.audiences.evaluation import edge_qualify
from personalization.edge import metrics, projection, segmentation
from personalization.edge.credentials import token_info_from_database
from personalization.edge.errors import EdgeError, warning
from personalization.edge.records import DatastreamConfig, LookupResult, TokenInfo
from personalization.edge.store import NOT_READ, Facts, decode_facts, encode_facts, identity_key, store
from personalization.profiles.identities import IDENTITY_FORMATS, identity_checker, identity_problem

__all__ = [
    "LookupRequest",
    "Visitor",
    "datastream_config",
    "identity_cookie_name",
    "identity_cookie_value",
    "interact",
    "parse_body",
    "resolve_visitor",
]

CONFIG_TTL = 3600
FACTS_TTL = 3600
ECID = "ECID"
CORE = "CORE"  # the Adobe identity service's third-party id, which the Web SDK asks for on every call
_ECID_PATTERN = re.compile(r"^\d{38}$")
# Neither can be a key: PostgreSQL text refuses NUL, UTF-8 (the key's hash) refuses a lone surrogate.
_UNSAFE_CHARACTER = re.compile(r"[\x00\ud800-\udfff]")
_REQUEST_ID_PATTERN = re.compile(r"[A-Za-z0-9._:-]{1,128}")
IDENTITY_COOKIE_MAX_AGE = 34128000
_JSON = json.JSONDecoder()
_NOBODY = Facts("", None, frozenset(), {})


@dataclass
class Visitor:
    """Who the request is about: the primary identity, and whether its ECID was minted just now."""

    namespace: str
    value: str
    minted: bool = False
    # The identities the request carried, by namespace, as resolved (`query.identity.fetch` names them back).
    identity_map: dict = field(default_factory=dict, repr=False)


@dataclass
class LookupRequest:
    datastream_id: str
    body: dict
    sdk: bool = False  # the v1 (Web SDK) shape: `events`, state cookies, identity minting
    bearer: str | None = None
    api_key: str | None = None
    request_id: str | None = None
    cookies: dict = field(default_factory=dict)
    fetch: tuple[str, ...] = ()  # the namespaces `query.identity.fetch` names (`identity_fetch`)


def new_request_id(given: str | None) -> str:
    """Return the caller's id (or a new UUID) with the 16-hex suffix the Edge Network always appends."""
    if given and _REQUEST_ID_PATTERN.fullmatch(given):
        return "%s-%s" % (given, secrets.token_hex(8))
    # A version-4 UUID and the suffix from one draw of 192 random bits: request ids are labels, not secrets,
    # so the non-cryptographic generator (no system call) is enough.
    raw = bytearray(random.getrandbits(192).to_bytes(24, "big"))
    raw[6] = (raw[6] & 0x0F) | 0x40
    raw[8] = (raw[8] & 0x3F) | 0x80
    hexed = raw.hex()
    return "%s-%s-%s-%s-%s-%s" % (hexed[:8], hexed[8:12], hexed[12:16], hexed[16:20], hexed[20:32], hexed[32:48])


def parse_body(raw: bytes, encoding: str = "utf-8") -> dict:
    """Decode the JSON object of a request body (UTF-8, as RFC 8259 requires, unless its Content-Type says)."""
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as exc:
        raise EdgeError(
            "EXEG-0101-400", "The body is not valid %s text (byte %d); send UTF-8." % (encoding, exc.start)
        ) from None
    try:
        # decode + raw_decode: less than half of what json.loads(bytes) spends guessing the encoding.
        text = text.removeprefix("\ufeff").strip()
        if not text:
            raise EdgeError("EXEG-0109-408", "The request body is empty; send a JSON object with an event.")
        body, end = _JSON.raw_decode(text)
        if end != len(text):
            raise ValueError("extra data after the JSON value")
    except ValueError as exc:
        raise EdgeError("EXEG-0101-400", "The body is not valid JSON (%s)." % exc.__class__.__name__) from None
    except RecursionError:
        raise EdgeError(
            "EXEG-0101-400", "The body nests arrays or objects too deeply; a lookup's body needs a few levels."
        ) from None
    if not isinstance(body, dict):
        raise EdgeError("EXEG-0101-400", "The body must be a JSON object.")
    return body


def object_field(body: dict, *path: str) -> dict:
    """Return the object at `path` in the body ({} when absent); EXEG-0102 naming the path when it is not one."""
    found = body
    for depth, name in enumerate(path):
        found = found.get(name)
        if found is None:
            return {}
        if not isinstance(found, dict):
            raise EdgeError("EXEG-0102-400", "The field `%s` must be an object." % ".".join(path[: depth + 1]))
    return found


def identity_fetch(body: dict) -> tuple[str, ...]:
    """Return the namespaces `query.identity.fetch` asks the answer to name, once each; 0102 when malformed."""
    fetch = object_field(body, "query", "identity").get("fetch")
    if fetch is None:
        return ()
    if not isinstance(fetch, list) or not all(isinstance(code, str) for code in fetch):
        raise EdgeError("EXEG-0102-400", "The field `query.identity.fetch` must be an array of namespace codes.")
    return tuple(dict.fromkeys(fetch))


def streaming_frame(body: dict) -> tuple[str, str] | None:
    """
    Return the `(record separator, line feed)` the Mobile SDK asks its answer to be framed with
    (`meta.konductorConfig.streaming`), or None when it does not ask; EXEG-0102 when malformed.
    """
    streaming = object_field(body, "meta", "konductorConfig", "streaming")
    if streaming.get("enabled") is not True:
        return None
    frame = streaming.get("recordSeparator"), streaming.get("lineFeed")
    if not all(isinstance(part, str) and 0 < len(part) <= 4 for part in frame):
        raise EdgeError(
            "EXEG-0102-400",
            "The fields `meta.konductorConfig.streaming.recordSeparator` and `lineFeed` must be short strings.",
        )
    return frame


def _unsafe_text(text: str) -> str | None:
    """Name what makes an identity's text unusable as a key (a NUL, an unpaired surrogate), or None."""
    found = _UNSAFE_CHARACTER.search(text)
    if found is None:
        return None
    return "a NUL character" if found.group() == "\x00" else "an unpaired surrogate (\\u%04x)" % ord(found.group())


def _with_request_identities(body: dict, identity_map: dict) -> dict:
    """
    Merge the identities the Mobile SDK sends for the whole request (`xdm.identityMap`, its ECID with
    `primary: false`) after the event's own; the same primary rules then apply to all of them.
    """
    request_map = object_field(body, "xdm", "identityMap")
    if not request_map:
        return identity_map
    merged = dict(identity_map)
    for namespace, items in request_map.items():
        if not isinstance(items, list):
            raise EdgeError("EXEG-0102-400", "xdm.identityMap.%s must be an array of identity items." % namespace)
        # An event's namespace that is not an array stays as it is, for the check that names it.
        events = merged.get(namespace, [])
        merged[namespace] = [*events, *items] if isinstance(events, list) else events
    return merged


def _first_event(body: dict, sdk: bool) -> dict:
    if sdk and "events" in body:
        events = body["events"]
        if not isinstance(events, list) or not events or not isinstance(events[0], dict):
            raise EdgeError("EXEG-0102-400", "The field `events` must be a non-empty array of event objects.")
        return events[0]
    event = body.get("event")
    if event is None:
        raise EdgeError("EXEG-0102-400", "The field `event` is required and must hold `xdm`.")
    if not isinstance(event, dict):
        raise EdgeError("EXEG-0102-400", "The field `event` must be an object.")
    return event


def _identity_map(event: dict) -> dict:
    xdm = event.get("xdm") or {}
    if not isinstance(xdm, dict):
        raise EdgeError("EXEG-0102-400", "The field `event.xdm` must be an object.")
    identity_map = xdm.get("identityMap") or {}
    if not isinstance(identity_map, dict):
        raise EdgeError("EXEG-0102-400", "The field `event.xdm.identityMap` must be an object of namespaces.")
    return identity_map


def identity_cookie_name() -> str:
    return "kndctr_%s_identity" % settings.EDGE_ORG_ID.replace("@", "_")


def identity_cookie_value(ecid: str) -> str:
    """
    Encode an ECID the way the Edge Network does: base64url of a protobuf whose field 1 is the ECID, so
    the Web SDK can read the visitor's ECID from its own cookie without asking.
    """
    raw = ecid.encode()
    return base64.urlsafe_b64encode(bytes([0x0A, len(raw)]) + raw).decode()


def _decode_identity_cookie(value: str) -> str | None:
    if _ECID_PATTERN.match(value):
        return value
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (ValueError, TypeError):
        return None
    # Field 1, length-delimited (tag 0x0A), then a one-byte length: all an ECID needs.
    if len(raw) >= 2 and raw[0] == 0x0A and raw[1] <= len(raw) - 2:
        ecid = raw[2 : 2 + raw[1]].decode("ascii", errors="replace")
        if _ECID_PATTERN.match(ecid):
            return ecid
    return None


def _state_ecid(body: dict, cookies: dict) -> str | None:
    """Return the ECID the Web SDK kept in its identity cookie, sent back as state or as a cookie."""
    name = identity_cookie_name()
    candidates = [cookies.get(name)]
    entries = object_field(body, "meta", "state").get("entries") or []
    if isinstance(entries, list):
        candidates += [entry.get("value") for entry in entries if isinstance(entry, dict) and entry.get("key") == name]
    for value in candidates:
        if isinstance(value, str) and len(value) < 200:
            ecid = _decode_identity_cookie(value)
            if ecid:
                return ecid
    return None


def resolve_visitor(body: dict, *, sdk: bool, cookies: dict) -> Visitor:
    """
    Pick the primary identity: the item marked primary, else the ECID (from the identityMap, or, for
    the Web SDK, from its identity cookie, minting one for a first-time visitor).
    """
    identity_map = _identity_map(_first_event(body, sdk))
    if sdk:
        identity_map = _with_request_identities(body, identity_map)
    primaries, ecids = [], []
    for namespace, items in identity_map.items():
        problem = _unsafe_text(namespace)
        if problem:
            raise EdgeError("EXEG-0102-400", "The identityMap key %s holds %s." % (json.dumps(namespace), problem))
        if not isinstance(items, list):
            raise EdgeError("EXEG-0102-400", "identityMap.%s must be an array of identity items." % namespace)
        for index, item in enumerate(items):
            if not isinstance(item, dict) or not isinstance(item.get("id"), str) or not item["id"].strip():
                raise EdgeError(
                    "EXEG-0305-400", "identityMap.%s[%d] needs a non-empty string `id`." % (namespace, index)
                )
            problem = _unsafe_text(item["id"])
            if problem:
                raise EdgeError("EXEG-0305-400", "identityMap.%s[%d].id holds %s." % (namespace, index, problem))
            if item.get("primary") is True:
                primaries.append((namespace, item["id"]))
            if namespace == ECID:
                ecids.append(item["id"])
    if len(primaries) > 1:
        raise EdgeError(
            "EXEG-0306-400",
            "Event #0 marks %d identities as primary (%s); mark exactly one."
            % (len(primaries), ", ".join(namespace for namespace, _value in primaries)),
        )
    if primaries:
        return Visitor(*_valid_identity(*primaries[0]), identity_map=identity_map)
    if ecids:
        return Visitor(*_valid_identity(ECID, ecids[0]), identity_map=identity_map)
    if sdk:
        kept = _state_ecid(body, cookies)
        if kept:
            return Visitor(ECID, kept, identity_map=identity_map)
        return Visitor(ECID, "%038d" % secrets.randbelow(10**38), minted=True, identity_map=identity_map)
    raise EdgeError(
        "EXEG-0306-400",
        'Event #0 is missing a primary identity: mark one identityMap item with "primary": true, or send an ECID.',
    )


# Built once: a namespace with no format of its own shares the no-whitespace rule.
_IDENTITY_CHECKERS = {code: identity_checker(code) for code in IDENTITY_FORMATS}
_ANY_NAMESPACE_CHECKER = identity_checker("")


def _valid_identity(namespace: str, value: str) -> tuple[str, str]:
    """Return the identity when its namespace's rule accepts it (the one CSV imports and ingestion use), else 0305."""
    if _IDENTITY_CHECKERS.get(namespace, _ANY_NAMESPACE_CHECKER)(value):
        return namespace, value
    shown = json.dumps(value if len(value) <= 64 else value[:64] + "…")
    raise EdgeError(
        "EXEG-0305-400", "%s is not a valid %s value. %s" % (shown, namespace, identity_problem(value, namespace))
    )


def datastream_config(datastream_id: str) -> DatastreamConfig:
    """Return a datastream's config from the edge store, loading it on a miss; EXEG-0003 when it does not exist."""
    fetched = store.fetch(datastream_id=datastream_id, identity=None, token=None, rate_second=None)
    return _config(datastream_id, fetched[0] if fetched is not None else None, stored=fetched is not None)


def _config(datastream_id: str, cached: DatastreamConfig | None, *, stored: bool) -> DatastreamConfig:
    """
    Return the config read from the store, or load it (1-2 queries, 1-2 more with edge audiences) and, when the
    store is up, keep it; with the store down, the process's copy serves while its change count holds (1 query).
    """
    # A config stored before configs carried edge rules is read again, so edge segmentation never goes quiet.
    if cached is not None and not (cached["edge_segmentation"] and "edge_rules" not in cached):
        return cached
    if not stored:
        config = store.config_while_down(datastream_id, lambda: _loaded_config(datastream_id, stored=False))
    else:
        config = _loaded_config(datastream_id, stored=True)
    if config is None:
        raise EdgeError("EXEG-0003-400", "The datastream %s does not exist." % datastream_id)
    if stored:
        store.put_config(config, CONFIG_TTL)
    return config


def _loaded_config(datastream_id: str, *, stored: bool) -> DatastreamConfig | None:
    config = projection.load_config(datastream_id)
    if config is not None:
        config["pgen"] = store.generation(config["sandbox"]) if stored else ""
    return config


def _authenticate(request: LookupRequest, token_info: TokenInfo | None, config: DatastreamConfig, now: float) -> bool:
    """Return True for a valid credential of the datastream's sandbox, False when none was sent."""
    if request.bearer is None:
        if config["authenticated_only"]:
            raise EdgeError(
                "EXEG-0500-401",
                "This datastream accepts authenticated calls only; send Authorization: Bearer <token> and x-api-key.",
            )
        return False
    if token_info is None:
        token_info = token_info_from_database(request.bearer)
    if token_info is None:
        raise EdgeError("EXEG-0500-401", "The bearer token is unknown or revoked; request a new one.")
    if token_info.expires <= now:
        raise EdgeError("EXEG-0503-401", "The bearer token has expired; request a new one.")
    if request.api_key != token_info.client_id:
        raise EdgeError("EXEG-0500-401", "The x-api-key header must carry the client ID the token was issued to.")
    if token_info.sandbox != config["sandbox"]:
        raise EdgeError("EXEG-0500-401", "The credential belongs to another sandbox than this datastream.")
    return True


def _facts(config: DatastreamConfig, visitor: Visitor, key: str, cached, *, stored: bool) -> Facts:
    """Return the visitor's profile facts: the store's when they belong to the config's generation, else loaded."""
    if visitor.minted:
        return _NOBODY
    if cached is NOT_READ:
        cached = store.fetch_facts(config["sandbox"], key) if stored else None
    if cached is not None and cached.generation == config["pgen"]:
        return cached
    identity = projection.load_identity(config["sandbox"], visitor.namespace, visitor.value)
    return _keep_facts(config, key, identity, stored=stored)


def _keep_facts(config: DatastreamConfig, key: str, identity: dict | None, *, stored: bool) -> Facts:
    encoded = encode_facts(config["pgen"], identity)
    if stored:
        store.put_facts(config["sandbox"], key, encoded, FACTS_TTL)
    return decode_facts(encoded)


def _compose(config: DatastreamConfig, facts: Facts, now: float) -> tuple[str, str]:
    """
    Return the `(authenticated, anonymous)` payload JSON for these facts under this config, memoised on the
    facts (which live in the mirror) per config version until the next schedule boundary.
    """
    version = config.get("version")
    memo = facts.answers.get(version)
    if memo is not None and memo[0] <= now < memo[1]:
        return memo[2], memo[3]
    answer = projection.build_projection(config, facts.as_identity(), now)
    full, anon = projection.render_payload(answer.full), projection.render_payload(answer.anon)
    if version is not None:
        if len(facts.answers) > 4:
            facts.answers.clear()
        facts.answers[version] = (now, answer.until, full, anon)
    return full, anon


def interact(request: LookupRequest, *, rate_limit: int) -> LookupResult:
    """
    Answer one lookup: the `activation:pull` payload JSON for this caller, the visitor, the datastream's origins.

    The payload has attributes only when the request is authenticated with a credential of the datastream's
    sandbox. With the edge store unavailable
    (Redis unreachable), everything is read from PostgreSQL: config, profile and token, at most 4 queries.
    """
    visitor = resolve_visitor(request.body, sdk=request.sdk, cookies=request.cookies)
    key = identity_key(visitor.namespace, visitor.value)
    now = time.time()
    token_digest = AccessToken.digest_of(request.bearer) if request.bearer is not None else None
    rate_second = int(now) if rate_limit else None
    fetched = store.fetch(
        datastream_id=request.datastream_id,
        identity=None if visitor.minted else key,
        token=token_digest,
        rate_second=rate_second,
        rate_limit=rate_limit,
    )
    stored = fetched is not None
    metrics.redis_fallback(not stored)
    if stored:
        cached_config, cached_facts, token_info, count = fetched
    else:
        cached_config, cached_facts, token_info = None, NOT_READ, None
        count = store.count_locally(request.datastream_id, rate_second, rate_limit) if rate_limit else None
    if rate_limit and count is not None and count > rate_limit:
        raise EdgeError(
            "EXEG-0429-429",
            "This datastream allows %d lookups per second; retry after the time in Retry-After." % rate_limit,
            headers={"Retry-After": "1"},
        )
    config = _config(request.datastream_id, cached_config, stored=stored)
    if not config["enabled"]:
        raise EdgeError("EXEG-0004-422", "The datastream is disabled; enable it to serve lookups.")
    authenticated = _authenticate(request, token_info, config, now)
    if not visitor.minted and visitor.namespace not in config["namespaces"]:
        raise EdgeError(
            "EXEG-0013-422",
            "The identity namespace %r is not defined in this sandbox; namespace codes are case-sensitive (known: %s)."
            % (visitor.namespace, ", ".join(config["namespaces"]) or "none"),
        )
    facts = _facts(config, visitor, key, cached_facts, stored=stored)
    if config["edge_segmentation"] and facts.profile is not None:
        facts = _segment_on_edge(config, request, visitor, key, facts, now, stored=stored)
    full, anon = _compose(config, facts, now)
    identities, warnings = _fetched_identities(request, visitor, config, facts, authenticated)
    return LookupResult(
        payload=full if authenticated else anon,
        visitor=visitor,
        origins=config["origins"],
        identities=identities,
        warnings=warnings,
    )


def _fetched_identities(
    request: LookupRequest, visitor: Visitor, config: DatastreamConfig, facts: Facts, authenticated: bool
) -> tuple[tuple[tuple[str, str], ...] | None, tuple[dict, ...]]:
    """
    Return the `identity:result` identities (None when none were asked for) and the answer's warnings.

    For each namespace `query.identity.fetch` names: the identities the request carried, else, for a credential
    of the sandbox, the profile's own (1 query); a caller without one is told it may not fetch them (EXEG-0303),
    and a namespace the sandbox does not define is named in an EXEG-0204 warning. Warnings never fail the
    lookup. A minted ECID is always named, so the Web SDK can keep it.
    """
    if not request.fetch and not visitor.minted:
        return None, ()
    warnings = []
    unknown = [code for code in request.fetch if code not in config["namespaces"] and code != ECID]
    if request.sdk and CORE in unknown:  # alloy always asks for it; no third-party id is kept here
        unknown.remove(CORE)
    if unknown:
        detail = (
            "query.identity.fetch names %s, not defined in this sandbox; namespace codes are case-sensitive "
            "(known: %s)." % (", ".join(map(repr, unknown)), ", ".join(config["namespaces"]) or "none")
        )
        warnings.append(warning("EXEG-0204-200", detail))
    carried = _carried_identities(request, visitor)
    missing = [code for code in request.fetch if code not in carried and code in config["namespaces"]]
    linked = {}
    if missing and not authenticated:
        detail = (
            "The request carried no %s identity; fetching the profile's needs a credential of the datastream's "
            "sandbox (Authorization: Bearer <token> and x-api-key)." % " or ".join(missing)
        )
        warnings.append(warning("EXEG-0303-200", detail))
    elif missing and facts.profile is not None:
        for code, value in projection.linked_identities(config["sandbox"], facts.profile, missing):
            linked.setdefault(code, []).append(value)
    found = [(code, value) for code in request.fetch for value in carried.get(code) or linked.get(code, ())]
    if visitor.minted and (ECID, visitor.value) not in found:
        found.insert(0, (ECID, visitor.value))
    return tuple(found), tuple(warnings)


def _carried_identities(request: LookupRequest, visitor: Visitor) -> dict[str, list[str]]:
    """Return the identities the request carried (identityMap, and the Web SDK's kept or minted ECID), by namespace."""
    identity_map = visitor.identity_map
    carried = {
        namespace: list(dict.fromkeys(item["id"] for item in items)) for namespace, items in identity_map.items()
    }
    if visitor.value not in carried.setdefault(visitor.namespace, []):
        carried[visitor.namespace].append(visitor.value)
    if request.sdk and not carried.get(ECID):
        kept = _state_ecid(request.body, request.cookies)
        carried[ECID] = [kept] if kept else []
    return {namespace: values for namespace, values in carried.items() if values}


def _segment_on_edge(
    config: DatastreamConfig,
    request: LookupRequest,
    visitor: Visitor,
    key: str,
    facts: Facts,
    now: float,
    *,
    stored: bool,
) -> Facts:
    """
    Same-page personalization: evaluate the edge audiences served here in memory, on the profile facts and this
    request's event (no query). Only a visitor who newly qualifies costs SQL: the memberships are written
    (`edge_qualify` checks them on the database's profile) and the answer and the store get the new facts.
    """
    event = _first_event(request.body, request.sdk).get("xdm")
    qualified = segmentation.qualify(
        config, attributes=facts.attributes, audiences=facts.audiences, event=event, now=now
    )
    if not qualified:
        return facts
    identity = edge_qualify(
        sandbox_id=config["sandbox"],
        profile_id=facts.profile,
        audience_ids=qualified,
        event=event if isinstance(event, dict) else {},
    )
    if identity is None:
        # The database already held the memberships (or the profile changed meanwhile): answer with its facts.
        identity = projection.load_identity(config["sandbox"], visitor.namespace, visitor.value)
    return _keep_facts(config, key, identity, stored=stored)
