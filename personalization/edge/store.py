"""
The edge store: precomputed lookup answers kept in the cache (Redis in production, local memory embedded).

Everything here is a cache of PostgreSQL: deleting any key loses nothing, the next lookup recomputes it.
On Redis, each worker process also mirrors the keys it reads in memory (`mirror.Mirror`: Redis pushes an
invalidation for every change, drained before each read), so a warm lookup makes no network round trip;
keys it lacks come in one `MGET`. Without the mirror (disabled, or its connection lost) the datastream's
version, the identity's projection, the bearer token and the rate-limit counter are fetched together
(one Lua script on Redis, `get_many` elsewhere).

Keys
- `ds:<datastream>`: the datastream's lookup config (destinations, activations, mappings) and `gen`.
- `dsv:<datastream>`: the config's version token. Each worker keeps the parsed config in memory and only
  re-reads `ds:` when this tiny value changes, so a warm request never parses the (large) config.
- `gen:<sandbox>`: a random generation token; any configuration change in the sandbox replaces it, so
  projections computed under the old token are ignored (no counter that could repeat after an eviction).
- `p:<datastream>:<identity hash>`: the answer for one identity, with the `gen` it was built under and
  the time it stays valid (the next schedule boundary), encoded as one string (`encode_projection`).
- `tok:<token digest>`: a live bearer token's credential and expiry.
- `rl:<datastream>:<second>`: the per-second request counter.
"""

import hashlib
import json
import secrets

from django.conf import settings
from django.core.cache import caches
from django.core.signals import setting_changed

from personalization.edge.mirror import Mirror, RateCounter, connection_settings

__all__ = ["EdgeStore", "decode_projection", "encode_projection", "identity_key", "store"]

_PREFIX = "edge:"
_RATE_WINDOW_TTL = 3


def identity_key(namespace: str, value: str) -> str:
    """Return a short, cache-safe digest of an identity (namespaces are case-sensitive, so is the digest)."""
    return hashlib.blake2b(("%s\x00%s" % (namespace, value)).encode(), digest_size=16).hexdigest()


def _k(*parts) -> str:
    return _PREFIX + ":".join(str(part) for part in parts)


def _lookup_keys(prefix: str, datastream_id: str, identity: str | None, token: str | None) -> dict:
    """
    Return the keys one lookup reads, by kind: the names `_k` makes, after `prefix` (`_PREFIX`, or it with the
    cache's own prefix before it), joined by plain concatenation because this runs on every lookup.
    """
    keys = {"dsv": prefix + "dsv:" + datastream_id}
    if identity:
        keys["p"] = prefix + "p:" + datastream_id + ":" + identity
    if token:
        keys["tok"] = prefix + "tok:" + token
    return keys


