"""Redis cut off, hung or back: lookups and tokens keep answering correctly, and nothing stale is served after."""

import pytest

from accounts.services import api_credential_revoke
from personalization.edge.models import EdgeInvalidation

pytestmark = [pytest.mark.django_db, pytest.mark.services]


def answers(scenario, headers):
    """What an anonymous and an authenticated caller get, less the request id."""
    return scenario.payload(scenario.lookup()), scenario.payload(scenario.lookup(headers=headers))


def test_lookups_answer_the_same_with_redis_cut(cut_redis, scenario):
    headers = scenario.auth_headers()
    before = answers(scenario, headers)

    cut_redis.cut()

    assert answers(scenario, headers) == before
    assert not cut_redis.store.breaker.closed


def test_a_lookup_with_redis_cut_runs_a_bounded_number_of_queries(cut_redis, scenario, django_assert_max_num_queries):
    headers = scenario.auth_headers()
    scenario.lookup(headers=headers)
    cut_redis.cut()
    scenario.lookup(headers=headers)  # the breaker opens

    with django_assert_max_num_queries(4):
        entry = scenario.entry(scenario.lookup(headers=headers), "adServerAlias")

    assert entry["attributes"]["countryCode"] == {"value": "DE"}


def test_the_token_endpoint_works_with_redis_cut(cut_redis, scenario):
    credential, secret = scenario.credential()
    cut_redis.cut()

    token = scenario.token(credential, secret)

    headers = {"Authorization": "Bearer %s" % token, "x-api-key": credential.client_id}
    assert "attributes" in scenario.entry(scenario.lookup(headers=headers), "adServerAlias")


def test_an_unknown_token_is_refused_with_redis_cut(cut_redis, scenario):
    credential, _secret = scenario.credential()
    cut_redis.cut()

    response = scenario.lookup(headers={"Authorization": "Bearer cpct_made-up", "x-api-key": credential.client_id})

    assert response.status_code == 401


def test_a_credential_revoked_while_redis_is_cut_is_refused_once_it_is_back(
    cut_redis, scenario, django_capture_on_commit_callbacks
):
    credential, secret = scenario.credential()
    headers = {"Authorization": "Bearer %s" % scenario.token(credential, secret), "x-api-key": credential.client_id}
    scenario.lookup(headers=headers)
    assert scenario.lookup(headers=headers).status_code == 200  # the token is held by the store
    cut_redis.cut()

    with django_capture_on_commit_callbacks(execute=True):
        api_credential_revoke(user=scenario.admin, credential=credential)

    assert EdgeInvalidation.objects.count() == 1, "the invalidation waits in PostgreSQL"
    assert scenario.lookup(headers=headers).status_code == 401
    cut_redis.restore()
    assert cut_redis.serving_from_redis(lambda: scenario.lookup(headers=headers))
    assert scenario.lookup(headers=headers).status_code == 401
    assert EdgeInvalidation.objects.count() == 0


def test_a_destination_disabled_while_redis_is_cut_is_not_served_once_it_is_back(
    cut_redis, scenario, django_capture_on_commit_callbacks
):
    assert len(scenario.payload(scenario.lookup())) == 2
    cut_redis.cut()

    with django_capture_on_commit_callbacks(execute=True):
        scenario.audiences_only.enabled = False
        scenario.audiences_only.save()

    assert [entry["alias"] for entry in scenario.payload(scenario.lookup())] == ["adServerAlias"]
    cut_redis.restore()
    assert cut_redis.serving_from_redis(scenario.lookup)
    assert [entry["alias"] for entry in scenario.payload(scenario.lookup())] == ["adServerAlias"]
    assert EdgeInvalidation.objects.count() == 0


def test_with_redis_cut_a_process_reads_a_configuration_once_and_then_only_its_change_count(cut_redis, scenario):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    scenario.lookup()
    cut_redis.cut()
    first = scenario.payload(scenario.lookup())  # the breaker opens; the configuration is loaded

    with CaptureQueriesContext(connection) as queries:
        assert scenario.payload(scenario.lookup()) == first

    read = " ".join(query["sql"] for query in queries.captured_queries)
    assert "edge_configversion" in read
    assert "destinations_destination" not in read, "the configuration was not rebuilt"


