"""
Per-process copies of hot edge keys, kept correct by Redis (server-assisted client-side caching).

A warm lookup must not wait on the network: each worker process keeps the values it has read (config
version tokens, answers, bearer tokens) in memory. Redis tells it when any of them changes: one RESP3
connection per process runs `CLIENT TRACKING ON BCAST PREFIX …`, and Redis pushes an `invalidate`
message on it for every write, delete or expiry of a key under those prefixes, whoever made it.

Every read first drains that connection (a non-blocking `recv`), so a change Redis has acknowledged is
seen by the next lookup in every process. A value read from Redis is only kept if no invalidation for
its key arrived while the read was in flight. If the connection breaks, the copies are dropped and `sync`
says so; the store then treats Redis as unavailable (`breaker.Breaker`) until it answers again.
"""

import logging
import os
import select
import socket
import threading
import weakref
from collections import OrderedDict

import hiredis
from redis.exceptions import RedisClusterException, RedisError

__all__ = ["ClusterMirror", "Mirror", "cluster_primaries", "connection_settings"]

logger = logging.getLogger(__name__)
# What `hiredis.Reader.gets` returns while a frame is incomplete (it returns False by default, a valid reply).
_NOT_ENOUGH = object()


class _Broken(Exception):
    """The invalidation connection failed: the copies can no longer be trusted."""


def connection_settings(redis) -> dict | None:
    """Return host/port/auth of a redis-py client's pool, or None when it is not plain TCP."""
    kwargs = redis.connection_pool.connection_kwargs
    if "host" not in kwargs or kwargs.get("ssl") or redis.connection_pool.connection_class.__name__ != "Connection":
        return None
    return {
        "host": kwargs.get("host") or "127.0.0.1",
        "port": int(kwargs.get("port") or 6379),
        "username": kwargs.get("username"),
        "password": kwargs.get("password"),
        "timeout": kwargs.get("socket_connect_timeout") or 2.0,
    }


def _command(*parts) -> bytes:
    encoded = [part if isinstance(part, bytes) else str(part).encode() for part in parts]
    return b"*%d\r\n" % len(encoded) + b"".join(b"$%d\r\n%s\r\n" % (len(part), part) for part in encoded)


def _reader():
    """Return a RESP3 parser (hiredis, C): server errors come back as `ReplyError` values, not raised."""
    return hiredis.Reader(notEnoughData=_NOT_ENOUGH)


def _frames(reader) -> list:
    """Take every complete frame fed to `reader` so far."""
    frames = []
    try:
        while (frame := reader.gets()) is not _NOT_ENOUGH:
            frames.append(frame)
    except hiredis.ProtocolError as error:
        raise _Broken("unreadable reply from Redis: %s" % error) from error
    return frames


