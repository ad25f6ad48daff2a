"""
The edge store: what a lookup needs, kept in the cache (Redis in production, local memory embedded).

Everything here is a cache of PostgreSQL: deleting any key loses nothing, the next lookup recomputes it. The
answer is composed at lookup time from two kinds of entries, so a marketer's change rewrites one small entry:

- per datastream: its configuration (destinations, activations with their windows, mappings, audience status
  and expiry, edge audiences' rules), changed by configuration writes only;
- per identity: the profile's facts (its id, live memberships and attributes), changed when that profile
  changes, whatever the configuration does.

On Redis, each worker process also mirrors the keys it reads in memory (`mirror.Mirror`: Redis pushes an
invalidation for every change, drained before each read), so a warm lookup makes no network round trip; keys
it lacks come in one `MGET`. Without the mirror, the keys and the rate counter come in one pipelined round
trip. No command spans two keys of different hash tags' slots except `MGET`/pipelines, which a cluster client
splits per node (see docs/decisions.md, "Edge store keys").

When Redis fails, the breaker (`breaker.Breaker`) opens: `fetch` returns None and callers answer from
PostgreSQL, writes to the store are skipped, and invalidations stay in the database
(`invalidation.EdgeInvalidation` rows) until a process that sees Redis again applies them, before it serves
from Redis.

Keys (after the cache's prefix and `edge:`; `{…}` is the Redis Cluster hash tag)
- `dsv:{<datastream>}`: the config's version, a digest of its content (mirrored; tiny).
- `ds:{<datastream>}`: the config itself, read only when a process's parsed copy has another version.
- `pgen:{<sandbox>}`: the sandbox's profile generation: bulk membership changes too large to name profile by
  profile start a new one, and facts built under another are ignored. The configs carry it.
- `pf:<sandbox>:{<identity hash>}`: one identity's profile facts (`encode_facts`); an unknown identity has an
  entry too, saying nobody has it.
- `tok:{<token digest>}`: a live bearer token's credential and expiry.
- `rl:{<datastream>}:<second>`: the per-second request counter.
"""

import base64
import hashlib
import json
import secrets
import struct
import threading
import uuid
import zlib

import redis
from redis.cluster import RedisCluster
from redis.exceptions import RedisClusterException, RedisError

from django.conf import settings
from django.core.cache import caches
from django.core.signals import setting_changed

from personalization.audiences.models import Audience
from personalization.edge import metrics
from personalization.edge.breaker import Breaker
from personalization.edge.mirror import ClusterMirror, Mirror, cluster_primaries, connection_settings
from personalization.edge.models import ConfigVersion
from personalization.edge.ratelimit import RateCounter
from personalization.edge.records import TokenInfo

__all__ = [
    "NOT_READ",
    "EdgeStore",
    "Facts",
    "StoreUnavailable",
    "attributes_section",
    "audience_tag",
    "decode_facts",
    "encode_facts",
    "identity_key",
    "pack_attributes",
    "store",
]

_PREFIX = "edge:"
_RATE_WINDOW_TTL = 3


class StoreUnavailable(Exception):
    """Redis did not take a write that must not be lost (the caller keeps its durable record)."""


def identity_key(namespace: str, value: str) -> str:
    """
    Return a short, cache-safe digest of an identity (namespaces are case-sensitive, so is the digest): 96 bits
    of BLAKE2b in URL-safe base64, 16 characters. Every profile entry's key carries one, so its length is Redis
    memory: 16 characters instead of 32 hex digits keep the bench's keys in a 16-byte smaller allocation. Two of
    10M identities share a digest with a probability of about 6·10⁻¹⁶.
    """
    digest = hashlib.blake2b(("%s\x00%s" % (namespace, value)).encode(), digest_size=12).digest()
    return base64.urlsafe_b64encode(digest).decode()


def key_of(kind: str, *ids) -> str:
    """Return the logical name (without any prefix) of an edge key: `kind` and its ids, the last one tagged."""
    ids = [str(part) for part in ids]
    if kind == "rl":
        return "rl:{%s}:%s" % (ids[0], ids[1])
    return "%s:%s{%s}" % (kind, "".join(part + ":" for part in ids[:-1]), ids[-1])


