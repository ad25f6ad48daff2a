"""Each worker's in-memory mirror of the edge store: fast when warm, never stale once Redis has a change."""

import pytest

from django.utils import timezone

from personalization.audiences.models import AudienceMembership
from personalization.edge.store import identity_key, key_of

pytestmark = [pytest.mark.django_db, pytest.mark.services]


@pytest.fixture
def mirrored(mirrored_store):
    return mirrored_store


@pytest.fixture
def other_process(mirrored):
    """A Redis connection of its own, as another worker or a Celery task would have."""
    import redis

    from tests.edge.conftest import REDIS_URL

    client = redis.Redis.from_url(REDIS_URL)
    yield client
    client.close()


@pytest.fixture
def round_trips(mirrored, monkeypatch):
    """Count the commands this process sends to Redis on its data connections."""
    redis = mirrored._raw_redis()
    sent = []
    original = redis.execute_command

    def counted(*args, **kwargs):
        sent.append(args[0])
        return original(*args, **kwargs)

    monkeypatch.setattr(redis, "execute_command", counted)
    return sent


def answer_key(store, scenario) -> str:
    """The visitor's profile facts entry, as another process would name it."""
    identity = identity_key("ECID", scenario.ecid.value)
    return store._full_key(key_of("pf", scenario.sandbox.pk, identity))


def exit_quietly(scenario):
    """Change the database without announcing it, so only an edge-store change can reveal it."""
    AudienceMembership.objects.filter(audience=scenario.gold, profile=scenario.profile).update(
        status=AudienceMembership.Status.EXITED, exited_at=timezone.now()
    )


def test_a_warm_lookup_is_answered_from_memory_without_a_round_trip(mirrored, scenario, round_trips):
    scenario.lookup()
    scenario.lookup()
    round_trips.clear()

    response = scenario.lookup()

    assert scenario.entry(response, "personalizationAlias")["segments"]
    assert round_trips == []


def test_a_change_another_process_makes_in_redis_shows_on_the_next_lookup(mirrored, scenario, other_process):
    assert scenario.entry(scenario.lookup(), "personalizationAlias")["segments"]
    exit_quietly(scenario)
    assert scenario.entry(scenario.lookup(), "personalizationAlias")["segments"], "served from memory until told"

    other_process.delete(answer_key(mirrored, scenario))

    assert scenario.entry(scenario.lookup(), "personalizationAlias")["segments"] == []


def test_a_burst_of_changes_is_caught_up_before_the_next_answer(mirrored, scenario, other_process):
    scenario.lookup()
    exit_quietly(scenario)
    pipe = other_process.pipeline(transaction=False)
    for number in range(20000):
        pipe.set(mirrored._full_key("pf:burst:{%d}" % number), "x" * 50, ex=60)
    pipe.delete(answer_key(mirrored, scenario))
    pipe.execute()

    assert scenario.entry(scenario.lookup(), "personalizationAlias")["segments"] == []


def test_a_lost_invalidation_connection_drops_the_copies_and_reads_redis(mirrored, scenario, other_process):
    scenario.lookup()
    address = "%s:%d" % mirrored._mirror._socket.getsockname()
    other_process.execute_command("CLIENT", "KILL", "ADDR", address)
    exit_quietly(scenario)
    other_process.delete(answer_key(mirrored, scenario))

    assert scenario.entry(scenario.lookup(), "personalizationAlias")["segments"] == []
    assert mirrored._mirror.values == {}


def test_a_forked_worker_never_uses_its_parents_connection_or_copies(mirrored, scenario):
    import os

    scenario.lookup()
    scenario.lookup()
    parent_socket = mirrored._mirror._socket
    assert mirrored._mirror.values

    child = os.fork()
    if child == 0:  # the child reports through its exit status: a bit per expectation, so a failure says which
        started_clean = mirrored._mirror._socket is None and not mirrored._mirror.values
        answered = scenario.entry(scenario.lookup(), "personalizationAlias")["segments"] != []
        reconnected = mirrored._mirror._socket is not None
        os._exit(started_clean * 4 + answered * 2 + reconnected)
    _pid, status = os.waitpid(child, 0)

    assert os.waitstatus_to_exitcode(status) == 0b111  # started clean, answered, connected afresh
    assert mirrored._mirror._socket is parent_socket
    assert scenario.entry(scenario.lookup(), "personalizationAlias")["segments"]


def test_a_starting_worker_copies_the_stored_answers_and_answers_warm(mirrored, scenario, round_trips):
    from django.core.management import call_command

    call_command("edge_rebuild", verbosity=0)
    mirrored._mirror.clear()

    assert mirrored.warm_mirror() == 2  # the answers for the known visitor's two identities
    assert answer_key(mirrored, scenario) in mirrored._mirror.values
    scenario.lookup()
    round_trips.clear()
    assert scenario.entry(scenario.lookup(), "personalizationAlias")["segments"]
    assert round_trips == []


def test_invalidations_split_over_reads_apply_once_complete_and_a_flush_drops_everything():
    from personalization.edge.mirror import Mirror

    mirror = Mirror({"host": "127.0.0.1", "port": 1, "username": None, "password": None, "timeout": 1}, ["e:"], 10)
    mirror.values.update({"e:a": "1", "e:b": "2"})
    push = b">2\r\n$10\r\ninvalidate\r\n*1\r\n$3\r\ne:a\r\n"

    assert mirror._apply(push[:9]) is False
    assert "e:a" in mirror.values
    assert mirror._apply(push[9:] + b"+PONG\r\n") is True  # the PING's reply came after it
    assert mirror.values == {"e:b": "2"}

    mirror._apply(b">2\r\n$10\r\ninvalidate\r\n_\r\n")
    assert mirror.values == {}


@pytest.mark.parametrize("data", [b"-ERR tracking is off\r\n", b"?what\r\n"])
def test_an_error_or_garbage_on_the_invalidation_connection_breaks_it(data):
    from personalization.edge.mirror import Mirror, _Broken

    mirror = Mirror({"host": "127.0.0.1", "port": 1, "username": None, "password": None, "timeout": 1}, ["e:"], 10)

    with pytest.raises(_Broken):
        mirror._apply(data)


def test_a_full_mirror_evicts_the_least_recently_used_copy(mirrored, other_process):
    from personalization.edge.mirror import Mirror, connection_settings

    mirror = Mirror(connection_settings(mirrored._raw_redis()), [mirrored._full_key("pf:")], capacity=3)
    try:
        assert mirror.sync()  # connected: copies are kept only while Redis can report changes
        keys = [mirrored._full_key("pf:lru:{%d}" % number) for number in range(4)]
        for key in keys[:3]:
            mirror.keep(mirror.begin([key]), {key: "copy"})
        mirror.touch(keys[0])  # the oldest copy is read again, so the second one is now the least recent

        mirror.keep(mirror.begin([keys[3]]), {keys[3]: "copy"})

        assert set(mirror.values) == {keys[0], keys[2], keys[3]}
    finally:
        mirror.close()


def test_the_mirror_counts_profile_hits_and_misses(mirrored, scenario):
    scenario.lookup()  # filled from the database
    scenario.lookup()  # read from Redis into the mirror
    hits, misses = mirrored._mirror.hits, mirrored._mirror.misses

    scenario.lookup()

    assert (mirrored._mirror.hits - hits, mirrored._mirror.misses - misses) == (1, 0)