def test_a_mapping_added_while_redis_is_cut_is_served_by_the_next_lookup(
    cut_redis, scenario, django_capture_on_commit_callbacks
):
    from tests.factories import MappingFactory

    headers = scenario.auth_headers()
    scenario.lookup(headers=headers)
    cut_redis.cut()
    before = scenario.entry(scenario.lookup(headers=headers), "adServerAlias")["attributes"]

    with django_capture_on_commit_callbacks(execute=True):
        MappingFactory(destination=scenario.with_attributes, source=scenario.points, target="loyaltyPoints")

    after = scenario.entry(scenario.lookup(headers=headers), "adServerAlias")["attributes"]
    assert "loyaltyPoints" not in before
    assert after["loyaltyPoints"] == {"value": 1200}


def test_a_datastream_disabled_while_redis_is_cut_is_refused_by_the_next_lookup(
    cut_redis, scenario, django_capture_on_commit_callbacks
):
    scenario.lookup()
    cut_redis.cut()
    assert scenario.lookup().status_code == 200

    with django_capture_on_commit_callbacks(execute=True):
        scenario.datastream.enabled = False
        scenario.datastream.save()

    response = scenario.lookup()
    assert response.status_code == 422
    assert "EXEG-0004-422" in response.json()["type"]


def test_a_profile_changed_while_redis_is_cut_shows_once_it_is_back(
    cut_redis, scenario, django_capture_on_commit_callbacks
):
    headers = scenario.auth_headers()
    scenario.lookup(headers=headers)
    cut_redis.cut()

    with django_capture_on_commit_callbacks(execute=True):
        scenario.profile.attributes["homeAddress"]["countryCode"] = "FR"
        scenario.profile.save()

    cut_redis.restore()
    assert cut_redis.serving_from_redis(scenario.lookup)
    attributes = scenario.entry(scenario.lookup(headers=headers), "adServerAlias")["attributes"]
    assert attributes["countryCode"] == {"value": "FR"}


def test_the_store_serves_warm_again_after_redis_returns(cut_redis, scenario, django_assert_num_queries):
    scenario.lookup()
    cut_redis.cut()
    scenario.lookup()
    cut_redis.restore()
    assert cut_redis.serving_from_redis(scenario.lookup)
    scenario.lookup()

    with django_assert_num_queries(0):
        assert scenario.payload(scenario.lookup()) != []


def test_once_the_breaker_is_open_no_lookup_waits_on_a_hung_redis(cut_redis, scenario):
    before = scenario.payload(scenario.lookup())
    cut_redis.store.breaker.interval = 3600  # only lookups would reach the proxy during the test, not the prober
    cut_redis.hang()
    assert scenario.payload(scenario.lookup()) == before  # this one waits for the timeout and opens the breaker
    tried = cut_redis.proxy.accepted, cut_redis.proxy.received

    served = [scenario.payload(scenario.lookup()) for _ in range(20)]

    assert served == [before] * 20
    assert (cut_redis.proxy.accepted, cut_redis.proxy.received) == tried, "no lookup touched Redis"


def test_a_worker_started_with_redis_down_serves(cut_redis, scenario):
    import importlib.util
    from pathlib import Path

    before = scenario.payload(scenario.lookup())
    cut_redis.cut()
    cut_redis.store.reset()  # a new worker process: nothing connected, nothing known
    spec = importlib.util.spec_from_file_location("gunicorn_conf", Path(__file__).parents[2] / "gunicorn.conf.py")
    conf = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(conf)

    class Worker:
        class log:  # noqa: N801 - gunicorn's worker.log
            @staticmethod
            def info(*args):
                pass

    conf.post_worker_init(Worker())

    assert scenario.payload(scenario.lookup()) == before
    cut_redis.restore()
    assert cut_redis.serving_from_redis(scenario.lookup)
    assert scenario.payload(scenario.lookup()) == before
