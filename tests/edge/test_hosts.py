"""
Scale-out, shown: two gunicorn instances (two "hosts", each with its own workers and mirrors) on one Redis and one
PostgreSQL. A change made through one host's API is in the other host's next lookup.
"""

import http.client
import json
import os
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path

import pytest
import redis

from django.db import connection

from accounts import constants as perms
from accounts.services import personal_token_create
from tests.edge.conftest import REDIS_URL, Scenario
from tests.integration.conftest import _database_url, require_services

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.services]

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 90


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Host:
    """One gunicorn instance serving the app on a loopback port."""

    def __init__(self, env: dict):
        self.port = _free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.log = Path(env["HOST_LOG_DIR"]) / ("host-%d.log" % self.port)
        command = [
            str(ROOT / ".venv" / "bin" / "gunicorn"),
            "personalization.wsgi",
            "--bind",
            "127.0.0.1:%d" % self.port,
            "--workers",
            "2",
            "--worker-class",
            "gthread",
            "--threads",
            "2",
        ]
        with self.log.open("w") as log:
            self.process = subprocess.Popen(
                command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )

    def wait_until_serving(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                if self.request("GET", "/ee/health")[0] == 200:
                    return
            except (OSError, http.client.HTTPException, ValueError):
                time.sleep(0.2)
        pytest.fail("host %s did not start:\n%s" % (self.url, self.log.read_text()[-4000:]))

    def request(self, method: str, path: str, body=None, headers=None) -> tuple[int, dict]:
        data = json.dumps(body).encode() if body is not None else None
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request(method, path, body=data, headers={"Content-Type": "application/json", **(headers or {})})
            response = conn.getresponse()
            return response.status, json.loads(response.read() or b"null")
        finally:
            conn.close()

    def segments(self, scenario, alias="personalizationAlias") -> set[str]:
        status, answer = self.request(
            "POST", "/ee/v2/interact?datastreamId=%s" % scenario.datastream.pk, scenario.body()
        )
        assert status == 200, answer
        (handle,) = [handle for handle in answer["handle"] if handle["type"] == "activation:pull"]
        (entry,) = [entry for entry in handle["payload"] if entry["alias"] == alias]
        return {segment["id"] for segment in entry["segments"]}

    def stop(self) -> None:
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


@pytest.fixture
def hosts(transactional_db, tmp_path):
    """Two hosts on this test's PostgreSQL database and the test Redis, under a key prefix of their own."""
    require_services()
    prefix = "hosts-%s" % uuid.uuid4().hex[:8]
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(connection.settings_dict),
        "REDIS_URL": REDIS_URL,
        "CACHE_KEY_PREFIX": prefix,
        "DJANGO_SETTINGS_MODULE": "personalization.settings",
        "DEBUG": "0",
        "SECURE_SSL_REDIRECT": "0",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "CONN_MAX_AGE": "0",
        "LOG_LEVEL": "WARNING",
        "HOST_LOG_DIR": str(tmp_path),
    }
    started = [Host(env), Host(env)]
    try:
        for host in started:
            host.wait_until_serving()
        yield started
    finally:
        for host in started:
            host.stop()
        client = redis.Redis.from_url(REDIS_URL)
        for key in client.scan_iter(match="%s:*" % prefix, count=1000):
            client.delete(key)
        client.close()


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