class Mirror:
    """
    Local copies of keys under `prefixes`, invalidated by Redis; thread-safe, bounded to `capacity` keys.

    Readers call `touch` on every copy they use, so when the mirror is full the least recently used copies go
    first (an `OrderedDict`: moving a key to the end and dropping the first are O(1), in C, atomic under the GIL).
    `hits` and `misses` count profile entries found here or read from Redis (approximate across threads).
    With `noloop`, Redis does not report this connection's own writes (the rebuild's watch).
    """

    def __init__(self, settings: dict, prefixes: list[str], capacity: int, *, noloop: bool = False):
        self.settings = settings
        self._timeout = settings["timeout"] if settings else 2.0
        self.prefixes = [prefix.encode() for prefix in prefixes]
        self.capacity = capacity
        self.noloop = noloop
        self.values: OrderedDict[str, object] = OrderedDict()
        self._pending: dict[str, object] = {}
        self.hits = 0
        self.misses = 0
        self._start()
        _MIRRORS.add(self)

    def _start(self) -> None:
        """Set up the connection state: not connected, free to connect at once."""
        self._lock = threading.Lock()
        self._socket = None
        self._thread = threading.local()  # each thread's own poll object (one may not be polled concurrently)
        self._reader = _reader()

    def _forked(self) -> None:
        """In a forked child: drop the parent's connection, copies and lock state (the child starts afresh)."""
        if self._socket is not None:
            self._socket.close()  # the child's copy of the descriptor only; the parent keeps its connection
        self.values.clear()
        self._pending.clear()
        self._start()

    # Connection ------------------------------------------------------------------------------------

    def _connect(self) -> None:
        self._socket, self._reader = self._open(self.settings)

    def _open(self, settings: dict):
        """Connect to one Redis, turn tracking on for the prefixes, and return `(socket, reader)`."""
        sock = socket.create_connection((settings["host"], settings["port"]), timeout=settings["timeout"])
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            hello = ["HELLO", 3]
            if settings["password"]:
                hello += ["AUTH", settings["username"] or "default", settings["password"]]
            tracking = ["CLIENT", "TRACKING", "ON", "BCAST", *(["NOLOOP"] if self.noloop else [])]
            for prefix in self.prefixes:
                tracking += ["PREFIX", prefix]
            reader = _reader()
            sock.sendall(_command(*hello) + _command(*tracking))
            replies = []
            while len(replies) < 2:
                data = sock.recv(65536)
                if not data:
                    raise _Broken("Redis closed the connection during the handshake")
                reader.feed(data)
                replies += [frame for frame in _frames(reader) if not _is_push(frame)]
            for reply in replies:
                if isinstance(reply, Exception):
                    raise _Broken(str(reply))
            sock.setblocking(False)
        except BaseException:
            sock.close()
            raise
        return sock, reader

    def _connected(self) -> bool:
        return self._socket is not None

    def _disconnect(self) -> None:
        if self._socket is not None:
            try:
                self._socket.close()
            except OSError:
                pass
        self._socket = None
        self.values.clear()
        self._pending.clear()

    def _ensure(self) -> bool:
        """Return True when the invalidation connection is up, connecting when it is not."""
        if self._connected():
            return True
        try:
            self._connect()
        except (OSError, _Broken, ValueError, RedisError, RedisClusterException) as error:
            logger.warning("edge.mirror.unavailable", extra={"error": str(error)})
            return False
        return True

    def _drain(self, *, force: bool = False, sock=None, reader=None) -> None:
        """
        Apply every invalidation Redis has sent so far (the lock is held).

        When any arrived, more may still be queued in Redis (it writes a large backlog, e.g. after a rebuild,
        in slices), so a PING is sent and everything up to its reply is applied: Redis replies on a
        connection in order, so every invalidation it queued before the PING has then been seen. With
        `force`, the PING is sent even when nothing has arrived yet (for everything queued before now).
        """
        if sock is None:
            sock, reader = self._socket, self._reader
        if not force:
            if not self._arrived(sock):  # far cheaper than a recv that raises when nothing came
                return
            try:
                data = sock.recv(262144)
            except BlockingIOError:
                return
            except OSError as error:
                raise _Broken(str(error)) from error
            self._apply(data, reader)  # an empty read (Redis closed the connection) raises there
        sock.settimeout(self._timeout)
        try:
            sock.sendall(_PING)
            while not self._apply(sock.recv(262144), reader):
                pass
        except OSError as error:
            raise _Broken(str(error)) from error
        finally:
            if self._connected():
                sock.setblocking(False)

    def _apply(self, data: bytes, reader=None) -> bool:
        """Apply the invalidations in `data`; return True once the reply to a PING has been read."""
        if not data:
            raise _Broken("Redis closed the invalidation connection")
        reader = reader or self._reader
        reader.feed(data)
        answered = False
        for frame in _frames(reader):
            if _is_push(frame):
                if frame and frame[0] == b"invalidate":
                    self._invalidate(frame[1] if len(frame) > 1 else None)
            elif isinstance(frame, Exception):
                raise _Broken(str(frame))
            else:
                answered = True
        return answered

    def _invalidate(self, keys) -> None:
        if keys is None:  # FLUSHDB / FLUSHALL: everything goes
            self.values.clear()
            self._pending.clear()
            return
        values, pending = self.values, self._pending
        for raw in keys:
            key = raw.decode()
            values.pop(key, None)
            pending.pop(key, None)

    def _arrived(self, sock) -> bool:
        """Return True when something can be read on `sock`, polled with this thread's own poll object."""
        thread = self._thread
        if getattr(thread, "socket", None) is not sock:
            thread.poller = select.poll()
            thread.poller.register(sock, select.POLLIN)
            thread.socket = sock
        return bool(thread.poller.poll(0))

    # Reads -----------------------------------------------------------------------------------------

    def sync(self) -> bool:
        """Drain pending invalidations; return False when the copies cannot be used right now."""
        sock = self._socket
        if sock is not None and not self._lock.locked():
            # The common case takes no lock (the threads of a worker would queue on it): nothing has
            # arrived, and no other thread is between reading invalidations and applying them.
            if not self._arrived(sock) and not self._lock.locked():
                return True
        with self._lock:
            if not self._ensure():
                return False
            try:
                self._drain()
            except _Broken as error:
                logger.warning("edge.mirror.lost", extra={"error": str(error)})
                self._disconnect()
                return False
            return True

    def begin(self, keys) -> object:
        """Mark `keys` as being read from Redis; `keep` stores them only if none was invalidated meanwhile."""
        ticket = object()
        with self._lock:
            for key in keys:
                self._pending[key] = ticket
        return ticket

    def keep(self, ticket, found: dict) -> None:
        """Store values read from Redis after `begin` (None for a missing key) unless invalidated since."""
        with self._lock:
            if not self._connected():
                return
            values, pending = self.values, self._pending
            for key, value in found.items():
                if pending.get(key) is ticket:
                    del pending[key]
                    values[key] = value
            popitem = values.popitem
            for _ in range(len(values) - self.capacity):
                popitem(last=False)  # the least recently used

    def touch(self, key: str) -> None:
        """Mark a copy as just used (it is then the last to be evicted)."""
        try:
            self.values.move_to_end(key)
        except KeyError:  # invalidated (or evicted) by another thread meanwhile
            pass

    def forget(self, keys) -> None:
        """Drop local copies this process just changed (Redis also tells every other process)."""
        with self._lock:
            for key in keys:
                self.values.pop(key, None)
                self._pending.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self.values.clear()
            self._pending.clear()

    def close(self) -> None:
        with self._lock:
            self._disconnect()


