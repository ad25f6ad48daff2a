"""The token endpoint as RFC 6749 §4.4 describes it: how a client authenticates, the answers, the throttle."""

import base64
from urllib.parse import quote_plus, urlencode

import pytest
from axes.models import AccessAttempt
from oauthlib.oauth2 import BackendApplicationClient

from django.utils import timezone

from accounts.models import AccessToken, AuditEntry

FORM = "application/x-www-form-urlencoded"


def basic(client_id, secret):
    pair = "%s:%s" % (quote_plus(client_id), quote_plus(secret))
    return "Basic " + base64.b64encode(pair.encode()).decode()


def request_token(scenario, fields=None, *, authorization=None, address="10.0.0.1", query=""):
    headers = {"REMOTE_ADDR": address}
    if authorization:
        headers["HTTP_AUTHORIZATION"] = authorization
    body = fields if isinstance(fields, str | bytes) else urlencode(fields or {})
    return scenario.client.post("/oauth/token" + query, body, content_type=FORM, **headers)


@pytest.fixture
def credential(scenario):
    return scenario.credential()


def test_a_client_library_gets_a_token_with_http_basic_and_it_reads_attributes(scenario, credential):
    credential, secret = credential
    body = BackendApplicationClient(credential.client_id).prepare_request_body(include_client_id=False)

    response = request_token(scenario, body, authorization=basic(credential.client_id, secret))

    assert response.status_code == 200, response.content
    token = response.json()
    assert token["token_type"] == "Bearer"
    assert token["expires_in"] == 3600
    assert "refresh_token" not in token
    lookup = scenario.lookup(
        headers={"Authorization": "Bearer " + token["access_token"], "x-api-key": credential.client_id}
    )
    assert lookup.status_code == 200


def test_the_id_and_secret_in_the_body_still_get_a_token(scenario, credential):
    credential, secret = credential
    fields = {"grant_type": "client_credentials", "client_id": credential.client_id, "client_secret": secret}

    response = request_token(scenario, fields)

    assert response.status_code == 200
    assert AccessToken.objects.filter(credential=credential).count() == 1


def test_tokens_and_their_errors_are_never_cached(scenario, credential):
    credential, secret = credential
    issued = request_token(
        scenario, {"grant_type": "client_credentials"}, authorization=basic(credential.client_id, secret)
    )
    refused = request_token(
        scenario, {"grant_type": "client_credentials"}, authorization=basic(credential.client_id, "x")
    )

    for response in (issued, refused):
        assert response["Cache-Control"] == "no-store"
        assert response["Pragma"] == "no-cache"
        assert response["Content-Type"] == "application/json"


def test_a_wrong_basic_secret_is_invalid_client_with_a_basic_challenge(scenario, credential):
    credential, _secret = credential

    response = request_token(
        scenario, {"grant_type": "client_credentials"}, authorization=basic(credential.client_id, "x")
    )

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert response["WWW-Authenticate"].startswith("Basic")


@pytest.mark.parametrize(
    "fields, error",
    [
        ({}, "invalid_request"),
        ({"grant_type": "password", "username": "a", "password": "b"}, "unsupported_grant_type"),
        ({"grant_type": "authorization_code", "code": "x"}, "unsupported_grant_type"),
        ("grant_type=client_credentials&grant_type=client_credentials", "invalid_request"),
    ],
    ids=["no grant type", "password grant", "code grant", "grant type twice"],
)
def test_requests_the_rfc_refuses_get_its_error_code(scenario, credential, fields, error):
    credential, secret = credential

    response = request_token(scenario, fields, authorization=basic(credential.client_id, secret))

    assert response.status_code == 400
    assert response.json()["error"] == error
    assert response.json()["error_description"]


def test_a_secret_sent_both_ways_is_refused(scenario, credential):
    credential, secret = credential
    fields = {"grant_type": "client_credentials", "client_id": credential.client_id, "client_secret": secret}

    response = request_token(scenario, fields, authorization=basic(credential.client_id, secret))

    assert response.status_code == 400
    assert response.json() == {
        "error": "invalid_request",
        "error_description": "Send the client secret once: in the Authorization header (Basic) or in the body, "
        "not both.",
    }
    assert not AccessToken.objects.exists()


def test_credentials_in_the_query_string_are_refused(scenario, credential):
    credential, secret = credential
    query = "?" + urlencode({"client_id": credential.client_id, "client_secret": secret})

    response = request_token(scenario, {"grant_type": "client_credentials"}, query=query)

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    assert not AccessToken.objects.exists()