class EdgeStore:
    """Reads and writes the edge keys through the default cache, with a Redis fast path when available."""

    def __init__(self, alias: str = "default"):
        self.alias = alias
        self._redis = _UNSET
        self._prefix = ""
        self._edge_key_prefix = _PREFIX
        self._configs: dict[str, tuple[str, dict]] = {}
        self._fetch_script = None
        self._count_script = None
        self._mirror: Mirror | None = None
        self._rates = RateCounter(self._add_to_counter)

    def reset(self) -> None:
        """Forget the memoised Redis client, scripts, mirror and parsed configs (after the cache settings changed)."""
        if self._mirror is not None:
            self._mirror.close()
        self._redis = _UNSET
        self._configs = {}
        self._fetch_script = None
        self._count_script = None
        self._mirror = None
        self._rates = RateCounter(self._add_to_counter)

    @property
    def cache(self):
        return caches[self.alias]

    def _raw_redis(self):
        """Return the raw Redis client behind django-redis, or None for other cache backends."""
        redis = self._redis
        if redis is _UNSET:
            client = getattr(self.cache, "client", None)
            redis = client.get_client(write=True) if client is not None and hasattr(client, "get_client") else None
            # The cache's key function is fixed per process: compute its prefix once, not on every key.
            self._prefix = self.cache.make_key("")
            self._edge_key_prefix = self._prefix + _PREFIX
            self._mirror = self._new_mirror(redis) if redis is not None else None
            # One assignment, so threads of a gthread worker never see a half-initialised store.
            self._redis = redis
        return redis

    def _new_mirror(self, redis) -> Mirror | None:
        capacity = settings.EDGE_LOCAL_CACHE_SIZE
        connection = connection_settings(redis)
        if not capacity or connection is None:
            return None
        prefixes = [self._full_key(_k(kind, "")) for kind in _MIRRORED]
        return Mirror(connection, prefixes, capacity)

    def _full_key(self, key: str) -> str:
        return self._prefix + key

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
        Return `(config, projection, token_info, request_count)`, decoded; a missing key gives None.

        With the mirror, keys this process holds cost no round trip and the rest come in one MGET;
        without it, everything comes in one round trip. The config itself comes from this process's
        memory while its version token is unchanged.
        """
        redis = self._raw_redis()
        mirror = self._mirror
        if mirror is not None and mirror.sync():
            keys = _lookup_keys(self._edge_key_prefix, datastream_id, identity, token)
            values = self._read_mirrored(redis, mirror, keys.items())
            count = None
            if rate_second is not None:
                count = self._rates.hit(self._rate_key, datastream_id, rate_second, rate_limit)
            return self._config(datastream_id, values.get("dsv")), values.get("p"), values.get("tok"), count
        count = None
        if redis is not None:
            script = self._fetch_script
            if script is None:
                script = self._fetch_script = redis.register_script(_FETCH_LUA)
            keys = _lookup_keys(self._edge_key_prefix, datastream_id, identity, token)
            rate_key = self._rate_key(datastream_id, rate_second) if rate_second is not None else ""
            full_keys = [keys.get(kind, "") for kind in _FETCHED] + [rate_key]
            *raw_values, count = script(keys=full_keys, args=[_RATE_WINDOW_TTL])
            values = {kind: _decode(kind, raw.decode()) for kind, raw in zip(_FETCHED, raw_values, strict=True) if raw}
        else:
            keys = _lookup_keys(_PREFIX, datastream_id, identity, token)
            found = self.cache.get_many(list(keys.values()))
            values = {kind: _decode(kind, found[key]) for kind, key in keys.items() if key in found}
            if rate_second is not None:
                rate_key = _k("rl", datastream_id, rate_second)
                self.cache.add(rate_key, 0, _RATE_WINDOW_TTL)
                try:
                    count = self.cache.incr(rate_key)
                except ValueError:
                    count = 1
        return self._config(datastream_id, values.get("dsv")), values.get("p"), values.get("tok"), count

    def _read_mirrored(self, redis, mirror: Mirror, keys) -> dict:
        """Return the decoded values of `(kind, full key)` pairs from the copies, reading missing ones with one MGET."""
        get = mirror.values.get
        values, missing = {}, []
        for kind, full in keys:
            # One `get`: another thread may drop the key between a membership test and a lookup.
            value = get(full, _ABSENT)
            if value is _ABSENT:
                missing.append((kind, full))
            elif value is not None:
                values[kind] = value
        if missing:
            found = self._read_into_mirror(redis, mirror, missing)
            for kind, full in missing:
                if found[full] is not None:
                    values[kind] = found[full]
        return values

    def _read_into_mirror(self, redis, mirror: Mirror, keys: list[tuple[str, str]]) -> dict:
        """Read `(kind, full key)` pairs with one MGET, keep them in the mirror, return `{full key: value or None}`."""
        ticket = mirror.begin([full for _kind, full in keys])
        raw_values = redis.mget([full for _kind, full in keys])
        found = {
            full: _decode(kind, raw.decode(), share=True) if raw is not None else None
            for (kind, full), raw in zip(keys, raw_values, strict=True)
        }
        mirror.keep(ticket, found)
        return found

    def warm_mirror(self) -> int:
        """Copy this process's share of answers from Redis into its mirror (at worker start); return how many."""
        redis = self._raw_redis()
        mirror = self._mirror
        if redis is None or mirror is None or not mirror.sync():
            return 0
        copied = 0
        batch = []
        for key in redis.scan_iter(match=self._full_key(_k("p", "*")), count=2000):
            batch.append(("p", key.decode()))
            if len(batch) == 1000:
                copied += self._copy_into_mirror(redis, mirror, batch)
                batch = []
            if copied >= mirror.capacity:
                return copied
        return copied + (self._copy_into_mirror(redis, mirror, batch) if batch else 0)

    def _copy_into_mirror(self, redis, mirror: Mirror, keys: list[tuple[str, str]]) -> int:
        mirror.sync()  # changes made while the copy runs apply before each batch
        found = self._read_into_mirror(redis, mirror, keys)
        return sum(value is not None for value in found.values())

    def _rate_key(self, datastream_id: str, second: int) -> str:
        return self._full_key(_k("rl", datastream_id, second))

    def _add_to_counter(self, key: str, amount: int) -> int:
        script = self._count_script
        if script is None:
            script = self._count_script = self._raw_redis().register_script(_COUNT_LUA)
        return int(script(keys=[key], args=[amount, _RATE_WINDOW_TTL]))

    def _config(self, datastream_id: str, version: str | None) -> dict | None:
        if version is None:
            return None
        local = self._configs.get(datastream_id)
        if local is not None and local[0] == version:
            return local[1]
        raw = self._get(_k("ds", datastream_id))
        if raw is None:
            return None
        config = json.loads(raw)
        if config.get("version") != version:
            return None
        self._configs[datastream_id] = (version, config)
        return config

    def get_generation(self, sandbox_id) -> str:
        """Return the sandbox's generation token, creating one if the store has none."""
        key = _k("gen", sandbox_id)
        token = self._get(key)
        if token is None:
            token = secrets.token_hex(8)
            if not self._add(key, token):
                token = self._get(key)
        return token

    # Writes ----------------------------------------------------------------------------------------

    def put_config(self, datastream_id, config: dict, ttl: int) -> None:
        """Store a config under a fresh version token (the config dict gets it as `version`)."""
        config["version"] = secrets.token_hex(8)
        # Keys starting with "_" are per-process memos (e.g. the serving plan), never shared.
        shared = {key: value for key, value in config.items() if not key.startswith("_")}
        self._set(_k("ds", datastream_id), json.dumps(shared, separators=(",", ":")), ttl)
        self._set(_k("dsv", datastream_id), config["version"], ttl)
        self._configs[str(datastream_id)] = (config["version"], config)

    def put_projection(self, datastream_id, identity: str, projection: dict, ttl: int) -> None:
        self._set(_k("p", datastream_id, identity), encode_projection(projection), ttl)

    def put_projections(self, items, ttl: int) -> None:
        """Store many `(datastream_id, identity, projection)` answers at once."""
        mapping = {_k("p", ds, identity): encode_projection(answer) for ds, identity, answer in items}
        if not mapping:
            return
        redis = self._raw_redis()
        if redis is not None:
            self._forget_copies(mapping)
            pipe = redis.pipeline(transaction=False)
            for key, value in mapping.items():
                pipe.set(self._full_key(key), value, ex=ttl)
            pipe.execute()
        else:
            self.cache.set_many(mapping, ttl)

    def put_token(self, digest: str, info: dict, ttl: int) -> None:
        self._set(_k("tok", digest), json.dumps(info), ttl)

    def forget_tokens(self, digests) -> None:
        self._delete([_k("tok", digest) for digest in digests])

    def forget_config(self, sandbox_id, datastream_ids) -> None:
        """Start a new generation for the sandbox and drop its datastream configs."""
        self._set(_k("gen", sandbox_id), secrets.token_hex(8), None)
        self._delete([_k(kind, ds) for ds in datastream_ids for kind in ("dsv", "ds")])

    def forget_projections(self, datastream_ids, identities) -> None:
        self._delete([_k("p", ds, identity) for ds in datastream_ids for identity in identities])

    def clear(self) -> None:
        """Drop every edge key (used by `edge_rebuild`)."""
        redis = self._raw_redis()
        if self._mirror is not None:
            self._mirror.clear()
        if redis is not None:
            pattern = self._full_key(_PREFIX + "*")
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

    # Primitives ------------------------------------------------------------------------------------

    def _get(self, key) -> str | None:
        redis = self._raw_redis()
        if redis is not None:
            raw = redis.get(self._full_key(key))
            return raw.decode() if raw is not None else None
        return self.cache.get(key)

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
            self.cache.set(key, value, ttl)

    def _add(self, key, value: str) -> bool:
        redis = self._raw_redis()
        if redis is not None:
            return bool(redis.set(self._full_key(key), value, nx=True))
        return self.cache.add(key, value, None)

    def _delete(self, keys) -> None:
        if not keys:
            return
        redis = self._raw_redis()
        if redis is not None:
            self._forget_copies(keys)
            redis.delete(*[self._full_key(key) for key in keys])
        else:
            self.cache.delete_many(keys)


