"""Every way a lookup can be refused: RFC 7807 problems with the Edge Network's EXEG codes."""

import json

import pytest

from accounts.models import AccessToken
from tests.factories import SandboxFactory

pytestmark = pytest.mark.django_db


def problem(response, code):
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["type"] == "https://ns.adobe.com/aep/errors/%s" % code
    assert body["status"] == response.status_code == int(code.rsplit("-", 1)[1])
    assert body["detail"]
    assert "Traceback" not in response.content.decode()
    return body


def test_a_missing_datastream_parameter_is_EXEG_0002(scenario):
    response = scenario.client.post("/ee/v2/interact", data="{}", content_type="application/json")
    problem(response, "EXEG-0002-400")


def test_an_unknown_datastream_is_EXEG_0003(scenario):
    response = scenario.client.post(
        "/ee/v2/interact?datastreamId=6f1c1a52-0000-4000-8000-000000000000",
        data=json.dumps(scenario.body()),
        content_type="application/json",
    )
    problem(response, "EXEG-0003-400")


def test_a_malformed_datastream_id_is_EXEG_0003(scenario):
    response = scenario.client.post(
        "/ee/v2/interact?datastreamId=not-a-uuid", data=json.dumps(scenario.body()), content_type="application/json"
    )
    assert "not a datastream ID" in problem(response, "EXEG-0003-400")["detail"]


def test_a_disabled_datastream_is_EXEG_0004(scenario):
    scenario.datastream.enabled = False
    scenario.datastream.save()
    problem(scenario.lookup(), "EXEG-0004-422")


def test_invalid_json_is_EXEG_0101(scenario):
    problem(scenario.lookup(raw="{not json"), "EXEG-0101-400")


def test_a_json_array_body_is_EXEG_0101(scenario):
    problem(scenario.lookup(raw="[1, 2]"), "EXEG-0101-400")


def test_anything_after_the_json_object_is_EXEG_0101(scenario):
    problem(scenario.lookup(raw=json.dumps(scenario.body()) + " {}"), "EXEG-0101-400")


def test_a_body_that_is_not_utf8_is_EXEG_0101(scenario):
    problem(scenario.lookup(raw=json.dumps(scenario.body()).encode("utf-16")), "EXEG-0101-400")


def test_whitespace_and_a_byte_order_mark_around_the_json_are_accepted(scenario):
    response = scenario.lookup(raw=("\ufeff \n" + json.dumps(scenario.body()) + "\n").encode())

    assert response.status_code == 200
    assert scenario.entry(response, "personalizationAlias")["segments"]


@pytest.mark.parametrize("raw", ["", "  \n "])
def test_an_empty_body_is_EXEG_0109(scenario, raw):
    problem(scenario.lookup(raw=raw), "EXEG-0109-408")


def test_an_unsupported_content_type_is_EXEG_0111(scenario):
    problem(scenario.lookup(content_type="application/xml", raw="<event/>"), "EXEG-0111-415")


def test_a_body_over_64_kb_is_EXEG_0112(scenario):
    body = scenario.body(web={"padding": "x" * (64 * 1024)})
    problem(scenario.lookup(body), "EXEG-0112-413")


def v1(scenario, body):
    """A Web SDK call (`/ee/v1/interact`) with this body."""
    return scenario.client.post(
        "/ee/v1/interact?configId=%s" % scenario.datastream.pk, data=json.dumps(body), content_type="application/json"
    )


@pytest.mark.parametrize(
    "extra, path",
    [
        ({"query": {"identity": "x"}}, "`query.identity`"),
        ({"query": [1]}, "`query`"),
        ({"query": "x"}, "`query`"),
        ({"query": {"identity": {"fetch": 5}}}, "`query.identity.fetch`"),
        ({"query": {"identity": {"fetch": ["ECID", 5]}}}, "`query.identity.fetch`"),
        ({"meta": "x"}, "`meta`"),
        ({"meta": {"state": ["x"]}}, "`meta.state`"),
    ],
)
def test_a_web_sdk_field_of_the_wrong_type_is_EXEG_0102_naming_its_path(scenario, extra, path):
    body = problem(v1(scenario, {"events": [{"xdm": {}}], **extra}), "EXEG-0102-400")

    assert path in body["detail"]