class ClusterMirror(Mirror):
    """
    The mirror of a Redis Cluster's keys: one invalidation connection per primary, since each node reports
    only the writes it executes. Every read drains them all.

    A copy is kept only while the node holding its key (as the cluster client sees it after following any
    `MOVED` or `ASK`) is one of the connected primaries; a key found on another node (a new primary, a
    failover) reconnects to the current primaries and drops every copy. A key migrated away from a node is
    deleted there, which that node reports, so its copy goes too.
    """

    def __init__(self, primaries, node_of, prefixes: list[str], capacity: int, *, timeout: float = 2.0):
        # `primaries()`: the connection settings of each primary (with its "name", host:port); `node_of(key)`:
        # the name of the node holding a key. Both read the cluster client's own view: no round trip.
        self._primaries = primaries
        self._node_of = node_of
        super().__init__(None, prefixes, capacity)
        self._timeout = timeout

    def _start(self) -> None:
        super()._start()
        self._links: dict[str, tuple] = {}  # node name → (socket, reader)

    def _forked(self) -> None:
        for sock, _reader in self._links.values():
            sock.close()
        self._links = {}
        super()._forked()

    def _connected(self) -> bool:
        return bool(self._links)

    def _connect(self) -> None:
        links = {}
        try:
            for node in self._primaries():
                links[node["name"]] = self._open(node)
        except BaseException:
            for sock, _reader in links.values():
                sock.close()
            raise
        if not links:
            raise _Broken("the cluster has no primaries")
        self._links = links

    def _disconnect(self) -> None:
        for sock, _reader in self._links.values():
            try:
                sock.close()
            except OSError:
                pass
        self._links = {}
        super()._disconnect()

    def sync(self) -> bool:
        links = self._links
        if links and not self._lock.locked():
            if not self._arrived_on_any(links) and not self._lock.locked():
                return True
        with self._lock:
            if not self._ensure():
                return False
            try:
                for sock, reader in list(self._links.values()):
                    self._drain(sock=sock, reader=reader)
            except _Broken as error:
                logger.warning("edge.mirror.lost", extra={"error": str(error)})
                self._disconnect()
                return False
            return True

    def _arrived_on_any(self, links) -> bool:
        thread = self._thread
        if getattr(thread, "links", None) is not links:
            thread.poller = select.poll()
            for sock, _reader in links.values():
                thread.poller.register(sock, select.POLLIN)
            thread.links = links
        return bool(thread.poller.poll(0))

    def _arrived(self, sock) -> bool:
        # Draining one connection: poll just that socket.
        return bool(select.select([sock], [], [], 0)[0])

    def keep(self, ticket, found: dict) -> None:
        linked = self._links
        node_of = self._node_of
        elsewhere = [key for key in found if node_of(key) not in linked]
        if elsewhere:
            # A node this process does not follow holds some of these keys: follow the cluster as it is now.
            with self._lock:
                self._disconnect()
            return
        super().keep(ticket, found)


def cluster_primaries(cluster) -> list[dict]:
    """Return the connection settings of a `RedisCluster` client's primaries, as its topology cache has them."""
    nodes = []
    for node in cluster.get_primaries():
        kwargs = node.redis_connection.connection_pool.connection_kwargs if node.redis_connection else {}
        nodes.append(
            {
                "name": node.name,
                "host": node.host,
                "port": int(node.port),
                "username": kwargs.get("username"),
                "password": kwargs.get("password"),
                "timeout": kwargs.get("socket_connect_timeout") or 2.0,
            }
        )
    return nodes


_PING = _command("PING")
# Every mirror of the process, so that a forked child (a gunicorn worker) never uses its parent's connection.
_MIRRORS: "weakref.WeakSet[Mirror]" = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for mirror in list(_MIRRORS):
        mirror._forked()


os.register_at_fork(after_in_child=_after_fork_in_child)


def _is_push(frame) -> bool:
    return type(frame) is hiredis.PushNotification
