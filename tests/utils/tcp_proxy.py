"""
A loopback TCP proxy a test can cut: clients connect to `proxy.port`, bytes go both ways to the real service.

`cut()` closes the listening socket and every open connection, as a crashed service or a reset link looks to
a client; `restore()` listens again on the same port. Connections opened while cut are refused. `hang()` keeps
accepting connections but forwards nothing either way, as a silent partition looks (clients wait for their
timeouts). `accepted` and `received` count the connections and bytes clients sent, to show who still tries.
"""

import selectors
import socket
import threading

__all__ = ["TcpProxy"]


class TcpProxy:
    def __init__(self, target_host: str, target_port: int, *, port: int = 0):
        self.target = (target_host, target_port)
        self.port = port
        self._lock = threading.Lock()
        self._pairs: list[tuple[socket.socket, ...]] = []
        self._listener = None
        self._thread = None
        self._stopping = threading.Event()
        self.hanging = False
        self.accepted = 0
        self.received = 0
        self._listen()

    @property
    def url_host(self) -> str:
        return "127.0.0.1:%d" % self.port

    def hang(self) -> None:
        """Drop every connection, then accept new ones but forward nothing (a silent partition)."""
        self.cut()
        self.hanging = True
        self._listen()

    def restore(self) -> None:
        """Listen (again) on the proxy's port, forwarding normally."""
        if self.hanging:
            self.cut()
            self.hanging = False
        if self._listener is None:
            self._listen()

    def _listen(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self.port = listener.getsockname()[1]
        self._listener = listener
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._serve, args=(listener, self._stopping), daemon=True)
        self._thread.start()

    def cut(self) -> None:
        """Stop listening and close every connection through the proxy."""
        listener, self._listener = self._listener, None
        if listener is None:
            return
        self._stopping.set()
        try:
            listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        listener.close()
        self._thread.join(timeout=5)
        with self._lock:
            pairs, self._pairs = self._pairs, []
        for pair in pairs:
            for sock in pair:
                _close(sock)

    close = cut

    def _serve(self, listener: socket.socket, stopping: threading.Event) -> None:
        selector = selectors.DefaultSelector()
        try:
            selector.register(listener, selectors.EVENT_READ, None)
        except (OSError, ValueError):  # cut before this thread began serving: nothing to relay
            selector.close()
            return
        peers: dict[socket.socket, socket.socket] = {}
        try:
            while not stopping.is_set():
                for key, _events in selector.select(timeout=0.05):
                    if key.data is None:
                        self._accept(listener, selector, peers)
                    else:
                        self._relay(key.fileobj, peers, selector)
        finally:
            for sock in list(peers):
                _close(sock)
            selector.close()

    def _accept(self, listener, selector, peers) -> None:
        try:
            client, _address = listener.accept()
        except OSError:
            return
        self.accepted += 1
        if self.hanging:
            client.setblocking(False)
            peers[client] = None
            selector.register(client, selectors.EVENT_READ, "client")
            with self._lock:
                self._pairs.append((client,))
            return
        try:
            upstream = socket.create_connection(self.target, timeout=2)
        except OSError:
            _close(client)
            return
        for sock in (client, upstream):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.setblocking(False)
        peers[client], peers[upstream] = upstream, client
        selector.register(client, selectors.EVENT_READ, "client")
        selector.register(upstream, selectors.EVENT_READ, "upstream")
        with self._lock:
            self._pairs.append((client, upstream))

    def _relay(self, sock, peers, selector) -> None:
        peer = peers.get(sock)
        try:
            data = sock.recv(262144)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if data and selector.get_key(sock).data == "client":
            self.received += len(data)
        if data and peer is None and sock in peers:
            return  # hanging: swallow what the client sends
        if data and peer is not None:
            try:
                peer.setblocking(True)
                peer.sendall(data)
                peer.setblocking(False)
                return
            except OSError:
                pass
        for one in (sock, peer):
            if one is not None and one in peers:
                selector.unregister(one)
                peers.pop(one, None)
                _close(one)


def _close(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()