@pytest.mark.parametrize("url", ["/ee/v2/interact?datastreamId=%s", "/ee/v1/interact?configId=%s"])
def test_json_nested_a_thousand_levels_deep_is_EXEG_0101(scenario, url):
    response = scenario.client.post(
        url % scenario.datastream.pk, data="[" * 1000 + "]" * 1000, content_type="application/json"
    )

    assert "too deeply" in problem(response, "EXEG-0101-400")["detail"]


@pytest.mark.parametrize(
    "raw_value, code, detail",
    [
        ('"1234\\u0000"', "EXEG-0305-400", "identityMap.Email[0].id holds a NUL character."),
        ('"\\ud800@shop.test"', "EXEG-0305-400", "identityMap.Email[0].id holds an unpaired surrogate (\\ud800)."),
    ],
)
def test_an_identity_holding_a_nul_or_a_lone_surrogate_is_refused_naming_it(scenario, raw_value, code, detail):
    raw = '{"event": {"xdm": {"identityMap": {"Email": [{"id": %s, "primary": true}]}}}}' % raw_value

    assert problem(scenario.lookup(raw=raw), code)["detail"] == detail


@pytest.mark.parametrize("namespace", ["EC\\u0000ID", "\\udc00"])
def test_a_namespace_holding_a_nul_or_a_lone_surrogate_is_EXEG_0102(scenario, namespace):
    raw = '{"event": {"xdm": {"identityMap": {"%s": [{"id": "x", "primary": true}]}}}}' % namespace

    assert "The identityMap key" in problem(scenario.lookup(raw=raw), "EXEG-0102-400")["detail"]


@pytest.mark.parametrize("charset", ["utf-16", "UTF-16LE", "latin-1", "iso-8859-15"])
def test_a_body_in_the_charset_its_content_type_declares_is_read_as_declared(scenario, charset):
    scenario.profile.identities.create(
        sandbox=scenario.sandbox, namespace=scenario.email.namespace, value="rené@shop.test"
    )
    raw = json.dumps(scenario.body("Email", "rené@shop.test"), ensure_ascii=False)

    response = scenario.client.generic(
        "POST",
        "/ee/v2/interact?datastreamId=%s" % scenario.datastream.pk,
        raw.encode(charset),
        content_type="application/json; charset=%s" % charset,
    )

    assert scenario.payload(response) != []


@pytest.mark.parametrize("charset", ["klingon", '""'])
def test_a_charset_that_is_no_text_encoding_we_know_is_EXEG_0111(scenario, charset):
    response = scenario.client.generic(
        "POST",
        "/ee/v2/interact?datastreamId=%s" % scenario.datastream.pk,
        json.dumps(scenario.body()).encode(),
        content_type="application/json; charset=%s" % charset,
    )

    assert "send UTF-8" in problem(response, "EXEG-0111-415")["detail"]


def test_a_body_that_is_not_valid_in_its_declared_charset_is_EXEG_0101_naming_the_byte(scenario):
    response = scenario.client.generic(
        "POST",
        "/ee/v2/interact?datastreamId=%s" % scenario.datastream.pk,
        b'{"event": "\xff"}',
        content_type="application/json; charset=utf-8",
    )

    assert problem(response, "EXEG-0101-400")["detail"] == "The body is not valid utf-8 text (byte 11); send UTF-8."


def test_an_event_without_identities_is_EXEG_0306(scenario):
    body = problem(scenario.lookup({"event": {"xdm": {"eventType": "web.webpagedetails.pageViews"}}}), "EXEG-0306-400")
    assert "primary" in body["detail"]


def test_an_event_without_primary_and_without_ecid_is_EXEG_0306(scenario):
    problem(scenario.lookup(scenario.body(namespace="Email", value="ada@example.com", primary=False)), "EXEG-0306-400")


