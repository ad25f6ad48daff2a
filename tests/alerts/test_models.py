"""Alert rules: one event per rule and run, one subscription and notification each, webhooks with known alert types."""

import pytest

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import IntegrityError, transaction

from personalization.alerts.models import (
    AlertEvent,
    AlertSubscription,
    AlertType,
    Notification,
    WebhookDelivery,
    WebhookEndpoint,
)
from tests.factories import (
    AlertEventFactory,
    AlertSubscriptionFactory,
    DataflowRunFactory,
    NotificationFactory,
    WebhookDeliveryFactory,
    WebhookEndpointFactory,
)

pytestmark = pytest.mark.django_db


def _event_like(event, **overrides):
    values = {
        "destination": event.destination,
        "run": event.run,
        "alert_type": event.alert_type,
        "message": "Again",
        **overrides,
    }
    return AlertEvent(**values)


# Alert events


def test_a_run_breaches_one_alert_rule_at_most_once(sandbox):
    # given
    event = AlertEventFactory(run__destination__datastream__sandbox=sandbox)
    duplicate = _event_like(event)
    # when
    with pytest.raises(ValidationError) as excinfo:
        duplicate.full_clean()
    # then
    assert excinfo.value.message_dict[NON_FIELD_ERRORS] == ["Alert event with this Alert and Run already exists."]
    with pytest.raises(IntegrityError), transaction.atomic():
        duplicate.save()


def test_one_run_may_breach_different_alert_rules(sandbox):
    event = AlertEventFactory(
        run__destination__datastream__sandbox=sandbox, alert_type=AlertType.ACTIVATION_SKIPPED_RATE
    )

    other = _event_like(event, alert_type=AlertType.RUN_FAILURE)
    other.full_clean()
    other.save()

    assert AlertEvent.objects.filter(run=event.run).count() == 2


def test_an_alert_event_names_the_destination_of_its_run(sandbox):
    event = AlertEventFactory(run__destination__datastream__sandbox=sandbox)
    other_run = DataflowRunFactory(destination__datastream__sandbox=sandbox)

    with pytest.raises(ValidationError) as excinfo:
        _event_like(event, run=other_run).full_clean()

    assert excinfo.value.message_dict["run"] == ["The run belongs to another destination."]


def test_an_alert_event_needs_a_known_alert_type(sandbox):
    event = AlertEventFactory(run__destination__datastream__sandbox=sandbox)

    with pytest.raises(ValidationError) as excinfo:
        _event_like(event, alert_type="disk_full").full_clean()

    assert excinfo.value.message_dict["alert_type"] == ["Value 'disk_full' is not a valid choice."]


# Subscriptions and notifications


def test_a_user_subscribes_to_one_alert_on_one_destination_once(sandbox):
    existing = AlertSubscriptionFactory(destination__datastream__sandbox=sandbox)
    duplicate = AlertSubscription(
        user=existing.user, destination=existing.destination, alert_type=existing.alert_type, email=True
    )

    with pytest.raises(ValidationError) as excinfo:
        duplicate.full_clean()
    assert excinfo.value.message_dict[NON_FIELD_ERRORS] == [
        "You are already subscribed to this alert on this destination."
    ]

    with pytest.raises(IntegrityError), transaction.atomic():
        duplicate.save()


def test_a_user_is_notified_of_an_alert_event_once(sandbox):
    existing = NotificationFactory(event__run__destination__datastream__sandbox=sandbox)
    duplicate = Notification(user=existing.user, event=existing.event)

    with pytest.raises(ValidationError) as excinfo:
        duplicate.full_clean()
    assert NON_FIELD_ERRORS in excinfo.value.message_dict

    with pytest.raises(IntegrityError), transaction.atomic():
        duplicate.save()


# Webhooks


def test_a_webhook_with_known_alert_types_is_valid(sandbox):
    WebhookEndpointFactory.build(sandbox=sandbox, alert_types=list(AlertType.values)).full_clean()


def test_a_webhook_with_no_alert_types_is_valid(sandbox):
    WebhookEndpointFactory.build(sandbox=sandbox, alert_types=[]).full_clean()


@pytest.mark.parametrize("alert_types", [["run_failure", "disk_full"], "run_failure", {"run_failure": True}])
def test_a_webhook_alert_type_outside_the_offered_ones_is_refused_listing_them(sandbox, alert_types):
    webhook = WebhookEndpointFactory.build(sandbox=sandbox, alert_types=alert_types)

    with pytest.raises(ValidationError) as excinfo:
        webhook.full_clean()

    assert excinfo.value.message_dict["alert_types"] == [
        "Choose alert types from: activation_skipped_rate, run_delay, run_failure."
    ]


def test_a_webhook_needs_a_valid_url(sandbox):
    with pytest.raises(ValidationError) as excinfo:
        WebhookEndpointFactory.build(sandbox=sandbox, url="hooks.example.com/alerts").full_clean()

    assert excinfo.value.message_dict["url"] == ["Enter a valid URL."]


def test_two_webhooks_in_one_sandbox_cannot_share_a_name(sandbox):
    WebhookEndpointFactory(sandbox=sandbox, name="Ops channel")
    duplicate = WebhookEndpointFactory.build(sandbox=sandbox, name="Ops channel")

    with pytest.raises(ValidationError) as excinfo:
        duplicate.full_clean()
    assert excinfo.value.message_dict[NON_FIELD_ERRORS] == ["This sandbox already has a webhook with this name."]

    with pytest.raises(IntegrityError), transaction.atomic():
        duplicate.save()


def test_the_same_webhook_name_is_fine_in_another_sandbox(sandbox, other_sandbox):
    WebhookEndpointFactory(sandbox=sandbox, name="Ops channel")

    WebhookEndpointFactory.build(sandbox=other_sandbox, name="Ops channel").full_clean()


def test_each_delivery_attempt_of_an_event_to_a_webhook_is_recorded_once(sandbox):
    first = WebhookDeliveryFactory(endpoint__sandbox=sandbox, attempt=1)
    WebhookDelivery.objects.create(endpoint=first.endpoint, event=first.event, attempt=2)

    with pytest.raises(IntegrityError), transaction.atomic():
        WebhookDelivery.objects.create(endpoint=first.endpoint, event=first.event, attempt=2)

    assert WebhookDelivery.objects.count() == 2


def test_webhook_alert_types_default_to_none():
    assert WebhookEndpoint().alert_types == []
