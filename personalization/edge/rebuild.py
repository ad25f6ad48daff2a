"""
Rebuild the edge store from the database: every datastream's config and every identity's profile facts.

On PostgreSQL with Redis the profile facts come from one set-based pass (`_stream_facts`: identities joined to
their profile and live memberships, read through a server-side cursor) and go to Redis in pipelined batches of
hand-packed `SET`s, with no query per profile. Entries are overwritten in place, so lookups keep being served
warm while it runs (nothing is dropped first unless asked).

A profile that changes while the rebuild runs must not get the rebuild's older copy back. The pass reads one
snapshot; before it starts, the rebuild subscribes to Redis's invalidations of profile entries (client
tracking, `NOLOOP` so its own writes are not reported) and remembers every entry anyone else writes or drops
from then on. It never writes such an entry, and after each batch it waits for Redis's report (`settle`) and
drops any entry of the batch reported meanwhile: whichever order the other writer's `DEL` and the batch's `SET`
reached Redis in, the older copy does not stay.
"""

import hashlib
import json
from collections import defaultdict

from django.db import connection, transaction

from personalization.audiences.models import AudienceMembership
from personalization.datastreams.models import Datastream
from personalization.edge import invalidation
from personalization.edge.lookup import FACTS_TTL
from personalization.edge.mirror import Mirror, _command, connection_settings
from personalization.edge.store import audience_tag, encode_facts, identity_key, key_of, store
from personalization.profiles.models import Identity, Profile

__all__ = ["edge_rebuild"]

_BATCH = 5000


def edge_rebuild(*, sandbox_id=None, chunk_size: int = _BATCH, clear: bool = False, progress=None) -> dict:
    """
    Fill the edge store from the database (after dropping it, with `clear`); return counts. Safe at any
    time and never holds lookups back: entries are replaced in place, and a lookup that misses meanwhile
    computes its own answer from the database.
    """
    if clear:
        store.clear()
    datastreams = Datastream.objects.all()
    if sandbox_id is not None:
        datastreams = datastreams.filter(sandbox_id=sandbox_id)
    datastream_ids = [str(pk) for pk in datastreams.values_list("pk", flat=True)]
    invalidation.refresh_configs(datastream_ids)
    sandboxes = sorted({str(pk) for pk in datastreams.values_list("sandbox_id", flat=True)})
    answers = 0
    redis = store._raw_redis()
    for sandbox in sandboxes:
        generation = store.generation(sandbox)
        if redis is not None and connection.vendor == "postgresql":
            answers += _rebuild_on_redis(redis, sandbox, generation, chunk_size, progress, answers)
        else:
            answers += _rebuild_through_cache(sandbox, generation, chunk_size, progress, answers)
    return {"datastreams": len(datastream_ids), "answers": answers}


# PostgreSQL and Redis ------------------------------------------------------------------------------

# One row per identity: its profile's id (16 bytes), attributes and live memberships. The memberships come from
# the profile_id index, one probe per profile, which PostgreSQL does far faster than the rows can be sent.
_FACTS_SQL = """
SELECT n.code, i.value, uuid_send(i.profile_id), p.attributes::text,
       (SELECT string_agg(m.audience_id::text, ',') FROM audiences_audiencemembership m
        WHERE m.profile_id = i.profile_id AND m.status IN (%s, %s))
FROM profiles_identity i
JOIN profiles_identitynamespace n ON n.id = i.namespace_id
JOIN profiles_profile p ON p.id = i.profile_id
WHERE i.sandbox_id = %s
"""


def _rebuild_on_redis(redis, sandbox, generation: str, chunk_size: int, progress, done: int) -> int:
    watch = _Watch(redis)
    try:
        written = 0
        batch: list[tuple[str, bytes]] = []
        for key, value in _stream_facts(sandbox, generation, chunk_size):
            batch.append((key, value))
            if len(batch) >= chunk_size:
                written += _write(redis, watch, batch)
                batch = []
                if progress:
                    progress(done + written)
        if batch:
            written += _write(redis, watch, batch)
        return written
    finally:
        watch.close()


def _stream_facts(sandbox, generation: str, chunk_size: int):
    """Yield `(full key, encoded facts)` for every identity of the sandbox, in one pass over one snapshot."""
    gen = bytes.fromhex(generation)
    head = bytes((1, len(gen))) + gen  # the compact layout's header (`store.encode_facts`)
    prefix = store._full_key(key_of("pf", sandbox, "-"))[:-2]  # "…pf:<sandbox>:{", to which the digest and "}" go
    tags: dict[str, bytes] = {}
    encoded_by_profile: dict[bytes, bytes] = {}  # a profile's identities share one value
    statuses = [str(status) for status in AudienceMembership.ACTIVE_STATUSES]
    loads, dumps = json.loads, json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
    blake2b = hashlib.blake2b
    with transaction.atomic():
        connection.ensure_connection()
        raw = connection.connection.cursor(name="edge_rebuild")  # server-side: rows stream, memory stays flat
        raw.itersize = chunk_size
        raw.execute(_FACTS_SQL, [*statuses, int(sandbox)])
        for namespace, value, profile, attributes, audiences in raw:
            profile = bytes(profile)
            encoded = encoded_by_profile.get(profile)
            if encoded is None:
                if audiences:
                    ids = audiences.split(",")
                    packed = b"".join([tags.get(a) or tags.setdefault(a, audience_tag(a)) for a in ids])
                    count = len(ids)
                else:
                    packed, count = b"", 0
                attributes = loads(attributes) if attributes else None
                encoded = b"".join(
                    (head, profile, count.to_bytes(2, "big"), packed, dumps(attributes).encode() if attributes else b"")
                )
                if len(encoded_by_profile) > 4 * chunk_size:
                    encoded_by_profile.clear()
                encoded_by_profile[profile] = encoded
            digest = blake2b(("%s\x00%s" % (namespace, value)).encode(), digest_size=16).hexdigest()
            yield "%s%s}" % (prefix, digest), encoded
        raw.close()
    store.remember_audience_tags(tags)


