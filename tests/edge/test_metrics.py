"""`/metrics`: the edge's counters in the Prometheus text format, moved by lookups, read only by whom it allows."""

import os
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from django.core.cache import cache

from personalization.edge import metrics
from personalization.profiles.models import Profile
from tests.factories import UserFactory

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "metrics-token-for-tests"


def sample(name: str, **labels) -> float:
    metrics.flush()  # what the flusher thread does every second
    return REGISTRY.get_sample_value(name, labels) or 0.0


class Counts:
    """The values of some samples before an action, to read how much the action moved them."""

    def __init__(self, *samples):
        self.samples = samples
        self.before = [sample(name, **labels) for name, labels in samples]

    def moved(self) -> list[float]:
        return [
            sample(name, **labels) - before for (name, labels), before in zip(self.samples, self.before, strict=True)
        ]


ANSWERED = ("cpc_edge_lookups_total", {"outcome": "answered"})
REJECTED = ("cpc_edge_lookups_total", {"outcome": "rejected"})
RATE_LIMITED = ("cpc_edge_lookups_total", {"outcome": "rate_limited"})
LATENCY_COUNT = ("cpc_edge_lookup_seconds_count", {})


@pytest.fixture(autouse=True)
def _metrics_token(settings):
    settings.METRICS_TOKEN = TOKEN


def test_an_answered_lookup_counts_as_answered_and_is_timed(scenario):
    counts = Counts(ANSWERED, REJECTED, LATENCY_COUNT)

    scenario.payload(scenario.lookup())

    assert counts.moved() == [1, 0, 1]


def test_a_refused_lookup_counts_as_rejected_under_its_error_code(scenario):
    counts = Counts(ANSWERED, REJECTED, ("cpc_edge_lookup_errors_total", {"code": "EXEG-0306-400"}))

    response = scenario.lookup({"event": {"xdm": {"identityMap": {}}}})

    assert response.status_code == 400
    assert counts.moved() == [0, 1, 1]


def test_a_failure_on_our_side_counts_as_failed(scenario, monkeypatch):
    from personalization.edge import views

    def broken(*args, **kwargs):
        raise RuntimeError("the store is on fire")

    monkeypatch.setattr(views, "interact", broken)
    counts = Counts(
        ("cpc_edge_lookups_total", {"outcome": "failed"}), ("cpc_edge_lookup_errors_total", {"code": "EXEG-0001-500"})
    )

    assert scenario.lookup().status_code == 500
    assert counts.moved() == [1, 1]


def test_rate_limited_lookups_are_counted(scenario, settings):
    settings.EDGE_RATE_LIMIT = 2
    cache.clear()
    counts = Counts(RATE_LIMITED, ("cpc_edge_rate_limited_requests_total", {}))

    statuses = [scenario.lookup().status_code for _ in range(5)]

    refused = statuses.count(429)
    assert refused >= 1
    assert counts.moved() == [refused, refused]


def test_mirror_hits_and_misses_are_counted(scenario, mirrored_store):
    hits, misses = ("cpc_edge_mirror_hits_total", {}), ("cpc_edge_mirror_misses_total", {})
    first = Counts(hits, misses)
    scenario.lookup()  # stores the config and the facts: this process's copies go with the writes
    scenario.lookup()  # reads them from Redis into the mirror
    assert first.moved()[1] >= 2

    warm = Counts(hits, misses)
    scenario.lookup()

    assert warm.moved() == [2, 0]  # the config version and the visitor's facts, from memory


def test_the_fallback_gauge_shows_while_redis_is_cut(scenario, cut_redis):
    scenario.lookup()

    cut_redis.cut()
    scenario.payload(scenario.lookup())
    during = sample("cpc_edge_redis_fallback")
    cut_redis.restore()
    assert cut_redis.serving_from_redis(scenario.lookup)
    after = sample("cpc_edge_redis_fallback")

    assert (during, after) == (1, 0)


def test_applied_invalidations_are_counted(scenario, django_capture_on_commit_callbacks):
    counts = Counts(("cpc_edge_invalidations_applied_total", {}))

    with django_capture_on_commit_callbacks(execute=True):
        profile = Profile.objects.get(pk=scenario.profile.pk)
        profile.attributes = {**profile.attributes, "loyalty": {"status": "silver"}}
        profile.save()

    assert counts.moved()[0] >= 1


