"""
A real Celery worker for integration tests: `celery -A personalization worker` against Redis and the test's
PostgreSQL database.

Tests using `celery_worker` must be `django_db(transaction=True)`, so what they write is committed and the
worker (another process) sees it. Without PostgreSQL or Redis the tests skip, unless REQUIRE_SERVICES=1 asks
for them to fail instead.
"""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import quote, urlsplit

import kombu.pools
import pytest

ROOT = Path(__file__).resolve().parents[2]
BROKER_URL = os.environ.get("INTEGRATION_BROKER_URL", "redis://127.0.0.1:6379/5")
START_TIMEOUT = 60


def _redis_reachable(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 6379), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def require_services(*, postgres: bool = True, redis: bool = True) -> None:
    """Skip (or, with REQUIRE_SERVICES=1, fail) unless PostgreSQL and Redis are there."""
    from django.db import connection

    missing = []
    if postgres and connection.vendor != "postgresql":
        missing.append("DATABASE_URL does not point at PostgreSQL (it is %s)" % connection.vendor)
    if redis and not _redis_reachable(BROKER_URL):
        missing.append("no Redis answers at %s" % BROKER_URL)
    if missing:
        reason = "needs real services: " + "; ".join(missing)
        if os.environ.get("REQUIRE_SERVICES") == "1":
            pytest.fail(reason + " (REQUIRE_SERVICES=1)")
        pytest.skip(reason)


def _database_url(settings_dict: dict) -> str:
    user = quote(settings_dict.get("USER") or "")
    password = settings_dict.get("PASSWORD") or ""
    credentials = "%s:%s@" % (user, quote(password)) if password else ("%s@" % user if user else "")
    host = settings_dict.get("HOST") or "127.0.0.1"
    port = settings_dict.get("PORT") or 5432
    return "postgres://%s%s:%s/%s" % (credentials, host, port, settings_dict["NAME"])


class Worker:
    """A running worker process and the queue it consumes."""

    def __init__(self, process, queue: str, log_path: str):
        self.process = process
        self.queue = queue
        self.log_path = log_path

    def log(self) -> str:
        return Path(self.log_path).read_text(errors="replace")


def _forget_connections(app) -> None:
    """
    Drop the app's cached broker connections so the next send uses the current `broker_url`.

    The app's pools live in kombu's process-wide registry, keyed by broker URL: closing one without clearing
    the registry leaves a closed pool behind for the next test that sends to the same URL (eager sends too).
    """
    kombu.pools.reset()
    app._pool = None
    app.amqp._producer_pool = None


def start_worker(queue: str, *, beat: bool = False, env: dict | None = None) -> Worker:
    """Start `celery worker` on `queue` (with beat inside it when asked) and wait until it is ready."""
    from django.db import connection

    log = tempfile.NamedTemporaryFile("w", prefix="celery-worker-", suffix=".log", delete=False)
    environment = {
        **os.environ,
        "DATABASE_URL": _database_url(connection.settings_dict),
        "CELERY_BROKER_URL": BROKER_URL,
        "CELERY_TASK_DEFAULT_QUEUE": queue,  # what the worker and its beat send go to this test's queue
        "DJANGO_SETTINGS_MODULE": "personalization.settings",
        "CONN_MAX_AGE": "0",
        "LOG_LEVEL": "INFO",
        **(env or {}),
    }
    environment.pop("REDIS_URL", None)
    command = [
        str(Path(sys.executable).parent / "celery"),
        "-A",
        "personalization",
        "worker",
        "--pool=solo",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
        "-Q",
        queue,
        "-n",
        "%s-%s@%%h" % (queue, uuid.uuid4().hex[:6]),
        "--loglevel=INFO",
    ]
    if beat:
        command += ["--beat", "--schedule", log.name + ".beat"]
    # A session of its own: killing the worker kills its beat process with it, as losing the machine would.
    process = subprocess.Popen(
        command, cwd=ROOT, env=environment, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    worker = Worker(process, queue, log.name)
    deadline = time.monotonic() + START_TIMEOUT
    while " ready." not in worker.log():
        if process.poll() is not None or time.monotonic() > deadline:
            stop_worker(worker)
            pytest.fail("the Celery worker did not start:\n%s" % worker.log()[-4000:])
        time.sleep(0.2)
    return worker


def stop_worker(worker: Worker, *, kill: bool = False) -> None:
    """Stop the worker (and its beat): warm shutdown, or SIGKILL with `kill`, as a crash would."""
    if worker.process.poll() is None:
        os.killpg(worker.process.pid, signal.SIGKILL if kill else signal.SIGTERM)
        try:
            worker.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(worker.process.pid, signal.SIGKILL)
            worker.process.wait()
    with contextlib.suppress(ProcessLookupError):
        os.killpg(worker.process.pid, signal.SIGKILL)  # whatever is left of its group


@contextlib.contextmanager
def sending_to(queue: str):
    """Make this process send tasks to `queue` on Redis instead of running them eagerly."""
    from personalization.celery import app

    saved = {key: app.conf.get(key) for key in ("task_always_eager", "broker_url", "task_default_queue")}
    try:
        app.conf.update(task_always_eager=False, broker_url=BROKER_URL, task_default_queue=queue)
        _forget_connections(app)
        yield
    finally:
        app.conf.update(saved)
        _forget_connections(app)


def new_queue() -> str:
    return "cpc-integration-%s" % uuid.uuid4().hex[:12]


@pytest.fixture
def celery_worker(transactional_db):
    """
    Start a worker on a queue of its own, consuming from Redis and writing to this test's database, and make
    this process send tasks there instead of running them eagerly. Stopped (and the settings restored) after.
    """
    require_services()
    worker = start_worker(new_queue())
    try:
        with sending_to(worker.queue):
            yield worker
    finally:
        stop_worker(worker)
        for path in (worker.log_path, worker.log_path + ".beat"):
            if os.path.exists(path):
                os.unlink(path)
