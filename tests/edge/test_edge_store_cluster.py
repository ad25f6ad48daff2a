"""
The edge store on a real three-primary Redis Cluster answers exactly as on one Redis, spreads its entries over
every shard, follows a profile change made through the API, and keeps answering (and nothing stale) while slots
move between nodes or a node is killed and started again.

The main lookup cases (warm, authenticated, same-page segmentation, each configuration change, a revoked
credential, the rebuild) run on the cluster too: `redis_store` in conftest.py has cluster parameters.
"""

import json
import threading
import time

import pytest

from django.utils import timezone

from accounts import constants as perms
from personalization.audiences.models import AudienceMembership
from personalization.edge.store import identity_key, key_of
from tests.edge.conftest import edge_store_on_redis
from tests.factories import ActivationFactory, AudienceFactory, IdentityFactory, ProfileFactory
from tests.utils.tcp_proxy import TcpProxy

pytestmark = [pytest.mark.django_db, pytest.mark.services]


@pytest.fixture(params=["mirrored", "not mirrored"])
def cluster_store(request, settings, redis_cluster_nodes):
    settings.EDGE_REDIS_PROBE_INTERVAL = 0.02
    settings.EDGE_RATE_LIMIT = 0  # the tests look up in a tight loop while slots move
    store = edge_store_on_redis(settings, 1000 if request.param == "mirrored" else 0, redis_cluster_nodes)
    yield store
    redis_cluster_nodes.wait_until_ok()
    store.clear()
    store.reset()


def without_request_id(response) -> dict:
    assert response.status_code == 200, response.content
    body = response.json()
    body.pop("requestId")
    return body


def the_lookups(scenario, headers) -> list[dict]:
    """Cold, then warm, unauthenticated and authenticated, by ECID and by Email, and an unknown visitor."""
    calls = [
        lambda: scenario.lookup(),
        lambda: scenario.lookup(),
        lambda: scenario.lookup(headers=headers),
        lambda: scenario.lookup(headers=headers),
        lambda: scenario.lookup(scenario.body("Email", scenario.email.value), headers=headers),
        lambda: scenario.lookup(scenario.body(value="9" * 38)),
    ]
    return [without_request_id(call()) for call in calls]


def test_every_lookup_answers_on_the_cluster_exactly_as_on_one_redis(settings, scenario, redis_cluster_nodes):
    headers = scenario.auth_headers()
    single = edge_store_on_redis(settings, 1000)
    on_one_redis = the_lookups(scenario, headers)
    single.clear()

    cluster = edge_store_on_redis(settings, 1000, redis_cluster_nodes)
    try:
        on_the_cluster = the_lookups(scenario, headers)
    finally:
        cluster.clear()
        cluster.reset()

    assert on_the_cluster == on_one_redis
    assert on_the_cluster[2]["handle"][0]["payload"]  # not vacuous: the member's audiences and attributes


def test_profile_entries_spread_over_every_shard(cluster_store, scenario, redis_cluster_nodes):
    for number in range(60):
        profile = ProfileFactory(sandbox=scenario.sandbox)
        IdentityFactory(profile=profile, namespace=scenario.ecid_ns, value="%038d" % number)
        scenario.lookup(scenario.body(value="%038d" % number))

    pattern = cluster_store._full_key("pf:*")
    per_node = {
        port: len(redis_cluster_nodes.cli("-p", str(port), "--scan", "--pattern", pattern).split())
        for port in redis_cluster_nodes.ports
    }
    assert sum(per_node.values()) == 60
    assert all(count > 0 for count in per_node.values()), per_node


def test_a_profile_change_through_the_api_is_on_the_next_lookup(
    cluster_store, scenario, client, grant, django_capture_on_commit_callbacks
):
    platinum = AudienceFactory(
        sandbox=scenario.sandbox,
        name="Platinum",
        evaluation="streaming",
        rule={"field": "loyalty.status", "op": "equals", "value": "platinum"},
    )
    with django_capture_on_commit_callbacks(execute=True):
        ActivationFactory(destination=scenario.audiences_only, audience=platinum)
    assert str(platinum.pk) not in segment_ids(scenario)  # warm now, without the new audience
    grant(scenario.admin, scenario.sandbox, perms.MANAGE_PROFILES, perms.VIEW_PROFILES)
    client.force_login(scenario.admin)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.patch(
            "/api/v1/profiles/ECID/%s/?sandbox=%s" % (scenario.ecid.value, scenario.sandbox.name),
            json.dumps({"attributes": {"loyalty": {"status": "platinum"}}}),
            content_type="application/json",
        )
    assert response.status_code == 200, response.content

    assert str(platinum.pk) in segment_ids(scenario)


def segment_ids(scenario) -> set[str]:
    return {segment["id"] for segment in scenario.entry(scenario.lookup(), "personalizationAlias")["segments"]}


def exit_gold(scenario, capture) -> None:
    membership = AudienceMembership.objects.get(audience=scenario.gold, profile=scenario.profile)
    with capture(execute=True):
        membership.status, membership.exited_at = AudienceMembership.Status.EXITED, timezone.now()
        membership.save()


