"""
The fuzz corpus (tests/edge/fuzz_corpus.py) against the real stack: gunicorn, PostgreSQL and Redis. No request
gets a 5xx, every refusal is RFC 7807 problem JSON, and `attributes` leave only with a valid credential.
"""

import base64
import json
import re
from collections import Counter

import pytest

from accounts.permissions import forget_permissions
from accounts.services import api_credential_revoke
from tests.edge.conftest import Scenario
from tests.edge.fuzz_corpus import CORPUS, TOKEN_CORPUS
from tests.factories import SandboxFactory
from tests.utils.gunicorn_hosts import serving_hosts

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.services]


def _signed_as(scenario, grant, kind) -> dict:
    """Headers that sign a request as `kind` of caller (see the corpus)."""
    if kind == "valid":
        return scenario.auth_headers()
    if kind == "foreign":
        elsewhere = SandboxFactory(name="elsewhere-%s" % scenario.sandbox.pk)
        grant(scenario.admin, elsewhere, "view_datastreams", "manage_datastreams")
        forget_permissions(scenario.admin)  # the admin object cached its permissions with the earlier credentials
        return scenario.auth_headers(elsewhere)
    if kind == "forged":
        return {"Authorization": "Bearer cpct_" + "f" * 43, "x-api-key": "forged"}
    credential, secret = scenario.credential()
    headers = {"Authorization": "Bearer %s" % scenario.token(credential, secret), "x-api-key": credential.client_id}
    if kind == "wrong_key":
        return {**headers, "x-api-key": "someone-else"}
    api_credential_revoke(user=scenario.admin, credential=credential)  # "revoked"
    return headers


def test_no_request_of_the_corpus_breaks_the_edge_or_leaks_attributes(client, grant, tmp_path, capsys):
    scenario = Scenario(client, grant)
    signed = {
        kind: _signed_as(scenario, grant, kind) for kind in ("valid", "foreign", "revoked", "forged", "wrong_key")
    }
    sent, by_status, failures = Counter(), Counter(), []

    with serving_hosts(1, tmp_path) as (host,):
        for group, method, path, headers, body, credential in CORPUS:
            path = path.replace("{ds}", str(scenario.datastream.pk))
            if body is not None:
                body = body.replace(b"{ecid}", scenario.ecid.value.encode())
            status, answer_headers, answer = host.raw(method, path, body, {**headers, **signed.get(credential, {})})
            sent[group] += 1
            by_status[status] += 1
            problem = _problem_in(status, answer_headers, answer)
            if status >= 500 or problem:
                failures.append("%s %s %s [%s] -> %d %s" % (group, method, path[:80], credential, status, problem))
            elif b'"attributes"' in answer and credential != "valid":
                failures.append(
                    "%s %s %s [%s] -> attributes without a valid credential" % (group, method, path, credential)
                )

    with capsys.disabled():
        print(
            "\nedge fuzz corpus: %d requests; by group %s; by status %s"
            % (sum(sent.values()), dict(sent), dict(by_status))
        )
    assert sum(sent.values()) >= 300
    assert not failures, "\n".join(failures)


def _problem_in(status: int, headers: dict, answer: bytes) -> str:
    """Return what is wrong with an answer's shape, or ''."""
    if status < 400:
        return ""
    if headers.get("content-type") != "application/problem+json":
        return "content type %r: %r" % (headers.get("content-type"), answer[:120])
    try:
        problem = json.loads(answer)
    except ValueError:
        return "not JSON: %r" % answer[:120]
    if problem.get("status") != status or not str(problem.get("type", "")).startswith(
        "https://ns.adobe.com/aep/errors/EXEG-"
    ):
        return "not RFC 7807 with an EXEG type: %r" % answer[:160]
    return ""


OAUTH_ERRORS = {
    "invalid_request",
    "invalid_client",
    "invalid_grant",
    "unauthorized_client",
    "unsupported_grant_type",
    "invalid_scope",
}


def test_no_request_of_the_token_corpus_breaks_the_endpoint_or_gets_a_token_it_should_not(
    client, grant, tmp_path, capsys
):
    scenario = Scenario(client, grant)
    credential, secret = scenario.credential()

    def filled(value: str) -> str:
        value = value.replace("{id}", credential.client_id).replace("{secret}", secret)
        return re.sub(r"\{b64:(.*)\}", lambda m: base64.b64encode(m.group(1).encode("latin-1")).decode(), value)

    sent, by_status, failures = Counter(), Counter(), []
    with serving_hosts(1, tmp_path) as (host,):
        for group, method, path, headers, body, valid in TOKEN_CORPUS:
            headers = {name: filled(value) for name, value in headers.items()}
            if body is not None:
                body = filled(body.decode("latin-1")).encode("latin-1")
            status, answer_headers, answer = host.raw(method, filled(path), body, headers)
            sent[group] += 1
            by_status[status] += 1
            case = "%s %s %s %r -> %d %r" % (group, method, path[:60], body[:60], status, answer[:160])
            if status >= 500:
                failures.append(case)
            elif status == 200 and not valid:
                failures.append("a token without the right credentials: " + case)
            elif valid and status != 200:
                failures.append("no token with the right credentials: " + case)
            elif status >= 400 and path.startswith("/oauth/token") and method != "HEAD":
                problem = _oauth_error_in(answer_headers, answer)
                if problem:
                    failures.append("%s: %s" % (problem, case))

    with capsys.disabled():
        print(
            "\ntoken fuzz corpus: %d requests; by group %s; by status %s"
            % (sum(sent.values()), dict(sent), dict(by_status))
        )
    assert by_status[429], "the failed attempts of the corpus should have throttled the client id"
    assert not failures, "\n".join(failures)


def _oauth_error_in(headers: dict, answer: bytes) -> str:
    """Return what is wrong with an RFC 6749 §5.2 error answer, or ''."""
    if headers.get("content-type") != "application/json" or headers.get("cache-control") != "no-store":
        return "content type %r, cache control %r" % (headers.get("content-type"), headers.get("cache-control"))
    try:
        error = json.loads(answer)
    except ValueError:
        return "not JSON"
    if error.get("error") not in OAUTH_ERRORS:
        return "error code %r" % error.get("error")
    return ""
