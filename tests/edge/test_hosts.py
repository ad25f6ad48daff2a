"""
Scale-out, shown: two gunicorn instances (two "hosts", each with its own workers and mirrors) on one Redis and one
PostgreSQL. A change made through one host's API is in the other host's next lookup.
"""

import http.client
import json

import pytest

from accounts import constants as perms
from accounts.services import personal_token_create
from tests.edge.conftest import Scenario
from tests.utils.gunicorn_hosts import serving_hosts

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.services]


@pytest.fixture
def hosts(transactional_db, tmp_path):
    """Two hosts on one PostgreSQL and one Redis."""
    with serving_hosts(2, tmp_path) as started:
        yield started


@pytest.fixture
def shop(client, grant):
    """The lookup tests' sandbox, committed (the hosts are other processes), and an activator's API token."""
    built = Scenario(client, grant)
    grant(built.admin, built.sandbox, perms.VIEW_DESTINATIONS, perms.ACTIVATE_DESTINATIONS, perms.VIEW_PROFILES)
    grant(built.admin, built.sandbox, perms.VIEW_SEGMENTS)
    _token, plaintext = personal_token_create(user=built.admin, name="hosts test")
    built.api_headers = {"Authorization": "Token %s" % plaintext}
    return built


def test_an_activation_made_through_one_host_is_in_the_other_hosts_next_lookup(hosts, shop):
    first, second = hosts
    # given: the other host answers warm without the audience
    assert second.segments(shop) == {str(shop.gold.pk)}
    assert second.segments(shop) == {str(shop.gold.pk)}

    # when: a marketer activates it through the first host's API
    status, activation = first.request(
        "POST",
        "/api/v1/activations/",
        {"destination": str(shop.audiences_only.pk), "audience": str(shop.germans.pk)},
        shop.api_headers,
    )
    assert status == 201, activation

    # then: the second host's next lookup has it, and loses it again once it is removed through the first host
    assert second.segments(shop) == {str(shop.gold.pk), str(shop.germans.pk)}
    status, _body = first.request("DELETE", "/api/v1/activations/%s/" % activation["id"], None, shop.api_headers)
    assert status == 204
    assert second.segments(shop) == {str(shop.gold.pk)}


def test_both_hosts_answer_every_lookup_the_same(hosts, shop):
    first, second = hosts

    assert first.segments(shop, "adServerAlias") == second.segments(shop, "adServerAlias")
    assert first.segments(shop) == second.segments(shop) == {str(shop.gold.pk)}


def test_a_lookup_sent_in_chunks_is_read_whole(hosts, shop):
    body = json.dumps(shop.body()).encode()
    conn = http.client.HTTPConnection("127.0.0.1", hosts[0].port, timeout=10)
    try:
        conn.request(
            "POST",
            "/ee/v2/interact?datastreamId=%s" % shop.datastream.pk,
            body=iter([body[:7], body[7:20], body[20:]]),
            headers={"Content-Type": "application/json"},
            encode_chunked=True,
        )
        response = conn.getresponse()
        status, answer = response.status, json.loads(response.read())
    finally:
        conn.close()

    assert status == 200, answer
    (handle,) = [handle for handle in answer["handle"] if handle["type"] == "activation:pull"]
    assert {entry["alias"] for entry in handle["payload"]} == {"personalizationAlias", "adServerAlias"}