@pytest.mark.parametrize(
    "authorization",
    [
        "Basic not-base64!",
        "Basic " + base64.b64encode(b"no colon").decode(),
        "Basic " + base64.b64encode(b"\xff:x").decode(),
    ],
    ids=["not base64", "no colon", "not utf-8"],
)
def test_a_malformed_basic_header_is_invalid_client(scenario, authorization):
    response = request_token(scenario, {"grant_type": "client_credentials"}, authorization=authorization)

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


@pytest.mark.parametrize(
    "body, content_type",
    [
        (b"\xff\xfe", FORM),
        (b"[1]", "application/json"),
        (b'{"grant_type": ["x"]}', "application/json"),
        (b"{", "application/json"),
    ],
    ids=["not utf-8", "json array", "json nested", "broken json"],
)
def test_a_body_that_is_not_fields_is_invalid_request(scenario, body, content_type):
    response = scenario.client.post("/oauth/token", body, content_type=content_type)

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_get_is_refused_with_allow(scenario):
    response = scenario.client.get("/oauth/token")

    assert response.status_code == 405
    assert response["Allow"] == "POST"
    assert response.json()["error"] == "invalid_request"


def test_a_token_does_not_outlive_its_credential(scenario, credential):
    credential, secret = credential
    credential.expires_at = timezone.now() + timezone.timedelta(minutes=10)
    credential.save(update_fields=["expires_at"])

    response = request_token(
        scenario, {"grant_type": "client_credentials"}, authorization=basic(credential.client_id, secret)
    )

    assert 590 <= response.json()["expires_in"] <= 600


def test_a_revoked_credential_gets_no_token(scenario, credential):
    credential, secret = credential
    credential.revoked_at = timezone.now()
    credential.save(update_fields=["revoked_at"])

    response = request_token(
        scenario, {"grant_type": "client_credentials"}, authorization=basic(credential.client_id, secret)
    )

    assert response.status_code == 401


class TestThrottle:
    def fail(self, scenario, client_id, times, address="10.0.0.1"):
        for _ in range(times):
            response = request_token(
                scenario, {"grant_type": "client_credentials"}, authorization=basic(client_id, "guess"), address=address
            )
            assert response.status_code == 401

    def test_too_many_failures_from_one_address_lock_the_client_id_there_even_with_the_right_secret(
        self, scenario, credential, settings
    ):
        credential, secret = credential
        self.fail(scenario, credential.client_id, settings.AXES_FAILURE_LIMIT)

        response = request_token(
            scenario, {"grant_type": "client_credentials"}, authorization=basic(credential.client_id, secret)
        )

        assert response.status_code == 429
        assert response["Retry-After"] == str(settings.AXES_COOLOFF_TIME.seconds)
        assert response.json()["error"] == "invalid_client"
        assert "try again in 30 minutes" in response.json()["error_description"]
        assert not AccessToken.objects.exists()

    def test_the_server_holding_the_secret_is_not_locked_out_by_a_stranger_guessing(
        self, scenario, credential, settings
    ):
        credential, secret = credential
        self.fail(scenario, credential.client_id, settings.AXES_FAILURE_LIMIT, address="203.0.113.9")

        response = request_token(
            scenario,
            {"grant_type": "client_credentials"},
            authorization=basic(credential.client_id, secret),
            address="10.0.0.1",
        )

        assert response.status_code == 200

    def test_a_success_forgets_earlier_failures(self, scenario, credential, settings):
        credential, secret = credential
        self.fail(scenario, credential.client_id, settings.AXES_FAILURE_LIMIT - 1)
        assert (
            request_token(
                scenario, {"grant_type": "client_credentials"}, authorization=basic(credential.client_id, secret)
            ).status_code
            == 200
        )

        self.fail(scenario, credential.client_id, settings.AXES_FAILURE_LIMIT - 1)

        response = request_token(
            scenario, {"grant_type": "client_credentials"}, authorization=basic(credential.client_id, secret)
        )
        assert response.status_code == 200

    def test_failed_attempts_keep_no_secret_and_the_lockout_is_audited(self, scenario, credential, settings):
        credential, _secret = credential
        fields = {"grant_type": "client_credentials", "client_id": credential.client_id, "client_secret": "my-guess"}
        for _ in range(settings.AXES_FAILURE_LIMIT):
            request_token(scenario, fields)

        attempt = AccessAttempt.objects.get(username=credential.client_id)
        assert "my-guess" not in attempt.post_data
        assert AuditEntry.objects.filter(event=AuditEntry.Event.LOCKED_OUT, object_repr=credential.client_id).exists()
