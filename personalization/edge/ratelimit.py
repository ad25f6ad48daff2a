"""
The per-second rate limit of lookups per datastream, counted in each process and shared in batches.

Each process counts locally and adds its count to the shared counter (Redis's `rl:` key, or a local dict while
Redis is unavailable) in small batches, so the limit holds across processes within a batch per process and the
per-request path takes no lock and makes no round trip.
"""

import itertools
import threading

__all__ = ["RateCounter"]


class _Window:
    """One datastream's count for one second in this process."""

    __slots__ = ("batch", "flushing", "hits", "second", "sent", "shared")

    def __init__(self, second: int, batch: int):
        self.second = second
        self.batch = batch  # hits counted here before they are added to the shared counter
        self.hits = itertools.count(1)  # `next` on it is atomic: no lock on the per-request path
        self.sent = 0  # hits already added to the shared counter
        self.shared = 0  # the shared total Redis last reported
        self.flushing = threading.Lock()


class RateCounter:
    """
    Per-second request counts per datastream, shared through Redis in batches.

    Each process counts locally and adds its count to the shared `rl:` key every `batch` requests (and
    with a second's first request), learning the total of all processes from the reply. The total it judges
    by is the last shared total plus its own unsent count: across N processes at most N × (batch − 1)
    requests over the limit in a second. The batch is 1 for limits below 100, so small limits are exact
    but for requests in flight on other threads at the same moment.

    The per-request path takes no lock (threads of a gthread worker would queue on it); only the thread
    that adds a batch to Redis holds the window's `flushing` lock, and the others go on estimating.
    """

    def __init__(self, add):
        self._add = add  # add(key, amount) -> shared total after adding
        self._lock = threading.Lock()
        self._windows: dict[str, _Window] = {}

    @staticmethod
    def batch_for(limit: int) -> int:
        return max(1, min(256, limit // 100))

    def _new_window(self, datastream_id: str, second: int, limit: int) -> _Window:
        with self._lock:  # once per second per datastream
            window = self._windows.get(datastream_id)
            if window is None or window.second != second:
                window = self._windows[datastream_id] = _Window(second, self.batch_for(limit))
        return window

    def hit(self, key_for, datastream_id: str, second: int, limit: int) -> int:
        """Count one request; return this process's view of the second's total across processes."""
        window = self._windows.get(datastream_id)
        if window is None or window.second != second:
            window = self._new_window(datastream_id, second, limit)
        hits = next(window.hits)
        if (hits - window.sent < window.batch and window.shared) or not window.flushing.acquire(False):
            return window.shared + hits - window.sent
        try:
            amount = hits - window.sent
            if amount <= 0:  # another thread's batch already carried this hit
                return window.shared
            window.sent = hits
            total = self._add(key_for(datastream_id, second), amount)
            window.shared = max(window.shared, total)
            return total
        finally:
            window.flushing.release()
