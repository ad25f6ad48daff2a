#!/usr/bin/env python
"""
Benchmark alert delivery: from a dataflow run that breaches a rule being committed to its signed webhook arriving.

    .venv/bin/python bench/alerts.py              # 20 runs
    .venv/bin/python bench/alerts.py --runs 50

It starts a real Celery worker (solo pool) on Redis against the bench's PostgreSQL database and a local webhook
receiver, then records `--runs` batch runs that skip 2 % of their 50 profiles, one at a time. Each commit sends
the run to the worker, which evaluates the rules, creates the alert, hands it to the bell and email, and queues
its webhook delivery; the receiver notes when each message arrives and verifies its signature. Printed: p50,
p90 and max of commit → webhook received, against a baseline measured in the same run: the same signed delivery
made directly from this process (`alerts.delivery.webhook_deliver`), so the ratio is what the queue and the
worker add. Needs PostgreSQL and Redis (DATABASE_URL / the broker below).
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from _common import BENCH_ENVIRONMENT, ensure_postgres_database, setup_django  # noqa: E402

QUEUE = "cpc-bench-alerts-%s" % uuid.uuid4().hex[:8]
DEFAULTS = {
    **BENCH_ENVIRONMENT,
    "CELERY_BROKER_URL": "redis://127.0.0.1:6379/9",
    "CELERY_TASK_DEFAULT_QUEUE": QUEUE,
    "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
    "SITE_URL": "https://cpc.bench",
}
SANDBOX = "bench-alerts"
PROFILES = 50  # one without an identity: 2 % skipped


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def start_worker() -> tuple[subprocess.Popen, str]:
    log = tempfile.NamedTemporaryFile("w", prefix="bench-alerts-worker-", suffix=".log", delete=False)
    command = [
        str(Path(sys.executable).parent / "celery"), "-A", "personalization", "worker", "--pool=solo",
        "--without-gossip", "--without-mingle", "--without-heartbeat", "-Q", QUEUE, "--loglevel=WARNING",
    ]  # fmt: skip
    process = subprocess.Popen(
        command, cwd=ROOT, env={**os.environ}, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit("the worker stopped:\n" + Path(log.name).read_text()[-3000:])
        with Path(log.name).open() as text:
            if "ready" in text.read() or time.monotonic() > deadline - 50:  # WARNING level logs little
                break
        time.sleep(0.5)
    time.sleep(3)  # connected and consuming
    return process, log.name


def seed(receiver_url: str):
    """Create (or reset) the bench sandbox: a destination activating an audience, 50 members, a webhook."""
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from accounts.models import Sandbox
    from personalization.alerts.delivery import webhook_endpoint_create
    from personalization.alerts.models import WebhookEndpoint
    from personalization.audiences.models import Audience, AudienceMembership
    from personalization.datastreams.models import Datastream
    from personalization.destinations.models import AudienceActivation, Destination
    from personalization.profiles.models import Identity, IdentityNamespace, Profile

    sandbox, _created = Sandbox.objects.get_or_create(name=SANDBOX, defaults={"title": "Bench alerts"})
    WebhookEndpoint.objects.filter(sandbox=sandbox).delete()
    Destination.objects.filter(sandbox=sandbox).delete()
    datastream, _created = Datastream.objects.get_or_create(sandbox=sandbox, name="Bench")
    audience, _created = Audience.objects.get_or_create(
        sandbox=sandbox, name="Members", defaults={"status": Audience.Status.PUBLISHED}
    )
    destination = Destination.objects.create(
        sandbox=sandbox, kind=Destination.Kind.CUSTOM_PERSONALIZATION, name="Web", alias="web", datastream=datastream
    )
    AudienceActivation.objects.create(destination=destination, audience=audience)
    namespace, _created = IdentityNamespace.objects.get_or_create(
        sandbox=sandbox, code="Email", defaults={"name": "Email"}
    )
    if not AudienceMembership.objects.filter(audience=audience).exists():
        now = timezone.now()
        for number in range(PROFILES):
            profile = Profile.objects.create(sandbox=sandbox, attributes={})
            if number:
                Identity.objects.create(
                    sandbox=sandbox, profile=profile, namespace=namespace, value="p%d@bench.test" % number
                )
            AudienceMembership.objects.create(audience=audience, profile=profile, qualified_at=now)
    user, _created = get_user_model().objects.get_or_create(username="bench-alerts", defaults={"is_superuser": True})
    endpoint, secret = webhook_endpoint_create(
        user=user, sandbox=sandbox, name="Bench receiver", url=receiver_url, alert_types=["activation_skipped_rate"]
    )
    return audience, destination, endpoint, secret


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    setup_django(DEFAULTS)
    ensure_postgres_database("bench/alerts.py")
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from django.db import transaction
    from django.utils import timezone

    from personalization.alerts.delivery import webhook_deliver
    from personalization.alerts.models import AlertEvent
    from personalization.celery import app
    from personalization.edge.runs import dataflow_runs_record
    from tests.utils.webhook_receiver import WebhookReceiver

    arrivals = {}

    class Arrivals(list):
        """The receiver's list of requests, noting when each run's message arrived."""

        def append(self, request):
            arrivals.setdefault(request.payload["data"]["run"]["id"], time.perf_counter())
            super().append(request)

    receiver = WebhookReceiver(received=Arrivals()).start()
    audience, destination, endpoint, receiver.secret = seed(receiver.url)
    app.conf.update(task_always_eager=False, task_default_queue=QUEUE)
    worker, log = start_worker()
    latencies = []
    try:
        for index in range(args.runs):
            started = timezone.now() - timezone.timedelta(minutes=1)
            with transaction.atomic():
                [run] = dataflow_runs_record(
                    audience_id=audience.pk,
                    kind="batch",
                    source="bench:%s:%d" % (QUEUE, index),
                    started_at=started,
                    finished_at=timezone.now(),
                    moved_since=started - timezone.timedelta(days=3650),
                )
            committed = time.perf_counter()
            deadline = committed + 60
            while str(run.pk) not in arrivals:
                if time.perf_counter() > deadline:
                    raise SystemExit("no webhook for run %s; worker log:\n%s" % (run.pk, Path(log).read_text()[-3000:]))
                time.sleep(0.002)
            latencies.append(arrivals[str(run.pk)] - committed)
        events = list(AlertEvent.objects.filter(destination=destination).order_by("created_at"))
        direct = []
        for event in events[: min(len(events), args.runs)]:
            event.deliveries.all().delete()
            began = time.perf_counter()
            webhook_deliver(endpoint_id=endpoint.pk, event_id=event.pk)
            direct.append(time.perf_counter() - began)
    finally:
        os.killpg(worker.pid, 15)
        worker.wait(timeout=20)
        receiver.stop()
        os.unlink(log)
    verified = sum(1 for request in receiver.received if request.verified)
    ms = [value * 1000 for value in latencies]
    base = [value * 1000 for value in direct]
    print("alert delivery over %d runs (1 of %d profiles skipped in each, 2 %%); worker: solo pool on Redis" % (
        len(ms), PROFILES))  # fmt: skip
    print("%-48s %8s %8s %8s" % ("", "p50 ms", "p90 ms", "max ms"))
    for label, values in (
        ("run committed -> signed webhook received", ms),
        ("baseline: the same delivery, direct", base),
    ):
        print("%-48s %8.1f %8.1f %8.1f" % (label, statistics.median(values), percentile(values, 0.9), max(values)))
    print("ratio (p50): %.1fx the direct delivery; %d of %d messages verified with standardwebhooks" % (
        statistics.median(ms) / statistics.median(base), verified, len(receiver.received)))  # fmt: skip


if __name__ == "__main__":
    main()
