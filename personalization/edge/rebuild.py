"""
Rebuild the edge store from the database: every datastream's config and every identity's profile facts.

On PostgreSQL with Redis the profile facts come set-based: each chunk of identities (in profile order) is one
query that merges them with their profiles and live memberships over the chunk's profile id range, and goes to
Redis as one pipelined batch of hand-packed `SET`s; no query per profile. Entries are overwritten in place, so
lookups keep being served warm while it runs (nothing is dropped first unless asked).

A profile that changes while the rebuild runs must not get the rebuild's older copy back. Before it starts,
the rebuild subscribes to Redis's invalidations of profile entries (client tracking, `NOLOOP` so the writes it
makes on that connection are not reported) and remembers every entry anyone else writes or drops from then
on. It never writes such an entry, and each batch ends with a PING whose reply comes after every report of
what Redis ran before it: an entry of the batch reported meanwhile is dropped again, so whichever order the
other writer's `DEL` and the batch's `SET` reached Redis in, the older copy does not stay. What remains is the
window a lookup's own fill has too: a change committed between a chunk's read and its write to an entry that
did not exist (a `DEL` of a missing key reports nothing), a fraction of a second per chunk (the next chunk is
read while one is written, so up to two chunks' time).
"""

import json
import uuid
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor

import psycopg
from redis.cluster import RedisCluster

from django.db import connection, transaction

from personalization.audiences.models import Audience, AudienceMembership
from personalization.datastreams.models import Datastream
from personalization.edge import invalidation
from personalization.edge.lookup import FACTS_TTL
from personalization.edge.mirror import Mirror, _command, _frames, _is_push, cluster_primaries, connection_settings
from personalization.edge.store import attributes_section, audience_tag, encode_facts, identity_key, key_of, store
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

# One chunk of identities (after `(after_profile, after_id)` in profile order) with, per identity, its key's
# inputs and its facts in the compact layout but for the attributes, whose JSON PostgreSQL writes with spaces
# (compacted in Python: the spaces would cost a Redis size class). The chunk's profiles and live memberships
# (grouped, with their tags from the sandbox's audiences) are read over the same profile id range and merged:
# no probe per profile.
_CHUNK_SQL = """
WITH chunk AS (
    SELECT i.id, i.profile_id, i.namespace_id, i.value FROM profiles_identity i
    WHERE i.sandbox_id = %(sandbox)s AND (i.profile_id, i.id) > (%(after_profile)s, %(after_id)s)
    ORDER BY i.profile_id, i.id LIMIT %(limit)s
), upto AS (SELECT profile_id FROM chunk ORDER BY profile_id DESC LIMIT 1),
tags AS (SELECT * FROM unnest(%(audiences)s::uuid[], %(tags)s::bytea[]) AS t(audience_id, tag))
SELECT c.profile_id, c.id, n.code, c.value,
       %(head)s::bytea || uuid_send(c.profile_id) || substring(int4send(coalesce(m.count, 0)::int) from 3 for 2)
           || coalesce(m.tags, ''::bytea),
       CASE WHEN jsonb_typeof(p.attributes) = 'object' AND p.attributes <> '{}'::jsonb THEN p.attributes::text END
FROM chunk c
JOIN profiles_identitynamespace n ON n.id = c.namespace_id
JOIN profiles_profile p ON p.id = c.profile_id
LEFT JOIN (
    SELECT am.profile_id, count(*) AS count, string_agg(t.tag, ''::bytea) AS tags
    FROM audiences_audiencemembership am JOIN tags t ON t.audience_id = am.audience_id
    WHERE am.profile_id >= %(after_profile)s AND am.profile_id <= (SELECT profile_id FROM upto)
      AND am.status IN (%(realized)s, %(existing)s)
    GROUP BY am.profile_id
) m ON m.profile_id = c.profile_id
ORDER BY c.profile_id, c.id
"""


def _rebuild_on_redis(redis, sandbox, generation: str, chunk_size: int, progress, done: int) -> int:
    """
    Write each chunk on a thread of its own while the next one is read, so PostgreSQL and Redis work at the same
    time (both calls wait on a socket, without the GIL); one chunk at most is in flight.
    """
    watch = watch_for(redis)
    written = 0

    def settle(in_flight) -> None:
        nonlocal written
        written += in_flight.result()
        if progress:
            progress(done + written)

    try:
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="edge-rebuild-write") as writer:
            in_flight = None
            for batch in _facts_in_chunks(sandbox, generation, chunk_size):
                if in_flight is not None:
                    settle(in_flight)
                in_flight = writer.submit(_write, watch, batch)
            if in_flight is not None:
                settle(in_flight)
        return written
    finally:
        watch.close()


