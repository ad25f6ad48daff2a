"""Delivering an alert: the bell for subscribers who may see it, emails sent once, signed webhooks."""

import pytest

from accounts import constants as perms
from personalization.alerts import delivery
from personalization.alerts.delivery import DeliveryOutcome
from personalization.alerts.models import AlertEmail, AlertRecipient, Notification, WebhookDelivery
from tests.factories import (
    AlertEventFactory,
    AlertSubscriptionFactory,
    DataflowRunFactory,
    DestinationFactory,
    UserFactory,
)
from tests.utils.webhook_receiver import WebhookReceiver

pytestmark = pytest.mark.django_db


@pytest.fixture
def destination(sandbox):
    return DestinationFactory(sandbox=sandbox, name="Web")


@pytest.fixture
def event(destination):
    run = DataflowRunFactory(
        destination=destination, kind="batch", status="success", profiles_received=100, profiles_skipped=2
    )
    return AlertEventFactory(
        destination=destination,
        run=run,
        alert_type="activation_skipped_rate",
        message="2 of 100 profiles (2.0%) were skipped activating to Web.",
        observed_value=2.0,
        threshold=1.0,
    )


def subscriber(grant, destination, *, email=False, threshold=None, codenames=(perms.VIEW_ALERTS,), **user):
    person = UserFactory(**user)
    if codenames:
        grant(person, destination.sandbox, perms.VIEW_DESTINATIONS, *codenames)
    AlertSubscriptionFactory(
        user=person, destination=destination, alert_type="activation_skipped_rate", email=email, threshold=threshold
    )
    return person


@pytest.fixture
def receiver():
    running = WebhookReceiver().start()
    yield running
    running.stop()


def endpoint_for(sandbox, receiver, *, alert_types=("activation_skipped_rate",)):
    admin = UserFactory(is_superuser=True)
    endpoint, secret = delivery.webhook_endpoint_create(
        user=admin, sandbox=sandbox, name="Ops", url=receiver.url, alert_types=alert_types
    )
    receiver.secret = secret
    return endpoint


# In-app


def test_each_subscriber_who_may_view_alerts_gets_one_notification(event, grant, destination):
    reader = subscriber(grant, destination)
    subscriber(grant, destination, codenames=())  # subscribed once, no longer allowed to view alerts

    assert delivery.alert_event_notify(event_id=event.pk) == 1
    assert delivery.alert_event_notify(event_id=event.pk) == 0

    assert list(Notification.objects.values_list("user", flat=True)) == [reader.pk]


def test_a_subscriber_whose_threshold_the_run_did_not_pass_is_not_notified(event, grant, destination):
    subscriber(grant, destination, threshold=5.0)

    assert delivery.alert_event_notify(event_id=event.pk) == 0


# Email


def test_subscribers_who_asked_for_email_and_external_recipients_get_one_email_each(
    event, grant, destination, mailoutbox
):
    subscriber(grant, destination, email=True, username="ada")
    subscriber(grant, destination, email=False, username="bob")
    AlertRecipient.objects.create(destination=destination, alert_type="activation_skipped_rate", email="Ops@Shop.test")

    assert delivery.alert_event_email(event_id=event.pk) == 2
    assert delivery.alert_event_email(event_id=event.pk) == 0  # a repeated delivery sends nothing again

    assert sorted(message.to[0] for message in mailoutbox) == ["ada@example.com", "ops@shop.test"]
    message = mailoutbox[0]
    assert "Activation Skipped Rate Exceeded" in message.subject and "Web" in message.subject
    assert "2 of 100 profiles" in message.body and "/runs/%s/" % event.run_id in message.body
    assert AlertEmail.objects.filter(sent_at__isnull=False).count() == 2


# Webhooks


def test_a_webhook_is_signed_so_a_standard_webhooks_library_verifies_it(event, receiver):
    endpoint = endpoint_for(event.destination.sandbox, receiver)

    assert delivery.webhook_deliver(endpoint_id=endpoint.pk, event_id=event.pk) == DeliveryOutcome.DELIVERED

    [request] = receiver.received
    assert request.verified
    assert request.headers["webhook-id"] == delivery.webhook_message_id(endpoint.pk, event.pk)
    payload = request.payload
    assert payload["type"] == "alert.activation_skipped_rate"
    assert payload["data"]["run"]["profiles_skipped"] == 2
    assert payload["data"]["destination"]["name"] == "Web"
    assert payload["data"]["links"]["run"].endswith("/runs/%s/" % event.run_id)


def test_a_message_signed_with_another_secret_does_not_verify(event, receiver):
    endpoint = endpoint_for(event.destination.sandbox, receiver)
    receiver.secret = "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo="

    delivery.webhook_deliver(endpoint_id=endpoint.pk, event_id=event.pk)

    assert not receiver.received[0].verified


def test_a_5xx_is_worth_a_retry_a_4xx_is_final_and_every_attempt_is_recorded(event, receiver):
    endpoint = endpoint_for(event.destination.sandbox, receiver)
    receiver.statuses = [503, 400]

    assert delivery.webhook_deliver(endpoint_id=endpoint.pk, event_id=event.pk) == DeliveryOutcome.RETRY
    assert delivery.webhook_deliver(endpoint_id=endpoint.pk, event_id=event.pk) == DeliveryOutcome.GAVE_UP

    attempts = list(WebhookDelivery.objects.order_by("attempt").values_list("attempt", "status_code", "succeeded"))
    assert attempts == [(1, 503, False), (2, 400, False)]
    assert len(receiver.distinct_messages()) == 1  # the same webhook-id on every attempt


def test_an_unreachable_receiver_is_worth_a_retry_and_records_the_error(event, receiver):
    endpoint = endpoint_for(event.destination.sandbox, receiver)
    receiver.stop()

    assert delivery.webhook_deliver(endpoint_id=endpoint.pk, event_id=event.pk) == DeliveryOutcome.RETRY

    attempt = WebhookDelivery.objects.get()
    assert attempt.status_code is None and "Connection" in attempt.error


def test_an_event_delivered_once_is_not_sent_again(event, receiver):
    endpoint = endpoint_for(event.destination.sandbox, receiver)
    delivery.webhook_deliver(endpoint_id=endpoint.pk, event_id=event.pk)

    assert delivery.webhook_deliver(endpoint_id=endpoint.pk, event_id=event.pk) == DeliveryOutcome.DELIVERED

    assert len(receiver.received) == 1


def test_only_endpoints_taking_the_alert_type_receive_it(event, receiver):
    taking = endpoint_for(event.destination.sandbox, receiver)
    other = WebhookReceiver().start()
    try:
        admin = UserFactory(is_superuser=True)
        delivery.webhook_endpoint_create(
            user=admin, sandbox=event.destination.sandbox, name="Failures", url=other.url, alert_types=["run_failure"]
        )

        assert delivery.alert_event_webhooks(event_id=event.pk) == [taking.pk]
    finally:
        other.stop()


def test_the_signing_secret_is_not_stored(event, receiver):
    endpoint = endpoint_for(event.destination.sandbox, receiver)

    stored = " ".join(str(value) for value in type(endpoint).objects.filter(pk=endpoint.pk).values().get().values())
    assert receiver.secret.removeprefix("whsec_") not in stored