def test_two_primary_identities_are_EXEG_0306(scenario):
    body = {
        "event": {
            "xdm": {
                "identityMap": {
                    "ECID": [{"id": "1" * 38, "primary": True}],
                    "Email": [{"id": "ada@example.com", "primary": True}],
                }
            }
        }
    }
    assert "mark exactly one" in problem(scenario.lookup(body), "EXEG-0306-400")["detail"]


def test_an_identity_without_an_id_is_EXEG_0305(scenario):
    body = {"event": {"xdm": {"identityMap": {"ECID": [{"primary": True}]}}}}
    problem(scenario.lookup(body), "EXEG-0305-400")


@pytest.mark.parametrize(
    "namespace, value, detail",
    [
        (
            "ECID",
            "INVALID_ID",
            '"INVALID_ID" is not a valid ECID value. This is not a valid ECID identity: an ECID is exactly 38 digits.',
        ),
        (
            "Email",
            "ada@example.com\u200b",
            '"ada@example.com\\u200b" is not a valid Email value. The identity contains an invisible or control '
            "character, U+200B ZERO WIDTH SPACE at position 16; remove it (it often comes from copying a value out of "
            "a document or spreadsheet).",
        ),
        (
            "CRMID",
            "crm 42",
            '"crm 42" is not a valid CRMID value. The identity contains whitespace; CRMID identities cannot.',
        ),
    ],
)
def test_an_identity_no_profile_could_hold_is_EXEG_0305_naming_the_rule(scenario, namespace, value, detail):
    body = {"event": {"xdm": {"identityMap": {namespace: [{"id": value, "primary": True}]}}}}

    assert problem(scenario.lookup(body), "EXEG-0305-400")["detail"] == detail


def test_namespaces_are_case_sensitive(scenario):
    body = problem(scenario.lookup(scenario.body(namespace="email", value="ada@example.com")), "EXEG-0013-422")
    assert "case-sensitive" in body["detail"]


def test_a_missing_event_is_EXEG_0102(scenario):
    problem(scenario.lookup({"query": {}}), "EXEG-0102-400")


def test_get_is_not_allowed(scenario):
    response = scenario.client.get("/ee/v2/interact?datastreamId=%s" % scenario.datastream.pk)
    problem(response, "EXEG-0405-405")


def test_an_authenticated_only_datastream_refuses_anonymous_calls_with_EXEG_0500(scenario):
    scenario.datastream.access_type = "authenticated"
    scenario.datastream.save()

    problem(scenario.lookup(), "EXEG-0500-401")
    assert scenario.lookup(headers=scenario.auth_headers()).status_code == 200


def test_an_unknown_bearer_token_is_EXEG_0500(scenario):
    problem(scenario.lookup(headers={"Authorization": "Bearer nope", "x-api-key": "x"}), "EXEG-0500-401")


def test_a_malformed_authorization_header_is_EXEG_0500(scenario):
    problem(scenario.lookup(headers={"Authorization": "Basic Zm9vOmJhcg=="}), "EXEG-0500-401")


def test_a_token_used_with_another_api_key_is_EXEG_0500(scenario):
    headers = scenario.auth_headers()
    headers["x-api-key"] = "someone-else"
    problem(scenario.lookup(headers=headers), "EXEG-0500-401")


def test_a_credential_of_another_sandbox_is_EXEG_0500(scenario, grant):
    elsewhere = SandboxFactory(name="elsewhere")
    grant(scenario.admin, elsewhere, "view_datastreams", "manage_datastreams")
    body = problem(scenario.lookup(headers=scenario.auth_headers(sandbox=elsewhere)), "EXEG-0500-401")
    assert "another sandbox" in body["detail"]


def test_an_expired_token_is_refused_with_EXEG_0503_on_the_next_request(scenario, monkeypatch):
    headers = scenario.auth_headers()
    assert scenario.lookup(headers=headers).status_code == 200

    import time

    later = time.time() + 2 * 3600
    monkeypatch.setattr("personalization.edge.lookup.time.time", lambda: later)

    problem(scenario.lookup(headers=headers), "EXEG-0503-401")


