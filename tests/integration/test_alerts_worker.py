"""
With a real worker and beat on Redis: a run that skips 2 % of its profiles reaches the bell, the mailbox and a
webhook receiver once each, through retries, duplicate evaluations and a worker killed mid-delivery.
"""

import json
import time
from pathlib import Path

import pytest

from accounts import constants as perms
from personalization.alerts.delivery import webhook_endpoint_create
from personalization.alerts.models import AlertEvent, Notification, WebhookDelivery
from personalization.alerts.tasks import evaluate_run
from personalization.audiences.evaluation import audience_evaluate
from personalization.edge.models import DataflowRun
from tests.factories import (
    ActivationFactory,
    AlertSubscriptionFactory,
    AudienceFactory,
    DestinationFactory,
    IdentityFactory,
    IdentityNamespaceFactory,
    ProfileFactory,
    ProfileFieldFactory,
    SandboxFactory,
    UserFactory,
)
from tests.integration.conftest import new_queue, require_services, sending_to, start_worker, stop_worker
from tests.utils.webhook_receiver import WebhookReceiver

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]

WAIT_SECONDS = 60


def wait_for(predicate, workers, what: str, seconds=WAIT_SECONDS):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    logs = "\n".join(worker.log()[:6000] + "\n...\n" + worker.log()[-3000:] for worker in workers)
    pytest.fail("timed out waiting for %s; worker logs:\n%s" % (what, logs))


class Alerting:
    """A sandbox whose destination has a subscriber (bell and email) and a webhook endpoint, and the workers."""

    def __init__(self, grant, mail_dir: Path, receiver: WebhookReceiver):
        self.mail_dir, self.receiver, self.workers = mail_dir, receiver, []
        self.queue = new_queue()
        self.env = {
            "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
            "EMAIL_FILE_PATH": str(mail_dir),
            "WEBHOOK_RETRY_SECONDS": "0.2",
            "WEBHOOK_TIMEOUT": "20",
            "ALERT_EVALUATION_SECONDS": "1",
            # A task a killed worker held is back in the queue after 3 s, looked for every second.
            "CELERY_BROKER_TRANSPORT_OPTIONS": json.dumps(
                {"visibility_timeout": 3, "unacked_restore_interval": 1, "unacked_restore_throttle": 1}
            ),
            "SITE_URL": "https://cpc.test",
        }
        self.sandbox = SandboxFactory(name="alerting")
        email = IdentityNamespaceFactory(sandbox=self.sandbox, code="Email")
        ProfileFieldFactory(sandbox=self.sandbox, path="loyalty.status")
        self.audience = AudienceFactory(
            sandbox=self.sandbox, name="Gold", rule={"field": "loyalty.status", "op": "equals", "value": "gold"}
        )
        self.destination = DestinationFactory(sandbox=self.sandbox, name="Web")
        ActivationFactory(destination=self.destination, audience=self.audience)
        for number in range(50):  # 49 with an identity, 1 without: 2 % skipped
            profile = ProfileFactory(sandbox=self.sandbox, attributes={"loyalty": {"status": "gold"}})
            if number:
                IdentityFactory(profile=profile, namespace=email, value="p%d@example.com" % number)
        self.subscriber = UserFactory(username="ada", email="ada@shop.test")
        grant(self.subscriber, self.sandbox, perms.VIEW_DESTINATIONS, perms.VIEW_ALERTS)
        AlertSubscriptionFactory(
            user=self.subscriber, destination=self.destination, alert_type="activation_skipped_rate", email=True
        )
        admin = UserFactory(username="alerts-admin", is_superuser=True)
        self.endpoint, receiver.secret = webhook_endpoint_create(
            user=admin, sandbox=self.sandbox, name="Ops", url=receiver.url, alert_types=["activation_skipped_rate"]
        )

    def start_worker(self, *, beat=True):
        worker = start_worker(self.queue, beat=beat, env=self.env)
        self.workers.append(worker)
        return worker

    def finish_a_run(self):
        """Evaluate the audience here (the run is recorded on commit and its evaluation sent to the workers)."""
        audience_evaluate(audience_id=self.audience.pk)
        return DataflowRun.objects.get(destination=self.destination)

    def emails(self) -> list[str]:
        texts = [path.read_text() for path in self.mail_dir.glob("*.log")] if self.mail_dir.exists() else []
        return [message for text in texts for message in text.split("-" * 79) if "Subject:" in message]

    def successful_deliveries(self):
        return WebhookDelivery.objects.filter(endpoint=self.endpoint, succeeded=True)