def _write(redis, watch: "_Watch", batch) -> int:
    """Write a batch in one round trip, skipping entries others touched and dropping those they touch meanwhile."""
    touched = watch.touched
    ttl = b"%d" % FACTS_TTL
    commands = []
    keys = []
    for key, value in batch:
        if key in touched:
            continue
        name = key.encode()
        keys.append(key)
        commands.append(
            b"*5\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n$2\r\nEX\r\n$%d\r\n%s\r\n"
            % (len(name), name, len(value), value, len(ttl), ttl)
        )
    if not commands:
        return 0
    watch.send(commands)
    late = [key for key in keys if key in touched]
    if late:  # written or dropped by someone else while the batch was in flight: theirs is newer than the snapshot
        watch.send([_command("DEL", key) for key in late])
    store.forget_local_copies(keys)
    return len(keys) - len(late)


class _Watch(Mirror):
    """
    The rebuild's own connection: it writes the batches, and Redis reports on it every profile entry other
    clients write or drop (`NOLOOP`: not the ones it writes itself), collected in `touched`.
    """

    def __init__(self, redis):
        settings = connection_settings(redis)
        if settings is None:
            raise RuntimeError("edge_rebuild needs a plain TCP connection to Redis to watch for changes")
        self.touched: set[str] = set()
        self.db = int(redis.connection_pool.connection_kwargs.get("db") or 0)
        super().__init__(settings, [store._full_key("pf:")], capacity=0, noloop=True)
        if not self._ensure():
            raise RuntimeError("edge_rebuild could not open its invalidation connection to Redis")

    def _connect(self) -> None:
        super()._connect()
        if self.db:  # the writes go to the store's database (the reports cover every database)
            self.send([_command("SELECT", self.db)])

    def _invalidate(self, keys) -> None:
        if keys is None:
            raise RuntimeError("the edge store was flushed during edge_rebuild; run it again")
        self.touched.update(raw.decode() for raw in keys)

    def send(self, commands: list[bytes]) -> None:
        """
        Send packed commands and a PING, and read up to the PING's reply: every report Redis queued before
        then (for commands of other clients it ran before these) is in `touched` when this returns.
        """
        with self._lock:
            sock = self._socket
            sock.settimeout(max(5.0, self.settings["timeout"]))
            try:
                sock.sendall(b"".join(commands) + _command("PING"))
                replies = 0
                while replies <= len(commands):
                    data = sock.recv(1 << 20)
                    if not data:
                        raise ConnectionError("Redis closed the connection during edge_rebuild")
                    self._reader.feed(data)
                    for frame in self._reader.frames():
                        if isinstance(frame, tuple) and frame[0] == "push":
                            if frame[1] and frame[1][0] == b"invalidate":
                                self._invalidate(frame[1][1] if len(frame[1]) > 1 else None)
                        elif isinstance(frame, Exception):
                            raise frame
                        else:
                            replies += 1
            finally:
                sock.setblocking(False)


# Any other store (local memory, or a database other than PostgreSQL) ------------------------------


def _rebuild_through_cache(sandbox, generation: str, chunk_size: int, progress, done: int) -> int:
    answers = 0
    profile_ids = Profile.objects.filter(sandbox_id=sandbox).order_by("pk").values_list("pk", flat=True)
    chunk = []
    for profile_id in profile_ids.iterator(chunk_size=chunk_size):
        chunk.append(profile_id)
        if len(chunk) >= chunk_size:
            answers += _store_chunk(sandbox, generation, chunk)
            chunk = []
            if progress:
                progress(done + answers)
    return answers + _store_chunk(sandbox, generation, chunk)


def _facts_for_chunk(sandbox_id, generation: str, profile_ids):
    """Yield `(sandbox, identity hash, encoded facts)` for every identity of these profiles (three queries)."""
    attributes = dict(Profile.objects.filter(pk__in=profile_ids).values_list("pk", "attributes"))
    audiences = defaultdict(list)
    memberships = AudienceMembership.objects.filter(
        profile_id__in=profile_ids, status__in=AudienceMembership.ACTIVE_STATUSES
    ).values_list("profile_id", "audience_id")
    for profile_id, audience_id in memberships:
        audiences[profile_id].append(str(audience_id))
    identities = Identity.objects.filter(profile_id__in=profile_ids).values_list(
        "profile_id", "namespace__code", "value"
    )
    encoded = {}
    for profile_id, namespace, value in identities:
        facts = encoded.get(profile_id)
        if facts is None:
            found = {
                "profile": str(profile_id),
                "attributes": attributes.get(profile_id) or {},
                "audiences": sorted(audiences[profile_id]),
            }
            facts = encoded[profile_id] = encode_facts(generation, found)
        yield sandbox_id, identity_key(namespace, value), facts


def _store_chunk(sandbox_id, generation: str, profile_ids) -> int:
    if not profile_ids:
        return 0
    items = list(_facts_for_chunk(sandbox_id, generation, profile_ids))
    store.put_many_facts(items, FACTS_TTL, strict=True)
    return len(items)