def _facts_in_chunks(sandbox, generation: str, chunk_size: int):
    """
    Yield lists of `(full key, encoded facts)`, `chunk_size` identities at a time, for every identity of the
    sandbox. Each chunk is one query (one snapshot a fraction of a second old when its entries are written).
    """
    gen = bytes.fromhex(generation)
    prefix = store._full_key(key_of("pf", sandbox, "-"))[:-2]  # "…pf:<sandbox>:{", to which the digest and "}" go
    audiences = [str(pk) for pk in Audience.objects.filter(sandbox_id=sandbox).values_list("pk", flat=True)]
    tags = {audience: audience_tag(audience) for audience in audiences}
    store.remember_audience_tags(tags)
    realized, existing = (str(status) for status in AudienceMembership.ACTIVE_STATUSES)
    params = {
        "audiences": audiences,
        "tags": [tags[audience] for audience in audiences],
        "head": bytes((1, len(gen))) + gen,  # the compact layout's header (`store.encode_facts`)
        "realized": realized,
        "existing": existing,
        "sandbox": int(sandbox),
        "after_profile": uuid.UUID(int=0),
        "after_id": 0,
        "limit": chunk_size,
    }
    loads = json.loads
    connection.ensure_connection()
    # A plain psycopg cursor (server-side binding, binary results): the facts arrive as bytes, not as hex.
    cursor = psycopg.Cursor(connection.connection)
    try:
        while True:
            with transaction.atomic():
                # One process reading ranges in order beats parallel workers; compiling the plan (JIT) costs
                # more than it saves on queries this size.
                cursor.execute("SET LOCAL max_parallel_workers_per_gather = 0")
                cursor.execute("SET LOCAL jit = off")
                cursor.execute(_CHUNK_SQL, params, binary=True)
                rows = cursor.fetchall()
            if not rows:
                return
            batch = []
            for _profile, _id, namespace, value, facts, attributes in rows:
                if attributes is not None:
                    facts += attributes_section(loads(attributes))
                batch.append(("%s%s}" % (prefix, identity_key(namespace, value)), facts))
            params["after_profile"], params["after_id"] = rows[-1][0], rows[-1][1]
            yield batch
    finally:
        cursor.close()


def _write(watch: "_Watch", batch) -> int:
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
    moved = watch.send_for(keys, commands)
    late = [key for key in keys if key in touched or key in moved]
    if late:  # written or dropped by someone else while the batch was in flight: theirs is newer than the snapshot
        watch.drop(late)
    store.forget_local_copies(keys)
    return len(keys) - len(late)


def watch_for(redis) -> "_Watch | _ClusterWatch":
    """Return the rebuild's watching, writing connection(s): one to a Redis, one per primary of a cluster."""
    if isinstance(redis, RedisCluster):
        return _ClusterWatch(redis)
    settings = connection_settings(redis)
    if settings is None:
        raise RuntimeError("edge_rebuild needs a plain TCP connection to Redis to watch for changes")
    return _Watch(settings, db=int(redis.connection_pool.connection_kwargs.get("db") or 0))


class _Watch(Mirror):
    """
    The rebuild's own connection: it writes the batches, and Redis reports on it every profile entry other
    clients write or drop (`NOLOOP`: not the ones it writes itself), collected in `touched`.
    """

    def __init__(self, settings: dict, *, db: int = 0, touched: set | None = None):
        self.touched: set[str] = touched if touched is not None else set()
        self.db = db
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

    def send(self, commands: list[bytes]) -> set[int]:
        """
        Send packed commands and a PING, and read up to the PING's reply: every report Redis queued before
        then (for commands of other clients it ran before these) is in `touched` when this returns. Return the
        positions of commands a cluster node redirected (`MOVED` / `ASK`: the slot is moving); other errors raise.
        """
        redirected = set()
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
                    for frame in _frames(self._reader):
                        if _is_push(frame):
                            if frame and frame[0] == b"invalidate":
                                self._invalidate(frame[1] if len(frame) > 1 else None)
                        elif isinstance(frame, Exception):
                            if not str(frame).startswith(("MOVED ", "ASK ")):
                                raise frame
                            redirected.add(replies)
                            replies += 1
                        else:
                            replies += 1
            finally:
                sock.setblocking(False)
        return redirected

    def send_for(self, keys: list[str], commands: list[bytes]) -> set[str]:
        """Send `commands` (one per key of `keys`); return the keys whose command was redirected."""
        return {keys[position] for position in self.send(commands)}

    def drop(self, keys: list[str]) -> None:
        self.send([_command("DEL", key) for key in keys])


class _ClusterWatch:
    """
    The rebuild's connections to a Redis Cluster: a `_Watch` per primary, sharing one `touched`; each entry is
    written through the connection of the node holding its slot, so `NOLOOP` still hides the rebuild's own writes.
    An entry whose slot is moving (the node answers `MOVED` or `ASK`) is left out and deleted through the cluster
    client, which follows the redirect: the lookups fill it.
    """

    def __init__(self, cluster):
        self.cluster = cluster
        self.touched: set[str] = set()
        self.watches: dict[str, _Watch] = {}
        try:
            for node in cluster_primaries(cluster):
                self.watches[node["name"]] = _Watch(node, touched=self.touched)
        except BaseException:
            self.close()
            raise

    def send_for(self, keys: list[str], commands: list[bytes]) -> set[str]:
        by_node = defaultdict(lambda: ([], []))
        for key, command in zip(keys, commands, strict=True):
            node_keys, node_commands = by_node[self.cluster.get_node_from_key(key).name]
            node_keys.append(key)
            node_commands.append(command)
        redirected = set()
        for name, (node_keys, node_commands) in by_node.items():
            watch = self.watches.get(name)
            if watch is None:  # a primary that joined after the rebuild started
                redirected.update(node_keys)
                continue
            redirected |= watch.send_for(node_keys, node_commands)
        return redirected

    def drop(self, keys: list[str]) -> None:
        self.cluster.delete(*keys)

    def close(self) -> None:
        for watch in self.watches.values():
            watch.close()


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