@pytest.fixture
def alerting(transactional_db, grant, tmp_path):
    require_services()
    receiver = WebhookReceiver().start()
    setup = Alerting(grant, tmp_path / "mail", receiver)
    try:
        with sending_to(setup.queue):
            yield setup
    finally:
        for worker in setup.workers:
            stop_worker(worker)
        receiver.stop()


def test_a_run_skipping_two_percent_is_one_alert_in_the_bell_the_mailbox_and_a_verified_webhook(alerting):
    workers = [alerting.start_worker()]

    run = alerting.finish_a_run()
    assert (run.profiles_received, run.profiles_skipped) == (50, 1)

    wait_for(lambda: alerting.successful_deliveries().exists(), workers, "the webhook delivery")
    wait_for(lambda: len(alerting.emails()) == 1, workers, "the email")
    assert AlertEvent.objects.filter(run=run).count() == 1
    assert list(Notification.objects.values_list("user__username", flat=True)) == ["ada"]
    [request] = alerting.receiver.received
    assert request.verified
    assert request.payload["data"]["run"]["id"] == str(run.pk)
    assert request.payload["data"]["alert"]["observed"] == 2.0
    [email] = alerting.emails()
    assert "ada@shop.test" in email and "https://cpc.test/runs/%s/" % run.pk in email


def test_a_receiver_answering_503_twice_gets_exactly_one_successful_delivery(alerting):
    alerting.receiver.statuses = [503, 503]
    workers = [alerting.start_worker()]

    alerting.finish_a_run()

    wait_for(lambda: alerting.successful_deliveries().exists(), workers, "the third attempt")
    time.sleep(1.5)  # beat runs meanwhile: nothing is delivered again
    attempts = list(WebhookDelivery.objects.order_by("attempt").values_list("status_code", flat=True))
    assert attempts == [503, 503, 200]
    assert alerting.successful_deliveries().count() == 1
    assert len(alerting.receiver.distinct_messages()) == 1


def test_a_receiver_answering_400_is_not_retried(alerting):
    alerting.receiver.statuses = [400]
    workers = [alerting.start_worker()]

    alerting.finish_a_run()

    wait_for(lambda: WebhookDelivery.objects.exists(), workers, "the first attempt")
    time.sleep(2)
    assert list(WebhookDelivery.objects.values_list("status_code", flat=True)) == [400]
    assert len(alerting.receiver.received) == 1


def test_evaluating_the_same_run_twice_in_two_workers_at_once_creates_one_alert(alerting):
    workers = [alerting.start_worker(), alerting.start_worker(beat=False)]
    run = alerting.finish_a_run()

    for _ in range(4):
        evaluate_run.delay(str(run.pk))

    wait_for(lambda: alerting.successful_deliveries().exists(), workers, "the webhook delivery")
    time.sleep(2)
    assert AlertEvent.objects.filter(run=run).count() == 1
    assert Notification.objects.count() == 1
    assert len(alerting.emails()) == 1
    assert len(alerting.receiver.distinct_messages()) == 1


def test_a_worker_killed_mid_delivery_loses_nothing_and_the_receiver_sees_the_event_once(alerting):
    alerting.receiver.hold_first = 4.0  # the first delivery is still waiting for its answer when the worker dies
    first = alerting.start_worker()

    alerting.finish_a_run()
    wait_for(lambda: alerting.receiver.received, [first], "the first delivery to reach the receiver")
    stop_worker(first, kill=True)  # SIGKILL: no acknowledgement, no recorded attempt
    second = alerting.start_worker()

    wait_for(lambda: alerting.successful_deliveries().exists(), [second], "the delivery after the restart")
    assert len(alerting.receiver.distinct_messages()) == 1
    assert all(request.verified for request in alerting.receiver.received)
    assert AlertEvent.objects.count() == 1
    assert Notification.objects.count() == 1
    assert len(alerting.emails()) == 1
