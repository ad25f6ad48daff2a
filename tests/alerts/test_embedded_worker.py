"""
The embedded mode as `make run` starts it: SQLite, a Celery worker with beat on the file broker, no Redis. A
breaching run reaches the bell and the console email through that worker.
"""

import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WAIT_SECONDS = 90

SEED = """
import django
django.setup()
from accounts import constants as perms
from accounts.services import role_create
from personalization.audiences.evaluation import audience_evaluate
from personalization.alerts.models import AlertSubscription
from tests.factories import (
    ActivationFactory, AudienceFactory, DestinationFactory, IdentityFactory, IdentityNamespaceFactory,
    ProfileFactory, ProfileFieldFactory, SandboxFactory, UserFactory,
)
sandbox = SandboxFactory(name="embedded")
email = IdentityNamespaceFactory(sandbox=sandbox, code="Email")
ProfileFieldFactory(sandbox=sandbox, path="loyalty.status")
gold = AudienceFactory(sandbox=sandbox, rule={"field": "loyalty.status", "op": "equals", "value": "gold"})
destination = DestinationFactory(sandbox=sandbox, name="Web")
ActivationFactory(destination=destination, audience=gold)
for number in range(50):
    profile = ProfileFactory(sandbox=sandbox, attributes={"loyalty": {"status": "gold"}})
    if number:
        IdentityFactory(profile=profile, namespace=email, value="p%d@example.com" % number)
marketer = UserFactory(username="marketer", email="marketer@shop.test")
role_create(name="alerts", permissions=[perms.VIEW_DESTINATIONS, perms.VIEW_ALERTS], users=[marketer],
            sandboxes=[sandbox])
AlertSubscription.objects.create(user=marketer, destination=destination, alert_type="activation_skipped_rate",
                                 email=True)
audience_evaluate(audience_id=gold.pk)  # the run is recorded on commit and sent to the worker
"""


def test_a_breach_reaches_the_bell_and_the_console_email_through_the_embedded_worker(tmp_path):
    database = tmp_path / "embedded.sqlite3"
    env = {
        **os.environ,
        "DATABASE_URL": "sqlite:///%s" % database,
        "DJANGO_SETTINGS_MODULE": "personalization.settings",
        "CELERY_BROKER_URL": "filesystem://",
        "CELERY_FILE_BROKER_DIR": str(tmp_path / "broker"),
        "EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend",
        "ALERT_EVALUATION_SECONDS": "1",
        "REDIS_URL": "",
        "LOG_LEVEL": "INFO",
    }
    env.pop("CELERY_TASK_DEFAULT_QUEUE", None)
    python = sys.executable
    subprocess.run([python, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True, timeout=300)
    log = tmp_path / "worker.log"
    with log.open("w") as output:
        worker = subprocess.Popen(
            [
                str(Path(python).parent / "celery"), "-A", "personalization", "worker", "--beat", "--pool=solo",
                "--loglevel=INFO", "--schedule", str(tmp_path / "beat-schedule"),
            ],
            cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        subprocess.run([python, "-c", SEED], cwd=ROOT, env=env, check=True, timeout=300)
        deadline = time.monotonic() + WAIT_SECONDS
        while time.monotonic() < deadline:
            with sqlite3.connect(database) as db:
                notified = db.execute("SELECT COUNT(*) FROM alerts_notification").fetchone()[0]
            if notified and "To: marketer@shop.test" in log.read_text(errors="replace"):
                break
            time.sleep(0.5)
        else:
            pytest.fail(
                "no notification and email within %d s; worker log:\n%s" % (WAIT_SECONDS, log.read_text()[-4000:])
            )
        printed = log.read_text(errors="replace")
        assert "1 of 50 profiles (2.0%) were skipped" in printed
        with sqlite3.connect(database) as db:
            assert db.execute("SELECT alert_type FROM alerts_alertevent").fetchall() == [("activation_skipped_rate",)]
            assert db.execute("SELECT COUNT(*) FROM alerts_notification WHERE read_at IS NULL").fetchone()[0] == 1
    finally:
        os.killpg(worker.pid, 15)
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, 9)
            worker.wait()