_UNSET = object()
_ABSENT = object()

# The kinds of keys each process mirrors: read on every warm lookup, changed rarely.
_MIRRORED = ("dsv", "p", "tok")
# The keys the one-round-trip script reads, in its KEYS order (the rate counter comes last).
_FETCHED = ("dsv", "p", "tok")


def _decode(kind: str, raw: str, share: bool = False):
    if kind == "p":
        return decode_projection(raw, share=share)
    if kind == "tok":
        return json.loads(raw)
    return raw


# The mirrored path's batched rate-limit count: add, and start the key's expiry with the second's first count.
_COUNT_LUA = """
local count = redis.call('INCRBY', KEYS[1], ARGV[1])
if count == tonumber(ARGV[1]) then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
return count
"""

# One server-side call per lookup: the config version, the projection, the token and the rate counter.
# An empty key name means "not needed"; Lua `false` comes back as nil, keeping the reply's positions.
_FETCH_LUA = """
local out = {false, false, false, false}
out[1] = redis.call('GET', KEYS[1])
if KEYS[2] ~= '' then out[2] = redis.call('GET', KEYS[2]) end
if KEYS[3] ~= '' then out[3] = redis.call('GET', KEYS[3]) end
if KEYS[4] ~= '' then
  local count = redis.call('INCR', KEYS[4])
  if count == 1 then redis.call('EXPIRE', KEYS[4], ARGV[1]) end
  out[4] = count
end
return out
"""
# Projections are stored as one string: JSON escapes control characters, so these separators never
# appear inside the payloads, and splitting is far cheaper than decoding JSON on every request.
_SEP = "\x1f"
_PIECE = "\x1e"
# Payload pieces many answers share (destination headers, segment lists), stored once per process.
_shared_pieces: dict[str, str] = {}
_SHARED_PIECES_MAX = 100_000


