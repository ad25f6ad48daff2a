"""The per-second lookup counter: exact for small limits, shared in batches between processes."""

import pytest

from personalization.edge.ratelimit import RateCounter


class SharedCounter:
    """The Redis `INCRBY` the rate counters share, in memory: these tests are about the batching arithmetic."""

    def __init__(self):
        self.totals = {}

    def add(self, key, amount):
        self.totals[key] = self.totals.get(key, 0) + amount
        return self.totals[key]


def key_for(datastream_id, second):
    return "%s:%d" % (datastream_id, second)


@pytest.mark.parametrize("limit", [1, 3, 99])
def test_small_rate_limits_are_counted_exactly(limit):
    counter = RateCounter(SharedCounter().add)

    counts = [counter.hit(key_for, "ds", 100, limit) for _ in range(limit + 2)]

    assert counts == list(range(1, limit + 3))


def test_two_processes_together_overshoot_a_large_limit_by_less_than_a_batch_each():
    shared = SharedCounter()
    processes = [RateCounter(shared.add), RateCounter(shared.add)]
    limit = 1500
    admitted = 0
    for number in range(4000):
        if processes[number % 2].hit(key_for, "ds", 100, limit) <= limit:
            admitted += 1

    assert limit <= admitted < limit + 2 * RateCounter.batch_for(limit)


def test_a_new_second_starts_a_new_count():
    counter = RateCounter(SharedCounter().add)
    for _ in range(10):
        counter.hit(key_for, "ds", 100, 5)

    assert counter.hit(key_for, "ds", 101, 5) == 1
