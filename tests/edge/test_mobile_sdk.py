"""
Adobe's Mobile SDK (aepsdk-edge): the visitor's ECID comes at request level (`xdm.identityMap`, `primary: false`),
and the SDK asks for its answer framed as streamed records. The body below has the keys the SDK's own functional
test (`testSendEvent_withXDMData_sendsExEdgeNetworkRequest`) asserts, with our identity values and datastream.
"""

import json

import pytest

pytestmark = pytest.mark.django_db


def mobile_body(ecid: str, **streaming) -> dict:
    return {
        "meta": {
            "konductorConfig": {
                "streaming": {"enabled": True, "recordSeparator": "\u0000", "lineFeed": "\n", **streaming}
            }
        },
        "xdm": {
            "identityMap": {"ECID": [{"id": ecid, "authenticatedState": "ambiguous", "primary": False}]},
            "implementationDetails": {"name": "https://ns.adobe.com/experience/mobilesdk/ios", "version": "5.0.0"},
        },
        "events": [
            {
                "xdm": {
                    "_id": "0b3c1d2e-4f5a-4b6c-8d7e-9f0a1b2c3d4e",
                    "timestamp": "2026-12-03T10:00:00.000Z",
                    "testString": "xdm",
                    "testInt": 10,
                    "testBool": False,
                    "testDouble": 12.89,
                    "testArray": ["arrayElem1", 2, True],
                    "testDictionary": {"key": "val"},
                }
            }
        ],
    }


def mobile_call(scenario, body):
    return scenario.client.post(
        "/ee/v1/interact?configId=%s&requestId=6b1f0e0e-0000-4000-8000-00000000000a" % scenario.datastream.pk,
        data=json.dumps(body),
        content_type="application/json",
    )


def records(response) -> list[dict]:
    """Read the answer as the SDK does: records after the separator, each ended by the line feed."""
    assert response.status_code == 200, response.content
    text = response.content.decode()
    assert text.startswith("\u0000") and text.endswith("\n")
    return [json.loads(record) for record in text.strip("\n").split("\u0000") if record]


def test_the_mobile_sdks_request_gets_the_members_audiences_for_the_ecid_it_sent(scenario):
    (answer,) = records(mobile_call(scenario, mobile_body(scenario.ecid.value)))

    (pull,) = [handle for handle in answer["handle"] if handle["type"] == "activation:pull"]
    (entry,) = [entry for entry in pull["payload"] if entry["alias"] == "personalizationAlias"]
    assert [segment["id"] for segment in entry["segments"]] == [str(scenario.gold.pk)]
    # the ECID it sent is kept: none minted in its place
    assert not [handle for handle in answer["handle"] if handle["type"] == "identity:result"]


def _flatten(value, prefix="") -> dict:
    """Flatten a body the way the SDK's tests do (`getFlattenNetworkRequestBody`): `a.b`, `a[0]`."""
    if isinstance(value, dict):
        return {k: v for key, item in value.items() for k, v in _flatten(item, prefix + "." + key).items()}
    if isinstance(value, list):
        return {k: v for i, item in enumerate(value) for k, v in _flatten(item, "%s[%d]" % (prefix, i)).items()}
    return {prefix.lstrip("."): value}


def test_the_exact_body_of_the_sdks_functional_test_gets_the_members_audiences(scenario):
    # aepsdk-edge-ios, testSendEvent_withXDMData_sendsExEdgeNetworkRequest: 14 flattened keys, ECID with an id only.
    body = {
        "meta": {"konductorConfig": {"streaming": {"enabled": True, "recordSeparator": "\u0000", "lineFeed": "\n"}}},
        "xdm": {"identityMap": {"ECID": [{"id": scenario.ecid.value}]}},
        "events": [
            {
                "xdm": {
                    "_id": "0b3c1d2e-4f5a-4b6c-8d7e-9f0a1b2c3d4e",
                    "timestamp": "2026-12-03T10:00:00.000Z",
                    "testString": "xdm",
                    "testInt": 10,
                    "testBool": False,
                    "testDouble": 12.89,
                    "testArray": ["arrayElem1", 2, True],
                    "testDictionary": {"key": "val"},
                }
            }
        ],
    }
    assert len(_flatten(body)) == 14  # what the SDK's test asserts of the request it sends

    (answer,) = records(mobile_call(scenario, body))

    (pull,) = [handle for handle in answer["handle"] if handle["type"] == "activation:pull"]
    (entry,) = [entry for entry in pull["payload"] if entry["alias"] == "personalizationAlias"]
    assert [segment["id"] for segment in entry["segments"]] == [str(scenario.gold.pk)]
    assert not [handle for handle in answer["handle"] if handle["type"] == "identity:result"]


def test_an_event_level_primary_identity_still_wins_over_the_request_level_ecid(scenario):
    body = mobile_body("1" * 38)
    body["events"][0]["xdm"]["identityMap"] = {"Email": [{"id": scenario.email.value, "primary": True}]}

    (answer,) = records(mobile_call(scenario, body))

    (pull,) = [handle for handle in answer["handle"] if handle["type"] == "activation:pull"]
    assert pull["payload"] != []


def test_without_streaming_the_answer_is_plain_json(scenario):
    body = mobile_body(scenario.ecid.value)
    body["meta"]["konductorConfig"]["streaming"]["enabled"] = False

    response = mobile_call(scenario, body)

    assert response.json()["handle"]


@pytest.mark.parametrize("streaming", [{"recordSeparator": 5}, {"lineFeed": ""}, {"lineFeed": "x" * 50}])
def test_a_malformed_streaming_request_is_EXEG_0102(scenario, streaming):
    response = mobile_call(scenario, mobile_body(scenario.ecid.value, **streaming))

    assert response.status_code == 400
    assert "meta.konductorConfig.streaming" in response.json()["detail"]


def test_a_request_level_namespace_that_is_not_an_array_is_EXEG_0102_even_beside_the_events(scenario):
    body = mobile_body(scenario.ecid.value)
    body["xdm"]["identityMap"]["Email"] = {"id": scenario.email.value}
    body["events"][0]["xdm"]["identityMap"] = {"Email": [{"id": scenario.email.value}]}

    response = mobile_call(scenario, body)

    assert response.status_code == 400
    assert response.json()["detail"] == "xdm.identityMap.Email must be an array of identity items."