def node_of_visitor(store, scenario, nodes) -> int:
    """Return the port of the node holding the visitor's profile entry."""
    node = store._raw_redis().get_node_from_key(
        store._full_key(key_of("pf", scenario.sandbox.pk, identity_key("ECID", scenario.ecid.value)))
    )
    return int(node.port)


def test_moving_the_visitors_slots_to_another_node_during_lookups_costs_no_error_and_serves_nothing_stale(
    cluster_store, scenario, redis_cluster_nodes, django_capture_on_commit_callbacks
):
    gold = str(scenario.gold.pk)
    assert segment_ids(scenario) == {gold}  # filled
    source = node_of_visitor(cluster_store, scenario, redis_cluster_nodes)
    target = next(port for port in redis_cluster_nodes.ports if port != source)
    share = sum(end - start + 1 for start, end in _slot_ranges(redis_cluster_nodes, source))  # all the node has

    answers, errors = [], []
    mover = threading.Thread(target=_capture, args=(errors, redis_cluster_nodes.reshard, source, target, share))
    mover.start()
    while mover.is_alive():
        response = scenario.lookup()
        answers.append((response.status_code, scenario.entry(response, "personalizationAlias")["segments"]))
    mover.join()
    try:
        assert not errors, errors
        assert node_of_visitor(cluster_store, scenario, redis_cluster_nodes) == target
        assert answers and all(status == 200 and [s["id"] for s in segments] == [gold] for status, segments in answers)

        # the entry now lives on another node: a change still reaches this process's copy
        assert segment_ids(scenario) == {gold}
        exit_gold(scenario, django_capture_on_commit_callbacks)
        assert segment_ids(scenario) == set()
    finally:
        redis_cluster_nodes.reshard(target, source, share)  # the cluster balanced again for the other tests


def _slot_ranges(nodes, port) -> list[tuple[int, int]]:
    """Return the slot ranges a node serves, from `CLUSTER NODES`."""
    ranges = []
    my_id = nodes.node_id(port)
    lines = nodes.cli("-p", str(port), "cluster", "nodes").splitlines()
    for line in lines:
        fields = line.split()
        if fields and fields[0] == my_id:
            for field in fields[8:]:
                if field.startswith("["):
                    continue  # a slot being migrated
                start, _, end = field.partition("-")
                ranges.append((int(start), int(end or start)))
    return ranges


def _capture(errors, function, *args):
    try:
        function(*args)
    except Exception as error:  # reported by the test, not lost in the thread
        errors.append(error)


def test_a_killed_node_changes_no_answer_and_nothing_stale_is_served_when_it_returns(
    cluster_store, scenario, redis_cluster_nodes, django_capture_on_commit_callbacks
):
    gold = str(scenario.gold.pk)
    headers = scenario.auth_headers()
    assert segment_ids(scenario) == {gold}
    attributes = scenario.entry(scenario.lookup(headers=headers), "adServerAlias")["attributes"]
    victim = next(
        port
        for port in redis_cluster_nodes.ports
        if port != node_of_visitor(cluster_store, scenario, redis_cluster_nodes)
    )

    redis_cluster_nodes.kill(victim)
    try:
        # answered from PostgreSQL or the live shards: the same answers, no error
        for _ in range(20):
            assert segment_ids(scenario) == {gold}
            assert scenario.entry(scenario.lookup(headers=headers), "adServerAlias")["attributes"] == attributes
        # a change while the node is down shows at once...
        exit_gold(scenario, django_capture_on_commit_callbacks)
        assert segment_ids(scenario) == set()
    finally:
        redis_cluster_nodes.restart(victim)

    # ...and stays once the node is back: the visitor's entry on a live shard was not left with the old answer
    for _ in range(50):
        assert segment_ids(scenario) == set()
        if cluster_store.breaker.closed:
            break
    assert cluster_store.breaker.closed, "the store serves from the cluster again"
    assert segment_ids(scenario) == set()


@pytest.mark.parametrize("mirror_size", [1000, 0], ids=["mirrored", "not mirrored"])
def test_a_worker_started_while_the_cluster_is_unreachable_serves_and_joins_the_cluster_once_it_answers(
    settings, scenario, redis_cluster_nodes, mirror_size
):
    seed = TcpProxy("127.0.0.1", redis_cluster_nodes.ports[0])
    seed.cut()
    settings.EDGE_REDIS_PROBE_INTERVAL = 0.02
    store = edge_store_on_redis(settings, mirror_size, redis_cluster_nodes)
    settings.EDGE_REDIS_URL = "redis://%s/0" % seed.url_host  # the worker knows the cluster by this node only
    try:
        assert segment_ids(scenario) == {str(scenario.gold.pk)}  # answered from PostgreSQL
        assert not store.breaker.closed

        seed.restore()
        deadline = time.monotonic() + 10
        while not store.breaker.closed and time.monotonic() < deadline:
            assert segment_ids(scenario) == {str(scenario.gold.pk)}
            time.sleep(0.02)

        assert store.breaker.closed, "the worker joined the cluster"
        assert segment_ids(scenario) == {str(scenario.gold.pk)}
        assert store.holds_config(scenario.datastream.pk)  # filled into the cluster, not only answered
    finally:
        seed.close()
        store.clear()
        store.reset()