def encode_projection(answer: dict) -> str:
    return _SEP.join(
        (
            answer["gen"],
            repr(answer["until"]),
            answer["profile"] or "",
            _PIECE.join(answer["anon"]),
            _PIECE.join(answer["full"]),
        )
    )


def decode_projection(raw: str, *, share: bool = False) -> dict:
    """Decode a stored answer; with `share`, pieces equal to ones already held are replaced by those."""
    gen, until, profile, anon, full = raw.split(_SEP)
    anon, full = tuple(anon.split(_PIECE)), tuple(full.split(_PIECE))
    if share:
        if len(_shared_pieces) > _SHARED_PIECES_MAX:
            _shared_pieces.clear()
        keep = _shared_pieces.setdefault
        gen = keep(gen, gen)
        anon = tuple(keep(piece, piece) for piece in anon)
        # Attribute pieces belong to one profile (shared only between its destinations): sharing them
        # process-wide would only grow the table.
        own = {}
        full = tuple(
            own.setdefault(piece, piece) if piece.startswith(',"attributes"') else keep(piece, piece) for piece in full
        )
    return {"gen": gen, "until": float(until), "profile": profile or None, "anon": anon, "full": full}


store = EdgeStore()


def _reset_on_cache_settings_change(*, setting, **kwargs):
    if setting in ("CACHES", "EDGE_LOCAL_CACHE_SIZE"):
        store.reset()


setting_changed.connect(_reset_on_cache_settings_change)