def config_version(config: dict) -> str:
    """Return the digest of a config's shared content: equal configs get equal versions."""
    shared = {key: value for key, value in config.items() if not key.startswith("_") and key != "version"}
    raw = json.dumps(shared, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.blake2b(raw.encode(), digest_size=12).hexdigest()


class Facts:
    """One identity's profile facts, decoded; `answers` memoises composed payloads per config version."""

    __slots__ = ("_attributes", "_audiences", "_raw_attributes", "_tags", "answers", "generation", "profile")

    def __init__(self, generation: str, profile: str | None, audiences: frozenset | None, attributes, tags=b""):
        self.generation = generation
        self.profile = profile
        # Decoded facts keep the audiences as their 8-byte tags until asked: a mirror holds hundreds of thousands,
        # and ten tags take 80 bytes where a set of ten ids takes about 700.
        self._audiences = audiences
        self._tags = tags
        if isinstance(attributes, (str, bytes)):
            self._raw_attributes, self._attributes = attributes, None
        else:
            self._raw_attributes, self._attributes = None, attributes or {}
        self.answers: dict = {}

    @property
    def audiences(self) -> frozenset:
        """The ids of the audiences the profile is a live member of."""
        if self._audiences is not None:
            return self._audiences
        return _TAGS.ids(self._tags)

    @property
    def attributes(self) -> dict:
        if self._attributes is None:
            raw = self._raw_attributes
            if raw[:1] == _DEFLATED:
                raw = zlib.decompress(raw[1:], -15)
            self._attributes = json.loads(raw) if raw else {}
        return self._attributes

    def as_identity(self) -> dict | None:
        """Return the facts the way `projection.load_identity` does (None for an identity nobody has)."""
        if self.profile is None:
            return None
        return {"profile": self.profile, "attributes": self.attributes, "audiences": sorted(self.audiences)}


_SEP = "\x1f"
_FORMAT = 1  # first byte of the compact encoding; the older text encoding starts with a hex digit or `_SEP`
_TAG_SIZE = 8
_HEADER = struct.Struct(">BB")
_COUNT = struct.Struct(">H")
# An attributes section starting with NUL (no JSON text does) holds the JSON deflated (raw DEFLATE, 4 KB window):
# field names repeat in every profile and most of its bytes are theirs. Shorter JSON is kept as it is: deflating it
# saves too few bytes to pay the encoder's ~4 µs.
_DEFLATED = b"\x00"
_DEFLATE_FROM = 96


_COMPACT_JSON = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def attributes_section(attributes: dict) -> bytes:
    """Return the encoded facts' attributes section: the attributes' compact JSON, deflated when that is shorter."""
    return pack_attributes(_COMPACT_JSON(attributes).encode()) if attributes else b""


def pack_attributes(raw: bytes) -> bytes:
    """Return the attributes section for the attributes' compact JSON `raw`: deflated when that is shorter."""
    if len(raw) < _DEFLATE_FROM:
        return raw
    # A small window and memory level: setting up the default 32 KB window costs ~50 µs per call, this one ~4 µs.
    deflate = zlib.compressobj(1, zlib.DEFLATED, -12, 4)
    packed = deflate.compress(raw) + deflate.flush()
    return _DEFLATED + packed if len(packed) + 1 < len(raw) else raw


def audience_tag(audience) -> bytes:
    """
    Return the 8-byte tag that stands for an audience id in encoded facts (a digest: v7 ids share prefixes).

    Two audiences of one sandbox share a tag with a probability of about n² / 2^65 (3e-12 for 10,000).
    """
    return hashlib.blake2b(uuid.UUID(str(audience)).bytes, digest_size=_TAG_SIZE).digest()


class _AudienceTags:
    """
    Map tags back to audience ids. Filled by every encoding (which knows the ids) and, for a tag this process
    has not seen, by one query over the audiences; a tag no audience has (a deleted one) is remembered as such.
    """

    def __init__(self):
        self._ids: dict[bytes, str | None] = {}
        self._lock = threading.Lock()

    def tags(self, audiences) -> bytes:
        ids = self._ids
        out = []
        for audience in audiences:
            tag = audience_tag(audience)
            ids[tag] = str(audience)
            out.append(tag)
        return b"".join(out)

    def remember(self, tags: dict) -> None:
        ids = self._ids
        for audience, tag in tags.items():
            ids[tag] = str(audience)

    def ids(self, raw: bytes) -> frozenset:
        ids = self._ids
        tags = [raw[at : at + _TAG_SIZE] for at in range(0, len(raw), _TAG_SIZE)]
        if any(tag not in ids for tag in tags):
            self._load(tags)
        return frozenset(found for found in (ids[tag] for tag in tags) if found is not None)

    def _load(self, wanted) -> None:
        with self._lock:
            ids = self._ids
            if all(tag in ids for tag in wanted):
                return
            for pk in Audience.objects.values_list("pk", flat=True).iterator(chunk_size=5000):
                ids[audience_tag(pk)] = str(pk)
            for tag in wanted:
                ids.setdefault(tag, None)  # no audience has it: ids are never reused, so it stays absent


_TAGS = _AudienceTags()


def encode_facts(generation: str, identity: dict | None) -> bytes:
    """
    Encode one identity's facts (None: nobody has it) in the compact layout: format byte, generation length
    and its bytes, then (for a profile) the profile id's 16 bytes, the number of audiences and their 8-byte
    tags, and the attributes' JSON (every mapping and rule may read any of it; deflated when that is shorter).
    """
    gen = bytes.fromhex(generation)
    head = _HEADER.pack(_FORMAT, len(gen)) + gen
    if identity is None:
        return head
    audiences = identity["audiences"]
    return b"".join(
        (
            head,
            uuid.UUID(str(identity["profile"])).bytes,
            _COUNT.pack(len(audiences)),
            _TAGS.tags(audiences),
            attributes_section(identity["attributes"]),
        )
    )


def decode_facts(raw) -> Facts:
    """Decode facts in either layout (entries written before the compact one stay readable until they expire)."""
    if isinstance(raw, str):
        raw = raw.encode()
    if raw[:1] != b"\x01":
        generation, profile, audiences, attributes = raw.decode().split(_SEP, 3)
        audiences = frozenset(audiences.split(",")) if audiences else frozenset()
        return Facts(generation, profile or None, audiences, attributes)
    at = 2 + raw[1]
    generation = raw[2:at].hex()
    if len(raw) == at:
        return Facts(generation, None, frozenset(), {})
    profile = str(uuid.UUID(bytes=raw[at : at + 16]))
    (count,) = _COUNT.unpack_from(raw, at + 16)
    start = at + 18
    end = start + count * _TAG_SIZE
    tags = raw[start:end]
    _TAGS.ids(tags)  # learn unknown tags now, while reading from Redis, not on the answer's path
    return Facts(generation, profile, None, raw[end:], tags)


class EdgeStore:
    """Reads and writes the edge keys through the default cache, with a Redis fast path when available."""

    def __init__(self, alias: str = "default"):
        self.alias = alias
        self._redis = _UNSET
        self._prefix = ""
        self._edge_key_prefix = _PREFIX
        self._configs: dict[str, tuple[str, dict]] = {}
        self._sandbox_of: dict[str, object] = {}  # datastream → sandbox: fixed for a datastream's life
        self._configs_while_down: dict[str, tuple[int, dict]] = {}
        self._count_script = None
        self._mirror: Mirror | None = None
        self._rates = RateCounter(self._add_to_counter)
        self._local_counts: dict[str, int] = {}
        self._local_rates = RateCounter(self._add_locally)
        self._recovering = threading.Lock()
        self.recover = None  # set by `invalidation`: applies the pending invalidations before serving again
        self.breaker = Breaker(self._probe, interval=settings.EDGE_REDIS_PROBE_INTERVAL)

    def reset(self) -> None:
        """Forget the Redis client, scripts, mirror, breaker and parsed configs (after the cache settings changed)."""
        if self._mirror is not None:
            self._mirror.close()
        self.breaker.stop()
        self._redis = _UNSET
        self._configs = {}
        self._sandbox_of = {}
        self._configs_while_down = {}
        self._count_script = None
        self._mirror = None
        self._rates = RateCounter(self._add_to_counter)
        self._local_counts = {}
        self._local_rates = RateCounter(self._add_locally)
        self.breaker = Breaker(self._probe, interval=settings.EDGE_REDIS_PROBE_INTERVAL)

    @property
    def cache(self):
        return caches[self.alias]

    def _raw_redis(self):
        """Return the edge store's own Redis client (short timeouts, no retries), or None off Redis."""
        redis = self._redis
        if redis is _UNSET:
            redis = None
            if settings.EDGE_REDIS_URL:
                redis = _edge_client_from_url(settings.EDGE_REDIS_URL, cluster=settings.EDGE_REDIS_CLUSTER)
            else:
                client = getattr(self.cache, "client", None)
                if client is not None and hasattr(client, "get_client"):
                    redis = _edge_client(client.get_client(write=True))
            # The cache's key function is fixed per process: compute its prefix once, not on every key.
            self._prefix = self.cache.make_key("")
            self._edge_key_prefix = self._prefix + _PREFIX
            self._mirror = self._new_mirror(redis) if redis is not None else None
            # One assignment, so threads of a gthread worker never see a half-initialised store.
            self._redis = redis
        return redis

    @property
    def on_redis(self) -> bool:
        return self._raw_redis() is not None

    def _new_mirror(self, redis) -> Mirror | None:
        capacity = settings.EDGE_LOCAL_CACHE_SIZE
        prefixes = [self._edge_key_prefix + kind + ":" for kind in _MIRRORED]
        if isinstance(redis, (RedisCluster, _UnreachableCluster)):
            if not capacity:
                return None
            return ClusterMirror(
                lambda: cluster_primaries(self._cluster()),
                lambda key: self._cluster().get_node_from_key(key).name,
                prefixes,
                capacity,
                timeout=settings.EDGE_REDIS_CONNECT_TIMEOUT or 2.0,
            )
        connection = connection_settings(redis)
        if not capacity or connection is None:
            return None
        return Mirror(connection, prefixes, capacity)

    def _cluster(self):
        """Return the cluster client, connecting it first if the cluster was unreachable until now."""
        redis = self._redis
        if isinstance(redis, _UnreachableCluster):
            redis = self._redis = redis.connect()
        return redis

    @property
    def on_cluster(self) -> bool:
        return isinstance(self._raw_redis(), (RedisCluster, _UnreachableCluster))

    def _full_key(self, key: str) -> str:
        return self._edge_key_prefix + key

    # Availability ----------------------------------------------------------------------------------

    def _probe(self) -> None:
        redis = self._raw_redis()
        if isinstance(redis, (RedisCluster, _UnreachableCluster)):
            redis = self._cluster()
            redis.ping(target_nodes=RedisCluster.PRIMARIES)
        else:
            redis.ping()

    def available(self) -> bool:
        """
        Return whether lookups may be served from Redis now. After an outage, the first caller that finds Redis
        answering again applies the pending invalidations (`recover`) and closes the breaker; until then, and
        while another thread does it, the answer is False and callers use PostgreSQL.
        """
        breaker = self.breaker
        if breaker.closed:
            return True
        if not breaker.reachable or not self._recovering.acquire(False):
            return False
        try:
            if not breaker.closed:
                if self._mirror is not None:
                    self._mirror.clear()  # copies from before the outage cannot be trusted
                if self.recover is not None:
                    self.recover()
                breaker.close()
            return True
        except Exception as error:  # Redis failed again, or the database did: stay on the fallback
            breaker.trip(error)
            return False
        finally:
            self._recovering.release()

    # Reads -----------------------------------------------------------------------------------------

    def fetch(
        self,
        *,
        datastream_id: str,
        identity: str | None,
        token: str | None,
        rate_second: int | None,
        rate_limit: int = 0,
    ):
        """
        Return `(config, facts, token_info, request_count)`, decoded (a missing key gives None), or None when
        Redis is unavailable (answer from PostgreSQL then; `count_locally` counts the request).

        `facts` needs the datastream's sandbox, known once this process has seen the datastream's config; the
        first lookup of a datastream in a process reads its facts with `fetch_facts` after the config.
        """
        redis = self._raw_redis()
        if redis is None:
            return self._fetch_from_cache(datastream_id, identity, token, rate_second)
        if not self.available():
            return None
        sandbox = self._sandbox_of.get(datastream_id)
        keys = {"dsv": self._full_key(key_of("dsv", datastream_id))}
        if identity and sandbox is not None:
            keys["pf"] = self._full_key(key_of("pf", sandbox, identity))
        if token:
            keys["tok"] = self._full_key(key_of("tok", token))
        try:
            mirror = self._mirror
            if mirror is not None:
                if not mirror.sync():
                    raise _MirrorLost("the invalidation connection is down")
                values = self._read_mirrored(redis, mirror, keys.items())
                count = None
                if rate_second is not None:
                    count = self._rates.hit(self._rate_key, datastream_id, rate_second, rate_limit)
            else:
                values, count = self._read_pipelined(redis, keys, datastream_id, rate_second)
            config = self._config(datastream_id, values.get("dsv"))
        except _FAILURES as error:
            self.breaker.trip(error)
            return None
        facts = values.get("pf")
        if identity and "pf" not in keys:
            # This process had not seen the datastream: its sandbox came with the config just read.
            facts = self.fetch_facts(config["sandbox"], identity) if config is not None else NOT_READ
        return config, facts, values.get("tok"), count

    def fetch_facts(self, sandbox_id, identity: str) -> Facts | None:
        """Return one identity's facts from the store (None when absent or Redis is unavailable)."""
        key = key_of("pf", sandbox_id, identity)
        redis = self._raw_redis()
        if redis is None:
            raw = self.cache.get(_PREFIX + key)
            return decode_facts(raw) if raw is not None else None
        if not self.available():
            return None
        try:
            mirror = self._mirror
            if mirror is not None:
                if not mirror.sync():
                    raise _MirrorLost("the invalidation connection is down")
                return self._read_mirrored(redis, mirror, [("pf", self._full_key(key))]).get("pf")
            raw = redis.get(self._full_key(key))
        except _FAILURES as error:
            self.breaker.trip(error)
            return None
        return decode_facts(raw) if raw is not None else None

    def count_locally(self, datastream_id: str, second: int, limit: int) -> int:
        """Count a request in this process only (while Redis is unavailable): the limit then holds per process."""
        return self._local_rates.hit(self._local_rate_key, datastream_id, second, limit)

    def _fetch_from_cache(self, datastream_id, identity, token, rate_second):
        sandbox = self._sandbox_of.get(datastream_id)
        keys = {"dsv": _PREFIX + key_of("dsv", datastream_id)}
        if identity and sandbox is not None:
            keys["pf"] = _PREFIX + key_of("pf", sandbox, identity)
        if token:
            keys["tok"] = _PREFIX + key_of("tok", token)
        found = self.cache.get_many(list(keys.values()))
        values = {kind: _decode(kind, found[key]) for kind, key in keys.items() if key in found}
        count = None
        if rate_second is not None:
            rate_key = _PREFIX + key_of("rl", datastream_id, rate_second)
            self.cache.add(rate_key, 0, _RATE_WINDOW_TTL)
            try:
                count = self.cache.incr(rate_key)
            except ValueError:
                count = 1
        config = self._config(datastream_id, values.get("dsv"))
        facts = values.get("pf")
        if identity and "pf" not in keys:
            facts = self.fetch_facts(config["sandbox"], identity) if config is not None else NOT_READ
        return config, facts, values.get("tok"), count

    def _read_pipelined(self, redis, keys: dict, datastream_id: str, rate_second):
        pipe = redis.pipeline(transaction=False)
        kinds = list(keys)
        for kind in kinds:
            pipe.get(keys[kind])
        if rate_second is not None:
            rate_key = self._rate_key(datastream_id, rate_second)
            pipe.set(rate_key, 0, ex=_RATE_WINDOW_TTL, nx=True)
            pipe.incr(rate_key)
        replies = pipe.execute()
        values = {kind: _decode(kind, raw) for kind, raw in zip(kinds, replies, strict=False) if raw}
        return values, (int(replies[-1]) if rate_second is not None else None)

    def _read_mirrored(self, redis, mirror: Mirror, keys) -> dict:
        """Return the decoded values of `(kind, full key)` pairs from the copies, reading missing ones with one MGET."""
        get, touch = mirror.values.get, mirror.touch
        values, missing = {}, []
        for kind, full in keys:
            # One `get`: another thread may drop the key between a membership test and a lookup.
            value = get(full, _ABSENT)
            if value is _ABSENT:
                missing.append((kind, full))
                if kind == "pf":
                    mirror.misses += 1
                continue
            touch(full)
            if kind == "pf":
                mirror.hits += 1
            if value is not None:
                values[kind] = value
        if missing:
            found = self._read_into_mirror(redis, mirror, missing)
            for kind, full in missing:
                if found[full] is not None:
                    values[kind] = found[full]
        metrics.mirror_read(len(keys) - len(missing), len(missing))
        return values

    def _read_into_mirror(self, redis, mirror: Mirror, keys: list[tuple[str, str]]) -> dict:
        """Read `(kind, full key)` pairs with one MGET, keep them in the mirror, return `{full key: value or None}`."""
        ticket = mirror.begin([full for _kind, full in keys])
        names = [full for _kind, full in keys]
        # On a cluster the keys of one lookup live in different slots: one MGET per node, sent together.
        raw_values = redis.mget_nonatomic(names) if isinstance(redis, RedisCluster) else redis.mget(names)
        found = {
            full: _decode(kind, raw) if raw is not None else None
            for (kind, full), raw in zip(keys, raw_values, strict=True)
        }
        mirror.keep(ticket, found)
        return found

    def warm_mirror(self) -> int:
        """Copy this process's share of facts from Redis into its mirror (at worker start); return how many."""
        redis = self._raw_redis()
        mirror = self._mirror
        if redis is None or mirror is None or not self.available():
            return 0
        copied = 0
        batch = []
        try:
            if not mirror.sync():
                raise _MirrorLost("the invalidation connection is down")
            for key in redis.scan_iter(match=self._full_key("pf:*"), count=2000):
                batch.append(("pf", key.decode()))
                if len(batch) == 1000:
                    copied += self._copy_into_mirror(redis, mirror, batch)
                    batch = []
                if copied >= mirror.capacity:
                    return copied
            return copied + (self._copy_into_mirror(redis, mirror, batch) if batch else 0)
        except _FAILURES as error:
            self.breaker.trip(error)
            return copied

    def _copy_into_mirror(self, redis, mirror: Mirror, keys: list[tuple[str, str]]) -> int:
        mirror.sync()  # changes made while the copy runs apply before each batch
        found = self._read_into_mirror(redis, mirror, keys)
        return sum(value is not None for value in found.values())

    def _rate_key(self, datastream_id: str, second: int) -> str:
        return self._full_key(key_of("rl", datastream_id, second))

    @staticmethod
    def _local_rate_key(datastream_id: str, second: int) -> str:
        return "%s:%d" % (datastream_id, second)

    def _add_to_counter(self, key: str, amount: int) -> int:
        script = self._count_script
        if script is None:
            script = self._count_script = self._raw_redis().register_script(_COUNT_LUA)
        return int(script(keys=[key], args=[amount, _RATE_WINDOW_TTL]))

    def _add_locally(self, key: str, amount: int) -> int:
        counts = self._local_counts
        if len(counts) > 10_000:
            counts.clear()
        counts[key] = counts.get(key, 0) + amount
        return counts[key]

    def _config(self, datastream_id: str, version: str | None) -> dict | None:
        if version is None:
            return None
        local = self._configs.get(datastream_id)
        if local is not None and local[0] == version:
            return local[1]
        raw = self._get(key_of("ds", datastream_id))
        if raw is None:
            return None
        config = json.loads(raw)
        if config.get("version") != version:
            return None
        self._remember(datastream_id, config)
        return config

    def _remember(self, datastream_id: str, config: dict) -> None:
        self._configs[datastream_id] = (config["version"], config)
        self._sandbox_of[datastream_id] = config["sandbox"]

    def config_while_down(self, datastream_id: str, load) -> dict | None:
        """
        Return the datastream's config while Redis is unreachable: this process's copy while the database's count
        of the config's changes (`ConfigVersion`) is the one read before the copy was loaded, else `load()`'s.
        """
        counted = list(ConfigVersion.objects.filter(pk=datastream_id).values_list("version", flat=True))
        version = counted[0] if counted else 0
        held = self._configs_while_down.get(datastream_id)
        if held is not None and held[0] == version:
            return held[1]
        # Loaded after the count was read: a change committed in between makes the count differ next time.
        config = load()
        if config is not None:
            self._configs_while_down[datastream_id] = (version, config)
        return config

    def holds_config(self, datastream_id) -> bool:
        """Return whether the store holds a config for the datastream; raise `StoreUnavailable` when down."""
        try:
            return self._get(key_of("dsv", datastream_id)) is not None
        except _FAILURES as error:
            self.breaker.trip(error)
            raise StoreUnavailable(str(error)) from error

    def generation(self, sandbox_id) -> str:
        """Return the sandbox's profile generation, creating one if the store has none ("" when unavailable)."""
        key = key_of("pgen", sandbox_id)
        try:
            token = self._get(key)
            if token is None:
                token = secrets.token_hex(6)
                if not self._add(key, token):
                    token = self._get(key) or token
        except _FAILURES as error:
            self.breaker.trip(error)
            return ""
        return token

    # Writes ----------------------------------------------------------------------------------------

    def put_config(self, config: dict, ttl: int, *, strict: bool = False) -> bool:
        """
        Store a datastream's config under its content's version (set on the dict as `version`); return whether
        the stored one changed. An unchanged config writes nothing, so no process drops its copy. With
        `strict`, a Redis failure raises `StoreUnavailable` instead of being skipped.
        """
        datastream_id = config["id"]
        config["version"] = config_version(config)
        self._remember(datastream_id, config)
        if self.on_redis and not strict and not self.breaker.closed:
            return False
        try:
            if self._get(key_of("dsv", datastream_id)) == config["version"]:
                return False
            # Keys starting with "_" are per-process memos (e.g. the serving plan), never shared.
            shared = {key: value for key, value in config.items() if not key.startswith("_")}
            self._set(key_of("ds", datastream_id), json.dumps(shared, separators=(",", ":"), default=str), ttl)
            self._set(key_of("dsv", datastream_id), config["version"], ttl)
        except _FAILURES as error:
            self.breaker.trip(error)
            if strict:
                raise StoreUnavailable(str(error)) from error
            return False
        return True

    def put_facts(self, sandbox_id, identity: str, facts: bytes, ttl: int) -> None:
        """Store one identity's encoded facts (skipped while Redis is unavailable)."""
        self.put_many_facts([(sandbox_id, identity, facts)], ttl)

    def put_many_facts(self, items, ttl: int, *, strict: bool = False) -> None:
        """Store many `(sandbox, identity, encoded facts)` at once."""
        mapping = {key_of("pf", sandbox, identity): facts for sandbox, identity, facts in items}
        if not mapping:
            return
        redis = self._raw_redis()
        if redis is None:
            self.cache.set_many({_PREFIX + key: value for key, value in mapping.items()}, ttl)
            return
        if not strict and not self.breaker.closed:
            return
        try:
            self._forget_copies(mapping)
            pipe = redis.pipeline(transaction=False)
            for key, value in mapping.items():
                pipe.set(self._full_key(key), value, ex=ttl)
            pipe.execute()
        except _FAILURES as error:
            self.breaker.trip(error)
            if strict:
                raise StoreUnavailable(str(error)) from error

    def put_token(self, digest: str, info: TokenInfo, ttl: int) -> None:
        if self.on_redis and not self.breaker.closed:
            return
        try:
            self._set(key_of("tok", digest), info.to_json(), ttl)
        except _FAILURES as error:
            self.breaker.trip(error)

    def forget(self, keys) -> None:
        """Drop the named entries (`(kind, *ids)` tuples); raise `StoreUnavailable` when Redis did not take it."""
        names = [key_of(*key) for key in keys]
        if not names:
            return
        try:
            self._delete(names)
        except _FAILURES as error:
            self.breaker.trip(error)
            raise StoreUnavailable(str(error)) from error

    def new_generation(self, sandbox_id) -> str:
        """Start a new profile generation for a sandbox (its configs must then be stored again); raise when down."""
        token = secrets.token_hex(6)
        try:
            self._set(key_of("pgen", sandbox_id), token, None)
        except _FAILURES as error:
            self.breaker.trip(error)
            raise StoreUnavailable(str(error)) from error
        return token

    def clear(self) -> None:
        """Drop every edge key (used by `edge_rebuild`)."""
        redis = self._raw_redis()
        self._configs = {}
        if self._mirror is not None:
            self._mirror.clear()
        if redis is not None:
            pattern = self._full_key("*")
            batch = []
            for key in redis.scan_iter(match=pattern, count=1000):
                batch.append(key)
                if len(batch) >= 1000:
                    redis.delete(*batch)
                    batch = []
            if batch:
                redis.delete(*batch)
        else:
            self.cache.clear()

    # Primitives (logical key names; Redis errors propagate) ----------------------------------------

    def _get(self, key):
        """Return an entry's value: bytes for profile facts (their compact layout is binary), text for the rest."""
        redis = self._raw_redis()
        if redis is not None:
            raw = redis.get(self._full_key(key))
            if raw is None or key.startswith("pf:"):
                return raw
            return raw.decode()
        return self.cache.get(_PREFIX + key)

    def forget_local_copies(self, full_keys) -> None:
        """Drop this process's copies of keys (full names) it has just written some other way (the rebuild)."""
        if self._mirror is not None:
            self._mirror.forget(full_keys)

    @staticmethod
    def remember_audience_tags(tags: dict) -> None:
        """Record `{audience id: tag}` pairs computed elsewhere, so decoding them needs no query."""
        _TAGS.remember(tags)

    def _forget_copies(self, keys) -> None:
        """Drop this process's copies of keys it is changing (Redis tells the other processes)."""
        if self._mirror is not None:
            self._mirror.forget([self._full_key(key) for key in keys])

    def _set(self, key, value: str, ttl) -> None:
        redis = self._raw_redis()
        if redis is not None:
            self._forget_copies([key])
            redis.set(self._full_key(key), value, ex=ttl)
        else:
            self.cache.set(_PREFIX + key, value, ttl)

    def _add(self, key, value: str) -> bool:
        redis = self._raw_redis()
        if redis is not None:
            return bool(redis.set(self._full_key(key), value, nx=True))
        return self.cache.add(_PREFIX + key, value, None)

    def _delete(self, keys) -> None:
        redis = self._raw_redis()
        if redis is not None:
            self._forget_copies(keys)
            pipe = redis.pipeline(transaction=False)
            for key in keys:  # one DEL per key: keys of different slots never share a command
                pipe.delete(self._full_key(key))
            pipe.execute()
        else:
            self.cache.delete_many([_PREFIX + key for key in keys])


class _MirrorLost(Exception):
    """The mirror's invalidation connection is down: its copies, and Redis, cannot be trusted right now."""


_FAILURES = (RedisError, RedisClusterException, OSError, _MirrorLost)
_UNSET = object()
_ABSENT = object()
# `fetch` could not read the facts (the datastream's sandbox was not known yet): read them once it is.
NOT_READ = object()

# The kinds of keys each process mirrors: read on every warm lookup, changed rarely.
_MIRRORED = ("dsv", "pf", "tok")


def _edge_client(cache_client):
    """
    Return a Redis client for the edge store on the cache's server: the same address and credentials, but
    short timeouts and no retries, so a fault opens the breaker at once instead of holding a request.
    """
    pool = cache_client.connection_pool
    kwargs = dict(pool.connection_kwargs)
    kwargs["socket_connect_timeout"] = settings.EDGE_REDIS_CONNECT_TIMEOUT
    kwargs["socket_timeout"] = settings.EDGE_REDIS_TIMEOUT
    kwargs["retry"] = redis.retry.Retry(redis.backoff.NoBackoff(), 0)
    kwargs.pop("retry_on_timeout", None)
    return redis.Redis(connection_pool=redis.ConnectionPool(connection_class=pool.connection_class, **kwargs))


def _edge_client_from_url(url: str, *, cluster: bool):
    """
    Return a client for the edge store's own Redis (EDGE_REDIS_URL), with the edge timeouts and no retries: a
    `RedisCluster` seeded by the URL with EDGE_REDIS_CLUSTER (it follows MOVED and ASK itself), else a `Redis`.
    """
    options = {
        "socket_connect_timeout": settings.EDGE_REDIS_CONNECT_TIMEOUT,
        "socket_timeout": settings.EDGE_REDIS_TIMEOUT,
        "retry": redis.retry.Retry(redis.backoff.NoBackoff(), 0),
    }
    if not cluster:
        return redis.Redis.from_url(url, **options)
    unreachable = _UnreachableCluster(url, options)
    try:
        return unreachable.connect()
    except _FAILURES:  # a worker starts while the cluster is down: it serves from PostgreSQL until it is back
        return unreachable


class _UnreachableCluster:
    """Stands for a cluster client that could not connect yet: every command fails as Redis being down does."""

    def __init__(self, url: str, options: dict):
        self.url = url
        self.options = options

    def connect(self) -> RedisCluster:
        return RedisCluster.from_url(self.url, **self.options)

    def __getattr__(self, name):
        raise redis.exceptions.ConnectionError("the edge store's Redis Cluster is unreachable")


def _decode(kind: str, raw):
    if kind == "pf":
        return decode_facts(raw)
    if isinstance(raw, bytes):
        raw = raw.decode()
    if kind == "tok":
        return TokenInfo.from_json(raw)
    return raw


# The mirrored path's batched rate-limit count: add, and start the key's expiry with the second's first count.
_COUNT_LUA = """
local count = redis.call('INCRBY', KEYS[1], ARGV[1])
if count == tonumber(ARGV[1]) then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
return count
"""


store = EdgeStore()


_STORE_SETTINGS = (
    "CACHES",
    "EDGE_LOCAL_CACHE_SIZE",
    "EDGE_REDIS_PROBE_INTERVAL",
    "EDGE_REDIS_URL",
    "EDGE_REDIS_CLUSTER",
)


def _reset_on_cache_settings_change(*, setting, **kwargs):
    if setting in _STORE_SETTINGS:
        store.reset()


setting_changed.connect(_reset_on_cache_settings_change)
