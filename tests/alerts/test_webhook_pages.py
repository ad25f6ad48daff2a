"""Webhook endpoints for Manage Alerts: the secret shown once, a test message, every attempt on the page."""

import pytest

from accounts import constants as perms
from personalization.alerts.models import WebhookDelivery, WebhookEndpoint
from tests.factories import UserFactory
from tests.utils.webhook_receiver import WebhookReceiver

pytestmark = pytest.mark.django_db

MANAGER = (perms.VIEW_ALERTS, perms.MANAGE_ALERTS)


@pytest.fixture
def manager_client(client, grant, sandbox):
    manager = UserFactory(username="manager")
    grant(manager, sandbox, *MANAGER)
    client.force_login(manager)
    return client


@pytest.fixture
def receiver():
    running = WebhookReceiver().start()
    yield running
    running.stop()


def create(client, url, **fields):
    data = {"name": "Ops", "url": url, "alert_types": ["activation_skipped_rate", "run_failure"], **fields}
    return client.post("/alerts/webhooks/new/", data)


def test_without_manage_alerts_the_webhooks_pages_are_403(client, grant, sandbox):
    viewer = UserFactory(username="viewer")
    grant(viewer, sandbox, perms.VIEW_ALERTS, perms.VIEW_ALERTS_HISTORY)
    client.force_login(viewer)

    assert client.get("/alerts/webhooks/").status_code == 403
    assert client.get("/alerts/webhooks/new/").status_code == 403


def test_the_signing_secret_is_shown_once_and_not_cached(manager_client, receiver):
    response = create(manager_client, receiver.url)

    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    secret = response.context["secret"]
    assert secret.startswith("whsec_") and secret in response.content.decode()
    endpoint = WebhookEndpoint.objects.get()
    assert secret not in manager_client.get(endpoint.get_absolute_url()).content.decode()


def test_a_url_that_is_not_http_is_refused_naming_the_field(manager_client):
    response = create(manager_client, "ftp://hooks.shop.test/in")

    assert response.status_code == 200
    assert "url" in response.context["form"].errors
    assert not WebhookEndpoint.objects.exists()


def test_a_test_message_is_signed_delivered_and_listed_on_the_endpoints_page(manager_client, receiver):
    secret = create(manager_client, receiver.url).context["secret"]
    receiver.secret = secret
    endpoint = WebhookEndpoint.objects.get()

    page = manager_client.post("/alerts/webhooks/%d/test/" % endpoint.pk, follow=True).content.decode()

    [request] = receiver.received
    assert request.verified and request.payload["type"] == "alert.test"
    assert "The test message was delivered (HTTP 200)." in page
    assert WebhookDelivery.objects.get().message_id in page


def test_a_test_message_to_a_receiver_that_is_down_says_why(manager_client, receiver):
    create(manager_client, receiver.url)
    endpoint = WebhookEndpoint.objects.get()
    receiver.stop()

    page = manager_client.post("/alerts/webhooks/%d/test/" % endpoint.pk, follow=True).content.decode()

    assert "The test message was not delivered: ConnectionError" in page
    assert WebhookDelivery.objects.get().succeeded is False


def test_deleting_an_endpoint_stops_its_deliveries(manager_client, receiver):
    create(manager_client, receiver.url)
    endpoint = WebhookEndpoint.objects.get()

    manager_client.post("/alerts/webhooks/%d/delete/" % endpoint.pk)

    assert not WebhookEndpoint.objects.exists()