def test_answered_lookups_reach_the_shared_values_within_the_flush_interval(scenario, monkeypatch):
    monkeypatch.setattr(metrics, "FLUSH_INTERVAL", 0.05)
    before = REGISTRY.get_sample_value("cpc_edge_lookups_total", {"outcome": "answered"}) or 0
    scenario.lookup()

    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if (REGISTRY.get_sample_value("cpc_edge_lookups_total", {"outcome": "answered"}) or 0) > before:
            break
        time.sleep(0.05)

    assert REGISTRY.get_sample_value("cpc_edge_lookups_total", {"outcome": "answered"}) == before + 1


def test_metrics_off_counts_nothing(scenario, settings):
    settings.EDGE_METRICS = False
    counts = Counts(ANSWERED, LATENCY_COUNT)

    scenario.lookup()

    assert counts.moved() == [0, 0]


#
# Who may read them
#


@pytest.mark.django_db
def test_anonymous_callers_are_asked_for_credentials(client):
    response = client.get("/metrics")

    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert b"cpc_edge" not in response.content


@pytest.mark.django_db
def test_a_wrong_token_is_refused(client):
    response = client.get("/metrics", headers={"Authorization": "Bearer not-the-token"})

    assert response.status_code == 401


@pytest.mark.django_db
def test_without_a_configured_token_no_bearer_token_opens_it(client, settings):
    settings.METRICS_TOKEN = ""

    response = client.get("/metrics", headers={"Authorization": "Bearer "})

    assert response.status_code == 401


@pytest.mark.django_db
def test_a_signed_in_user_who_is_not_a_superuser_is_refused(client, grant):
    user = UserFactory()
    client.force_login(user)

    assert client.get("/metrics").status_code == 403


@pytest.mark.django_db
def test_a_superuser_reads_the_metrics_in_prometheus_format(client, scenario):
    scenario.lookup()
    client.force_login(UserFactory(is_superuser=True, is_staff=True))

    response = client.get("/metrics")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    families = {family.name for family in text_string_to_metric_families(response.content.decode())}
    assert {
        "cpc_edge_lookups",
        "cpc_edge_lookup_errors",
        "cpc_edge_lookup_seconds",
        "cpc_edge_mirror_hits",
        "cpc_edge_mirror_misses",
        "cpc_edge_redis_fallback",
        "cpc_edge_rate_limited_requests",
        "cpc_edge_invalidations_applied",
    } <= families


@pytest.mark.django_db
def test_a_scraper_with_the_token_reads_them(client):
    response = client.get("/metrics", headers={"Authorization": "Bearer %s" % TOKEN})

    assert response.status_code == 200
    assert b"cpc_edge_lookups_total" in response.content


#
# Under gunicorn: one figure for all workers
#


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(url: str, headers: dict | None = None) -> tuple[int, bytes]:
    post = "interact" in url
    request = urllib.request.Request(url, headers=headers or {}, method="POST" if post else "GET")  # noqa: S310
    try:
        with urllib.request.urlopen(request, data=b"{}" if post else None, timeout=5) as response:  # noqa: S310
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def test_under_gunicorn_the_metrics_sum_every_worker(tmp_path):
    # given gunicorn with the project's configuration and two workers
    port = _free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "personalization.settings",
        "SECRET_KEY": "metrics-test-" + "x" * 40,
        "DEBUG": "0",
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "0",
        "METRICS_TOKEN": TOKEN,
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),
        "REDIS_URL": "",
    }
    command = [str(ROOT / ".venv" / "bin" / "gunicorn"), "personalization.wsgi", "--bind", "127.0.0.1:%d" % port]
    server = subprocess.Popen([*command, "--workers", "2"], cwd=ROOT, env=env, start_new_session=True)
    base = "http://127.0.0.1:%d" % port
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if _get(base + "/ee/health")[0] == 200:
                    break
            except OSError:
                time.sleep(0.2)
        # when 20 lookups with a malformed datastream id (refused before any database work) reach its workers
        for _ in range(20):
            assert _get(base + "/ee/v2/interact?datastreamId=not-a-uuid")[0] == 400

        # then /metrics reports all 20, whichever worker answers it
        status, body = _get(base + "/metrics", {"Authorization": "Bearer %s" % TOKEN})
    finally:
        os.killpg(server.pid, 15)
        server.wait(timeout=10)

    assert status == 200
    samples = {
        (item.name, tuple(sorted(item.labels.items()))): item.value
        for family in text_string_to_metric_families(body.decode())
        for item in family.samples
    }
    assert samples[("cpc_edge_lookup_errors_total", (("code", "EXEG-0003-400"),))] == 20
    assert len(list((tmp_path / "metrics").glob("counter_*.db"))) >= 1
