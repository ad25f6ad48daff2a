"""The v1 shape Adobe's Web SDK (alloy) sends: `events`, text/plain, state cookies, ECID minting."""

import json

import pytest

from personalization.edge.lookup import identity_cookie_value

pytestmark = pytest.mark.django_db

COOKIE = "kndctr_CPCDEMO0000000000000001_AdobeOrg_identity"


def sdk_call(scenario, body, *, origin="https://www.shop.test", cookies=None):
    if cookies:
        for name, value in cookies.items():
            scenario.client.cookies[name] = value
    return scenario.client.post(
        "/ee/v1/interact?configId=%s&requestId=%s" % (scenario.datastream.pk, "6b1f0e0e-0000-4000-8000-000000000001"),
        data=json.dumps(body),
        content_type="text/plain; charset=UTF-8",
        headers={"Origin": origin},
    )


def handles(response, kind):
    assert response.status_code == 200, response.content
    return [handle for handle in response.json()["handle"] if handle["type"] == kind]


def first_visit_body():
    return {
        "events": [{"xdm": {"eventType": "web.webpagedetails.pageViews"}, "query": {}}],
        "query": {"identity": {"fetch": ["ECID"]}},
        "meta": {"state": {"domain": "shop.test", "cookiesEnabled": True}},
    }


def test_a_first_time_visitor_gets_a_new_ecid_and_a_cookie_to_keep_it(scenario, settings):
    settings.EDGE_ORG_ID = "CPCDEMO0000000000000001@AdobeOrg"
    response = sdk_call(scenario, first_visit_body())

    [identity] = handles(response, "identity:result")
    ecid = identity["payload"][0]["id"]
    assert len(ecid) == 38 and ecid.isdigit()
    assert identity["payload"][0]["namespace"] == {"code": "ECID"}
    [state] = handles(response, "state:store")
    assert state["payload"][0]["key"] == COOKIE
    assert state["payload"][0]["value"] == identity_cookie_value(ecid)
    assert handles(response, "activation:pull")[0]["payload"] == []


def test_a_returning_visitor_is_recognised_by_the_state_the_sdk_sends_back(scenario, settings):
    settings.EDGE_ORG_ID = "CPCDEMO0000000000000001@AdobeOrg"
    body = first_visit_body()
    body["meta"]["state"]["entries"] = [{"key": COOKIE, "value": scenario.ecid.value}]

    response = sdk_call(scenario, body)

    assert handles(response, "identity:result")[0]["payload"][0]["id"] == scenario.ecid.value
    aliases = [entry["alias"] for entry in handles(response, "activation:pull")[0]["payload"]]
    assert aliases == ["personalizationAlias", "adServerAlias"]


def test_a_returning_visitor_is_recognised_by_the_identity_cookie(scenario, settings):
    settings.EDGE_ORG_ID = "CPCDEMO0000000000000001@AdobeOrg"

    response = sdk_call(scenario, first_visit_body(), cookies={COOKIE: scenario.ecid.value})

    assert handles(response, "activation:pull")[0]["payload"] != []


def test_the_identity_cookie_is_encoded_as_the_edge_network_does_and_read_back(scenario, settings):
    settings.EDGE_ORG_ID = "CPCDEMO0000000000000001@AdobeOrg"
    body = first_visit_body()
    body["meta"]["state"]["entries"] = [{"key": COOKIE, "value": identity_cookie_value(scenario.ecid.value)}]

    response = sdk_call(scenario, body)

    assert handles(response, "activation:pull")[0]["payload"] != []
    # Field 1 of a protobuf, length 38, then the digits: what the Web SDK's own cookie decoder expects.
    import base64

    assert base64.urlsafe_b64decode(identity_cookie_value("1" * 38))[:2] == bytes([0x0A, 38])


def test_a_logged_in_visitors_identity_map_wins_over_the_cookie_ecid(scenario, settings):
    settings.EDGE_ORG_ID = "CPCDEMO0000000000000001@AdobeOrg"
    body = first_visit_body()
    body["events"][0]["xdm"]["identityMap"] = {"Email": [{"id": "ada@example.com", "primary": True}]}

    response = sdk_call(scenario, body, cookies={COOKIE: "3" * 38})

    payload = handles(response, "activation:pull")[0]["payload"]
    assert payload[0]["segments"] == [{"id": str(scenario.gold.pk), "namespace": "ups"}]


def test_the_core_id_the_sdk_always_asks_for_is_answered_without_a_warning(scenario):
    body = first_visit_body()
    body["query"]["identity"]["fetch"] = ["ECID", "CORE"]

    response = sdk_call(scenario, body)

    [identity] = handles(response, "identity:result")
    assert [item["namespace"]["code"] for item in identity["payload"]] == ["ECID"]
    assert "warnings" not in response.json()


def test_a_logged_in_visitor_gets_back_the_ecid_the_sdk_keeps_in_its_cookie(scenario, settings):
    settings.EDGE_ORG_ID = "CPCDEMO0000000000000001@AdobeOrg"
    body = first_visit_body()
    body["events"][0]["xdm"]["identityMap"] = {"Email": [{"id": "ada@example.com", "primary": True}]}

    response = sdk_call(scenario, body, cookies={COOKIE: "3" * 38})

    assert handles(response, "identity:result")[0]["payload"] == [{"id": "3" * 38, "namespace": {"code": "ECID"}}]
    assert "warnings" not in response.json()


def test_the_sdk_response_never_carries_attributes(scenario):
    body = first_visit_body()
    body["meta"]["state"]["entries"] = [{"key": COOKIE, "value": scenario.ecid.value}]

    assert b"attributes" not in sdk_call(scenario, body).content


def test_the_sdk_gets_cors_with_credentials_for_the_pages_exact_origin(scenario):
    response = sdk_call(scenario, first_visit_body())

    assert response["Access-Control-Allow-Origin"] == "https://www.shop.test"
    assert response["Access-Control-Allow-Credentials"] == "true"


def test_the_callers_request_id_comes_back_with_a_suffix(scenario):
    response = sdk_call(scenario, first_visit_body())

    assert response.json()["requestId"].startswith("6b1f0e0e-0000-4000-8000-000000000001-")


def test_a_forged_cookie_that_is_not_an_ecid_is_ignored(scenario):
    response = sdk_call(scenario, first_visit_body(), cookies={COOKIE: "<script>"})

    minted = handles(response, "identity:result")[0]["payload"][0]["id"]
    assert minted != "<script>" and minted.isdigit()


def test_collect_acknowledges_beacons_with_202_and_the_request_id(scenario):
    response = scenario.client.post(
        "/ee/v1/collect?configId=%s&requestId=beacon-1" % scenario.datastream.pk, data="{}", content_type="text/plain"
    )

    assert response.status_code == 202
    assert response.json()["requestId"].startswith("beacon-1-")