def test_a_revoked_credential_is_refused_on_the_very_next_request(scenario, django_capture_on_commit_callbacks):
    from accounts.services import api_credential_revoke

    credential, secret = scenario.credential()
    token = scenario.token(credential, secret)
    headers = {"Authorization": "Bearer %s" % token, "x-api-key": credential.client_id}
    assert scenario.lookup(headers=headers).status_code == 200

    with django_capture_on_commit_callbacks(execute=True):
        api_credential_revoke(user=scenario.admin, credential=credential)

    problem(scenario.lookup(headers=headers), "EXEG-0500-401")


def test_tokens_are_stored_only_as_digests(scenario):
    credential, secret = scenario.credential()
    token = scenario.token(credential, secret)

    stored = AccessToken.objects.get(credential=credential)
    assert stored.digest != token and token not in stored.digest
    assert secret not in credential.secret_digest


def test_the_token_endpoint_refuses_a_wrong_secret(scenario):
    credential, _secret = scenario.credential()
    response = scenario.client.post(
        "/oauth/token", {"grant_type": "client_credentials", "client_id": credential.client_id, "client_secret": "x"}
    )
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_the_token_endpoint_supports_only_client_credentials(scenario):
    response = scenario.client.post("/oauth/token", {"grant_type": "password"})
    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_grant_type"


def test_too_many_lookups_per_second_get_429_with_retry_after(scenario, settings):
    settings.EDGE_RATE_LIMIT = 2
    statuses = [scenario.lookup().status_code for _ in range(3)]

    assert statuses[:2] == [200, 200]
    response = scenario.lookup()
    problem(response, "EXEG-0429-429")
    assert response["Retry-After"] == "1"


def test_an_internal_failure_is_a_generic_500_without_details(scenario, monkeypatch):
    def explode(*args, **kwargs):
        raise RuntimeError("database password is hunter2")

    monkeypatch.setattr("personalization.edge.projection.load_identity", explode)
    response = scenario.lookup()

    body = problem(response, "EXEG-0001-500")
    assert "hunter2" not in response.content.decode()
    assert body["detail"] == "Something went wrong on our side."


def test_collect_on_v2_answers_202_with_the_request_id_and_204_when_silent(scenario):
    url = "/ee/v2/collect?datastreamId=%s" % scenario.datastream.pk
    body = json.dumps({"events": [scenario.body()["event"]]})

    answered = scenario.client.post(url, data=body, content_type="application/json")
    silent = scenario.client.post(url + "&silent=true", data=body, content_type="application/json")

    assert answered.status_code == 202
    assert set(answered.json()) == {"requestId"}
    assert silent.status_code == 204
    assert silent.content == b""


@pytest.mark.parametrize(
    "url, code",
    [("/ee/v2/collect", "EXEG-0002-400"), ("/ee/v2/collect?datastreamId=%s&silent=true", "EXEG-0101-400")],
)
def test_collect_refuses_what_interact_refuses(scenario, url, code):
    response = scenario.client.post(
        url % scenario.datastream.pk if "%s" in url else url, data="{not json", content_type="application/json"
    )

    problem(response, code)


@pytest.mark.parametrize("hint", ["or2", "va6", "irl1", "ind1", "jpn3", "sgp3", "aus3"])
def test_a_lookup_after_a_known_location_hint_is_answered(scenario, hint):
    response = scenario.client.post(
        "/ee/%s/v2/interact?datastreamId=%s" % (hint, scenario.datastream.pk),
        data=json.dumps(scenario.body()),
        content_type="application/json",
    )

    assert scenario.payload(response) != []


@pytest.mark.parametrize(
    "path", ["/ee/xx9/v2/interact", "/ee/zz/v1/interact", "/ee/v3/interact", "/ee/", "/ee/v2/interact/extra"]
)
def test_an_unknown_edge_path_is_a_404_problem_never_a_page(scenario, path):
    response = scenario.client.post(
        path + "?datastreamId=%s" % scenario.datastream.pk, data="{}", content_type="application/json"
    )

    assert "no Edge Network endpoint at %s" % path in problem(response, "EXEG-0404-404")["detail"]
