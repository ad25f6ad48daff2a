"""
The edge's Prometheus metrics: what `/metrics` reports, and the calls the hot path makes to count.

Under gunicorn every worker process writes its values to files in `PROMETHEUS_MULTIPROC_DIR` (gunicorn.conf.py
creates it before the workers start and tells prometheus-client when a worker exits), and `/metrics` sums them
over the live workers; without that variable (runserver, tests, one process) the values live in this process's
default registry. `EDGE_METRICS = False` turns the counting off (the bench's "metrics off" row).

The hot path's counts (answered lookups, their latency, mirror hits and misses) are tallied per thread and added
to the shared values every `FLUSH_EVERY` lookups and at least every `FLUSH_INTERVAL` seconds (a daemon thread
per process), so a lookup pays a few additions under an uncontended lock, not a locked file write per value;
`/metrics` lags by at most that second. Errors are counted at once, and the fallback gauge is written only when
the state changes.
"""

import os
import threading
import time
from bisect import bisect_left

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, Gauge, Histogram, multiprocess
from prometheus_client import generate_latest as _generate_latest

from django.conf import settings
from django.core.signals import setting_changed

__all__ = [
    "CONTENT_TYPE",
    "flush",
    "invalidations_applied",
    "lookup_finished",
    "mirror_read",
    "redis_fallback",
    "render",
]

CONTENT_TYPE = CONTENT_TYPE_LATEST
OUTCOMES = ("answered", "rejected", "rate_limited", "failed")

_LOOKUPS = Counter(
    "cpc_edge_lookups",
    "Lookups (interact calls) by outcome: answered, rejected (4xx), rate_limited, failed (5xx).",
    ["outcome"],
)
_ERRORS = Counter("cpc_edge_lookup_errors", "Lookups answered with an error, by EXEG code.", ["code"])
_LATENCY = Histogram(
    "cpc_edge_lookup_seconds",
    "Time to answer a lookup, from the view's start to its response (seconds).",
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
_RATE_LIMITED = Counter("cpc_edge_rate_limited_requests", "Lookups refused by the per-second rate limit (429).")
_MIRROR_HITS = Counter("cpc_edge_mirror_hits", "Edge keys read from the worker's in-memory mirror.")
_MIRROR_MISSES = Counter("cpc_edge_mirror_misses", "Edge keys the mirror lacked and read from Redis.")
_FALLBACK = Gauge(
    "cpc_edge_redis_fallback",
    "1 while a worker answers from PostgreSQL because Redis is unavailable (the highest over live workers).",
    multiprocess_mode="livemax",
)
_INVALIDATIONS = Counter("cpc_edge_invalidations_applied", "Edge store entries invalidated after a write.")

_BY_OUTCOME = {outcome: _LOOKUPS.labels(outcome) for outcome in OUTCOMES}
_ANSWERED = _BY_OUTCOME["answered"]
_BOUNDS = tuple(_LATENCY._upper_bounds)
_clock = time.perf_counter
# How often (seconds) and after how many lookups a thread's tally is added to the shared values.
FLUSH_INTERVAL = 1.0
FLUSH_EVERY = 64

_state = {"enabled": None, "fallback": None}


class _Tally:
    """One thread's counts since its last flush (the owner and the flusher thread take its lock in turn)."""

    __slots__ = ("answered", "buckets", "count", "hits", "lock", "misses", "total")

    def __init__(self):
        self.lock = threading.Lock()
        self._reset()

    def _reset(self) -> None:
        self.answered = self.hits = self.misses = self.count = 0
        self.total = 0.0
        self.buckets = [0] * len(_BOUNDS)

    def flush(self) -> None:
        """Add the counts to the shared values (the lock is held)."""
        if self.answered:
            _ANSWERED.inc(self.answered)
        if self.hits:
            _MIRROR_HITS.inc(self.hits)
        if self.misses:
            _MIRROR_MISSES.inc(self.misses)
        if self.count:
            # The histogram's own values, added to in bulk: `observe` per lookup costs a locked file write per
            # call under gunicorn (prometheus-client is pinned below 1.0 for these attributes).
            _LATENCY._sum.inc(self.total)
            for index, hits in enumerate(self.buckets):
                if hits:
                    _LATENCY._buckets[index].inc(hits)
        self._reset()


_local = threading.local()
_tallies: list[_Tally] = []
_registry_lock = threading.Lock()
_flusher: dict = {"thread": None}


def _tally() -> _Tally:
    tally = getattr(_local, "tally", None)
    if tally is None:
        tally = _local.tally = _Tally()
        with _registry_lock:
            _tallies.append(tally)
            if _flusher["thread"] is None:
                _flusher["thread"] = threading.Thread(target=_flush_forever, name="metrics-flush", daemon=True)
                _flusher["thread"].start()
    return tally


def _flush_forever() -> None:
    while True:
        time.sleep(FLUSH_INTERVAL)
        flush()


def flush() -> None:
    """Add every thread's pending counts to the shared values (the flusher does it each `FLUSH_INTERVAL`)."""
    with _registry_lock:
        tallies = list(_tallies)
    for tally in tallies:
        with tally.lock:
            tally.flush()


def _forked() -> None:
    # A forked child (a gunicorn worker) starts with no tallies and no flusher of its own yet.
    _local.__dict__.clear()
    _tallies.clear()
    _flusher["thread"] = None


os.register_at_fork(after_in_child=_forked)


def _enabled() -> bool:
    enabled = _state["enabled"]
    if enabled is None:
        enabled = _state["enabled"] = bool(getattr(settings, "EDGE_METRICS", True))
    return enabled


def lookup_finished(started: float, code: str | None) -> None:
    """Count one lookup that started at `started` (`time.perf_counter`), answered or refused with EXEG `code`."""
    if not _enabled():
        return
    elapsed = _clock() - started
    tally = _tally()
    with tally.lock:
        tally.count += 1
        tally.total += elapsed
        index = bisect_left(_BOUNDS, elapsed)
        if index < len(_BOUNDS):
            tally.buckets[index] += 1
        if code is None:
            tally.answered += 1
        if tally.count >= FLUSH_EVERY:
            tally.flush()
    if code is not None:  # rare: counted at once
        status = code.rsplit("-", 1)[1]
        if status == "429":
            _BY_OUTCOME["rate_limited"].inc()
            _RATE_LIMITED.inc()
        else:
            _BY_OUTCOME["failed" if status.startswith("5") else "rejected"].inc()
        _ERRORS.labels(code).inc()


def mirror_read(hits: int, misses: int) -> None:
    """Count keys a lookup found in, and missed from, the worker's mirror."""
    if not _enabled():
        return
    tally = _tally()
    with tally.lock:
        tally.hits += hits
        tally.misses += misses


def redis_fallback(active: bool) -> None:
    """Report whether this process answers from PostgreSQL (Redis unavailable); writes only on a change."""
    if _state["fallback"] is active or not _enabled():
        return
    _state["fallback"] = active
    _FALLBACK.set(1 if active else 0)


def invalidations_applied(count: int) -> None:
    if count and _enabled():
        _INVALIDATIONS.inc(count)


def render() -> bytes:
    """Return every metric in the Prometheus text format: summed over gunicorn's workers when under gunicorn."""
    flush()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return _generate_latest(registry)
    return _generate_latest(REGISTRY)


def _reset_on_settings_change(*, setting, **kwargs):
    if setting == "EDGE_METRICS":
        _state["enabled"] = None


setting_changed.connect(_reset_on_settings_change)
