"""
The edge store: precomputed lookup answers kept in the cache (Redis in production, local memory embedded).

Everything here is a cache of PostgreSQL: deleting any key loses nothing, the next lookup recomputes it.
A warm lookup needs a single round trip: the datastream's config, the identity's projection, the bearer
token and the rate-limit counter are fetched together (one pipeline on Redis, `get_many` elsewhere).

Keys
- `ds:<datastream>`: the datastream's lookup config (destinations, activations, mappings) and `gen`.
- `gen:<sandbox>`: a random generation token; any configuration change in the sandbox replaces it, so
  projections computed under the old token are ignored (no counter that could repeat after an eviction).
- `p:<datastream>:<identity hash>`: the answer for one identity, with the `gen` it was built under and
  the time it stays valid (the next schedule boundary).
- `tok:<token digest>`: a live bearer token's credential and expiry.
- `rl:<datastream>:<second>`: the per-second request counter.
"""

import hashlib
import json
import secrets
import time

from django.core.cache import caches

__all__ = ["EdgeStore", "identity_key", "store"]

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
        self._redis = None
        self._redis_checked = False

    @property
    def cache(self):
        return caches[self.alias]

    def _raw_redis(self):
        """Return the raw Redis client behind django-redis, or None for other cache backends."""
        if not self._redis_checked:
            self._redis_checked = True
            client = getattr(self.cache, "client", None)
            if client is not None and hasattr(client, "get_client"):
                self._redis = client.get_client(write=True)
        return self._redis

    def _full_key(self, key: str) -> str:
        return self.cache.make_key(key)

    # Reads -----------------------------------------------------------------------------------------

    def fetch(self, *, datastream_id: str, identity: str | None, token: str | None, rate_second: int | None):
        """Return `(config, projection, token_info, request_count)` in one round trip; missing → None."""
        keys = [_k("ds", datastream_id)]
        keys.append(_k("p", datastream_id, identity) if identity else None)
        keys.append(_k("tok", token) if token else None)
        wanted = [key for key in keys if key]
        rate_key = _k("rl", datastream_id, rate_second) if rate_second is not None else None
        redis = self._raw_redis()
        count = None
        if redis is not None:
            pipe = redis.pipeline(transaction=False)
            pipe.mget([self._full_key(key) for key in wanted])
            if rate_key:
                full = self._full_key(rate_key)
                pipe.incr(full)
                pipe.expire(full, _RATE_WINDOW_TTL)
            results = pipe.execute()
            values = dict(zip(wanted, (json.loads(raw) if raw else None for raw in results[0]), strict=True))
            if rate_key:
                count = results[1]
        else:
            values = self.cache.get_many(wanted)
            if rate_key:
                self.cache.add(rate_key, 0, _RATE_WINDOW_TTL)
                try:
                    count = self.cache.incr(rate_key)
                except ValueError:
                    count = 1
        return tuple(values.get(key) if key else None for key in keys) + (count,)

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
        self._set(_k("ds", datastream_id), config, ttl)

    def put_projection(self, datastream_id, identity: str, projection: dict, ttl: int) -> None:
        self._set(_k("p", datastream_id, identity), projection, ttl)

    def put_projections(self, items, ttl: int) -> None:
        """Store many `(datastream_id, identity, projection)` answers at once."""
        mapping = {_k("p", ds, identity): answer for ds, identity, answer in items}
        if not mapping:
            return
        redis = self._raw_redis()
        if redis is not None:
            pipe = redis.pipeline(transaction=False)
            for key, value in mapping.items():
                pipe.set(self._full_key(key), json.dumps(value, separators=(",", ":")), ex=ttl)
            pipe.execute()
        else:
            self.cache.set_many(mapping, ttl)

    def put_token(self, digest: str, info: dict, ttl: int) -> None:
        self._set(_k("tok", digest), info, ttl)

    def forget_tokens(self, digests) -> None:
        self._delete([_k("tok", digest) for digest in digests])

    def forget_config(self, sandbox_id, datastream_ids) -> None:
        """Start a new generation for the sandbox and drop its datastream configs."""
        self._set(_k("gen", sandbox_id), secrets.token_hex(8), None)
        self._delete([_k("ds", ds) for ds in datastream_ids])

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

    def _get(self, key):
        redis = self._raw_redis()
        if redis is not None:
            raw = redis.get(self._full_key(key))
            return json.loads(raw) if raw else None
        return self.cache.get(key)

    def _set(self, key, value, ttl) -> None:
        redis = self._raw_redis()
        if redis is not None:
            redis.set(self._full_key(key), json.dumps(value, separators=(",", ":")), ex=ttl)
        else:
            self.cache.set(key, value, ttl)

    def _add(self, key, value) -> bool:
        redis = self._raw_redis()
        if redis is not None:
            return bool(redis.set(self._full_key(key), json.dumps(value), nx=True))
        return self.cache.add(key, value, None)

    def _delete(self, keys) -> None:
        if not keys:
            return
        redis = self._raw_redis()
        if redis is not None:
            redis.delete(*[self._full_key(key) for key in keys])
        else:
            self.cache.delete_many(keys)


store = EdgeStore()


def now() -> float:
    return time.time()
