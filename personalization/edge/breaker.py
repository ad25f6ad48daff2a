"""
The edge store's circuit breaker: after one Redis failure, no request waits on Redis until it answers again.

Closed (the normal state), every lookup uses Redis. The first failure opens it: from then on lookups answer
from PostgreSQL at once, and a background thread of the process pings Redis (with a short timeout) until it
answers. Only then may a request thread close the breaker, and it does so after the store's recovery step
(applying the durable invalidations recorded meanwhile), so nothing written during the outage is served stale.
"""

import logging
import os
import threading
import weakref

__all__ = ["Breaker"]

logger = logging.getLogger(__name__)


class Breaker:
    def __init__(self, probe, *, interval: float):
        self.probe = probe  # raises when Redis does not answer
        self.interval = interval
        self.closed = True  # read without a lock on every lookup
        self.trips = 0
        self._reachable = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._prober: threading.Thread | None = None
        _BREAKERS.add(self)

    @property
    def reachable(self) -> bool:
        """Whether the prober has seen Redis answer since the breaker opened."""
        return self._reachable.is_set()

    def trip(self, error) -> None:
        """Open the breaker (or keep it open) and make sure a prober is watching for Redis to come back."""
        with self._lock:
            if self.closed:
                self.trips += 1
                logger.warning("edge.redis.unavailable", extra={"error": str(error)})
            self.closed = False
            self._reachable.clear()
            if self._prober is None or not self._prober.is_alive():
                self._prober = threading.Thread(target=self._watch, name="edge-redis-prober", daemon=True)
                self._prober.start()

    def close(self) -> None:
        """Serve from Redis again (the caller has run the recovery step)."""
        with self._lock:
            if not self.closed:
                logger.info("edge.redis.recovered")
            self.closed = True

    def stop(self) -> None:
        """Stop the prober (the store is being reset)."""
        self._stop.set()

    def _watch(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.probe()
            except Exception:  # noqa: S112 - any failure means "not yet"
                continue
            self._reachable.set()
            return

    def _forked(self) -> None:
        """In a forked child: the parent's prober thread does not exist here; start one if still open."""
        self._lock = threading.Lock()
        self._prober = None
        if not self.closed:
            self._reachable.clear()
            self.closed = True
            self.trip("inherited an open breaker")


_BREAKERS: "weakref.WeakSet[Breaker]" = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for breaker in list(_BREAKERS):
        breaker._forked()


os.register_at_fork(after_in_child=_after_fork_in_child)
