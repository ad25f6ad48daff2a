"""`query.identity.fetch` on the Server API (v2): an `identity:result` handle for the namespaces asked for."""

import json

import pytest

from accounts.permissions import forget_permissions
from tests.factories import IdentityFactory, SandboxFactory

pytestmark = pytest.mark.django_db


def fetching(scenario, *codes, identity_map=None):
    identity_map = identity_map or {"Email": [{"id": scenario.email.value, "primary": True}]}
    return {"event": {"xdm": {"identityMap": identity_map}}, "query": {"identity": {"fetch": list(codes)}}}


def answer(response):
    assert response.status_code == 200, response.content
    return response.json()


def fetched(response):
    [handle] = [handle for handle in answer(response)["handle"] if handle["type"] == "identity:result"]
    return [(item["namespace"]["code"], item["id"]) for item in handle["payload"]]


def test_an_identity_the_request_carried_is_named_back_to_any_caller(scenario):
    identity_map = {
        "Email": [{"id": scenario.email.value, "primary": True}],
        "ECID": [{"id": scenario.ecid.value, "authenticatedState": "ambiguous"}],
    }

    response = scenario.lookup(fetching(scenario, "ECID", identity_map=identity_map))

    assert fetched(response) == [("ECID", scenario.ecid.value)]
    assert "warnings" not in answer(response)


def test_a_credential_of_the_sandbox_fetches_the_profiles_identities_the_request_did_not_carry(scenario):
    second_ecid = IdentityFactory(profile=scenario.profile, namespace=scenario.ecid_ns, value="3" * 38)

    response = scenario.lookup(fetching(scenario, "ECID"), headers=scenario.auth_headers())

    assert fetched(response) == [("ECID", scenario.ecid.value), ("ECID", second_ecid.value)]


def test_identities_come_in_the_order_their_namespaces_were_asked_for(scenario):
    body = fetching(scenario, "Email", "ECID", "Email", identity_map={"ECID": [{"id": scenario.ecid.value}]})

    response = scenario.lookup(body, headers=scenario.auth_headers())

    assert fetched(response) == [("Email", scenario.email.value), ("ECID", scenario.ecid.value)]


def test_a_caller_without_a_credential_is_warned_instead_of_given_the_profiles_identities(scenario):
    response = scenario.lookup(fetching(scenario, "ECID"))

    assert fetched(response) == []
    assert scenario.ecid.value not in response.content.decode()
    [warning] = answer(response)["warnings"]
    assert warning["type"] == "https://ns.adobe.com/aep/errors/EXEG-0303-200"
    assert warning["title"] == "Unauthorized to fetch identities"
    assert "ECID" in warning["detail"] and "credential" in warning["detail"]
    assert scenario.payload(response) != []  # the lookup itself still answers


def test_a_credential_of_another_sandbox_is_refused_not_served_identities(scenario, grant):
    elsewhere = SandboxFactory(name="elsewhere")
    grant(scenario.admin, elsewhere, "view_datastreams", "manage_datastreams")
    forget_permissions(scenario.admin)

    response = scenario.lookup(fetching(scenario, "ECID"), headers=scenario.auth_headers(elsewhere))

    assert response.status_code == 401
    assert scenario.ecid.value not in response.content.decode()


def test_an_unknown_visitor_fetching_with_a_credential_gets_an_empty_identity_result(scenario):
    body = fetching(scenario, "Email", identity_map={"ECID": [{"id": "4" * 38, "primary": True}]})

    response = scenario.lookup(body, headers=scenario.auth_headers())

    assert fetched(response) == []


def test_a_namespace_the_sandbox_does_not_define_is_named_in_a_warning_and_fetches_nothing(scenario):
    response = scenario.lookup(fetching(scenario, "email", "Email"))

    assert fetched(response) == [("Email", scenario.email.value)]
    [warning] = answer(response)["warnings"]
    assert warning["type"] == "https://ns.adobe.com/aep/errors/EXEG-0204-200"
    assert "'email'" in warning["detail"] and "case-sensitive" in warning["detail"]


@pytest.mark.parametrize(
    "query, path",
    [
        ("x", "`query`"),
        ({"identity": [1]}, "`query.identity`"),
        ({"identity": {"fetch": "ECID"}}, "`query.identity.fetch`"),
        ({"identity": {"fetch": [{"code": "ECID"}]}}, "`query.identity.fetch`"),
    ],
)
def test_a_fetch_of_the_wrong_type_is_EXEG_0102_naming_its_path(scenario, query, path):
    body = {**scenario.body(), "query": query}

    response = scenario.lookup(body)

    assert response.status_code == 400
    assert response.json()["type"].endswith("EXEG-0102-400")
    assert path in response.json()["detail"]


def test_a_lookup_without_fetch_answers_as_before_with_no_identity_handle(scenario):
    body = answer(scenario.lookup())

    assert [handle["type"] for handle in body["handle"]] == ["activation:pull"]
    assert "warnings" not in body


def test_the_answer_with_identities_is_one_valid_json_object(scenario):
    response = scenario.lookup(fetching(scenario, "ECID", "Email"))

    assert json.loads(response.content)["requestId"]
    assert fetched(response) == [("Email", scenario.email.value)]
    assert "ECID" in answer(response)["warnings"][0]["detail"]
