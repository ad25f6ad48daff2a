"""
The fuzz corpus (tests/edge/fuzz_corpus.py) against the real stack: gunicorn, PostgreSQL and Redis. No request
gets a 5xx, every refusal is RFC 7807 problem JSON, and `attributes` leave only with a valid credential.
"""

import json
from collections import Counter

import pytest

from accounts.permissions import forget_permissions
from accounts.services import api_credential_revoke
from tests.edge.conftest import Scenario
from tests.edge.fuzz_corpus import CORPUS
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
