"""
The edge store: precomputed lookup answers kept in the cache (Redis in production, local memory embedded).

Everything here is a cache of PostgreSQL: deleting any key loses nothing, the next lookup recomputes it.
A warm lookup needs a single round trip: the datastream's config, the identity's projection, the bearer
token and the rate-limit counter are fetched together (one Lua script on Redis, `get_many` elsewhere).

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

from django.core.cache import caches
from django.core.signals import setting_changed

__all__ = ["EdgeStore", "decode_projection", "encode_projection", "identity_key", "store"]

_PREFIX = "edge:"
_RATE_WINDOW_TTL = 3


def identity_key(namespace: str, value: str) -> str:
    """Return a short, cache-safe digest of an identity (namespaces are case-sensitive, so is the digest)."""
    return hashlib.blake2b(("%s\x00%s" % (namespace, value)).encode(), digest_size=16).hexdigest()


def _k(*parts) -> str:
    return _PREFIX + ":".join(str(part) for part in parts)


class EdgeStore:
    """Reads and writes the edge keys through the default cache, with a Redis fast path when available."""

    def __init__(self, alias: str = "default"):
        self.alias = alias
        self._redis = _UNSET
        self._prefix = ""
        self._configs: dict[str, tuple[str, dict]] = {}
        self._fetch_script = None

    def reset(self) -> None:
        """Forget the memoised Redis client, script and parsed configs (after the cache settings changed)."""
        self._redis = _UNSET
        self._configs = {}
        self._fetch_script = None

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
            # One assignment, so threads of a gthread worker never see a half-initialised store.
            self._redis = redis
        return redis

    def _full_key(self, key: str) -> str:
        return self._prefix + key

    # Reads -----------------------------------------------------------------------------------------

    def fetch(self, *, datastream_id: str, identity: str | None, token: str | None, rate_second: int | None):
        """
        Return `(config, projection, token_info, request_count)` in one round trip; missing → None.

        The config comes from this worker's memory when its version token in the store is unchanged.
        """
        keys = [_k("dsv", datastream_id), _k("p", datastream_id, identity) if identity else None]
        keys.append(_k("tok", token) if token else None)
        wanted = [key for key in keys if key]
        rate_key = _k("rl", datastream_id, rate_second) if rate_second is not None else None
        redis = self._raw_redis()
        count = None
        if redis is not None:
            script = self._fetch_script
            if script is None:
                script = self._fetch_script = redis.register_script(_FETCH_LUA)
            full_keys = [self._full_key(key) if key else "" for key in (*keys, rate_key)]
            *raw_values, count = script(keys=full_keys, args=[_RATE_WINDOW_TTL])
            values = {key: raw.decode() for key, raw in zip(keys, raw_values, strict=True) if key and raw}
        else:
            values = self.cache.get_many(wanted)
            if rate_key:
                self.cache.add(rate_key, 0, _RATE_WINDOW_TTL)
                try:
                    count = self.cache.incr(rate_key)
                except ValueError:
                    count = 1
        version, projection, token_info = (values.get(key) if key else None for key in keys)
        return (
            self._config(datastream_id, version),
            decode_projection(projection) if projection else None,
            json.loads(token_info) if token_info else None,
            count,
        )

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

    def _set(self, key, value: str, ttl) -> None:
        redis = self._raw_redis()
        if redis is not None:
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
            redis.delete(*[self._full_key(key) for key in keys])
        else:
            self.cache.delete_many(keys)


_UNSET = object()

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
# Projections are stored as one string: JSON escapes control characters, so this separator never
# appears inside the payloads, and splitting is far cheaper than decoding JSON on every request.
_SEP = "\x1f"


def encode_projection(answer: dict) -> str:
    return _SEP.join((answer["gen"], repr(answer["until"]), answer["profile"] or "", answer["anon"], answer["full"]))


def decode_projection(raw: str) -> dict:
    gen, until, profile, anon, full = raw.split(_SEP)
    return {"gen": gen, "until": float(until), "profile": profile or None, "anon": anon, "full": full}


store = EdgeStore()


def _reset_on_cache_settings_change(*, setting, **kwargs):
    if setting == "CACHES":
        store.reset()


setting_changed.connect(_reset_on_cache_settings_change)
