"""Real gunicorn instances ("hosts") serving the app on loopback, on the test's PostgreSQL database and Redis."""

import contextlib
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

from tests.edge.conftest import REDIS_URL
from tests.integration.conftest import _database_url, require_services

__all__ = ["Host", "serving_hosts"]

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

    def raw(self, method: str, path: str, body: bytes | None, headers: dict) -> tuple[int, dict, bytes]:
        """Send exactly these bytes and headers (no Content-Type added); return status, headers and body."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=15)
        try:
            conn.putrequest(method, path, skip_host=False, skip_accept_encoding=True)
            if body is not None and "Content-Length" not in headers:
                headers = {**headers, "Content-Length": str(len(body))}
            for name, value in headers.items():
                conn.putheader(name, value)
            conn.endheaders(body)
            response = conn.getresponse()
            return response.status, {name.lower(): value for name, value in response.getheaders()}, response.read()
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


@contextlib.contextmanager
def serving_hosts(count: int, log_dir):
    """`count` hosts on this test's PostgreSQL database and the test Redis, under a key prefix of their own."""
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
        "HOST_LOG_DIR": str(log_dir),
    }
    started = [Host(env) for _ in range(count)]
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
