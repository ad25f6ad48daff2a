"""The Alerts page: rules, one's own subscriptions with a threshold, managers' subscribers and recipients, history."""

import pytest

from accounts import constants as perms
from personalization.alerts.models import AlertEvent, AlertRecipient, AlertSubscription
from tests.factories import AlertEventFactory, DataflowRunFactory, DestinationFactory, UserFactory

pytestmark = pytest.mark.django_db

HISTORY = (perms.VIEW_DESTINATIONS, perms.VIEW_ALERTS, perms.VIEW_ALERTS_HISTORY)
MANAGER = (*HISTORY, perms.MANAGE_ALERTS)


@pytest.fixture
def web(sandbox):
    return DestinationFactory(sandbox=sandbox, name="Web")


def signed_in(client, grant, sandbox, codenames, username="person"):
    person = UserFactory(username=username)
    grant(person, sandbox, *codenames)
    client.force_login(person)
    return person


def save(client, destination, **fields):
    return client.post(
        "/alerts/destinations/%s/subscription/" % destination.pk, {"next": "/alerts/", **fields}, follow=True
    )


def test_the_page_lists_the_three_rules_with_their_thresholds(client, grant, sandbox, web):
    signed_in(client, grant, sandbox, HISTORY)

    page = client.get("/alerts/").content.decode()

    for name in ("Activation Skipped Rate Exceeded", "Destination Flow Run Failure", "Destination Flow Run Delay"):
        assert name in page
    assert "1 % of a run" in page and "150 minutes" in page and "Web" in page


def test_view_alerts_alone_does_not_open_the_page(client, grant, sandbox):
    signed_in(client, grant, sandbox, (perms.VIEW_DESTINATIONS, perms.VIEW_ALERTS))

    assert client.get("/alerts/").status_code == 403


def test_a_user_subscribes_with_email_and_a_threshold_then_unsubscribes(client, grant, sandbox, web):
    me = signed_in(client, grant, sandbox, HISTORY)

    save(client, web, alert_type="activation_skipped_rate", subscribed="on", email="on", threshold="0.5")
    subscription = AlertSubscription.objects.get(user=me)
    assert (subscription.alert_type, subscription.email, subscription.threshold) == (
        "activation_skipped_rate",
        True,
        0.5,
    )

    save(client, web, alert_type="activation_skipped_rate")
    assert not AlertSubscription.objects.exists()


def test_a_threshold_out_of_range_is_refused_naming_the_field_and_nothing_changes(client, grant, sandbox, web):
    signed_in(client, grant, sandbox, HISTORY)

    page = save(client, web, alert_type="activation_skipped_rate", subscribed="on", threshold="150").content.decode()

    assert "Alert above (% skipped)" in page and "100" in page
    assert not AlertSubscription.objects.exists()


def test_a_threshold_only_applies_to_the_skipped_rate_alert(client, grant, sandbox, web):
    signed_in(client, grant, sandbox, HISTORY)

    page = save(client, web, alert_type="run_failure", subscribed="on", threshold="5").content.decode()

    assert "Only Activation Skipped Rate Exceeded takes a threshold." in page
    assert not AlertSubscription.objects.exists()


def test_a_manager_subscribes_and_unsubscribes_another_user(client, grant, sandbox, web):
    colleague = UserFactory(username="colleague")
    grant(colleague, sandbox, perms.VIEW_DESTINATIONS, perms.VIEW_ALERTS)
    signed_in(client, grant, sandbox, MANAGER, username="manager")

    save(client, web, alert_type="run_failure", subscribed="on", subscriber=colleague.pk)
    assert AlertSubscription.objects.get().user == colleague
    assert "colleague: Destination Flow Run Failure" in client.get("/alerts/").content.decode()

    save(client, web, alert_type="run_failure", subscriber=colleague.pk)
    assert not AlertSubscription.objects.exists()


def test_without_manage_alerts_another_users_subscription_is_refused(client, grant, sandbox, web):
    colleague = UserFactory(username="colleague")
    grant(colleague, sandbox, perms.VIEW_DESTINATIONS, perms.VIEW_ALERTS)
    signed_in(client, grant, sandbox, HISTORY)

    response = save(client, web, alert_type="run_failure", subscribed="on", subscriber=colleague.pk)

    assert response.status_code == 403
    assert not AlertSubscription.objects.exists()


def test_a_manager_sets_external_recipients_and_a_bad_address_is_named(client, grant, sandbox, web):
    signed_in(client, grant, sandbox, MANAGER, username="manager")
    url = "/alerts/destinations/%s/recipients/" % web.pk

    client.post(url, {"alert_type": "run_failure", "emails": "Ops@Shop.test, oncall@shop.test"})
    assert sorted(AlertRecipient.objects.values_list("email", flat=True)) == ["oncall@shop.test", "ops@shop.test"]

    page = client.post(url, {"alert_type": "run_failure", "emails": "ops@shop.test, not-an-address"}, follow=True)
    assert "These are not email addresses: not-an-address" in page.content.decode()
    assert AlertRecipient.objects.count() == 2  # nothing changed


def test_history_lists_triggered_alerts_and_a_resolver_resolves_one(client, grant, sandbox, web):
    run = DataflowRunFactory(destination=web)
    event = AlertEventFactory(run=run, message="2 of 100 profiles (2.0%) were skipped activating to Web.")
    signed_in(client, grant, sandbox, (*HISTORY, perms.RESOLVE_ALERTS))

    page = client.get("/alerts/history/").content.decode()
    assert event.message in page and "Resolve" in page
    client.post("/alerts/history/%d/resolve/" % event.pk)

    assert AlertEvent.objects.get().resolved_at is not None
    assert client.get("/alerts/history/?state=open").context["events"].count() == 0


def test_without_resolve_alerts_resolving_is_403(client, grant, sandbox, web):
    event = AlertEventFactory(run=DataflowRunFactory(destination=web))
    signed_in(client, grant, sandbox, HISTORY)

    assert client.post("/alerts/history/%d/resolve/" % event.pk).status_code == 403
    assert AlertEvent.objects.get().resolved_at is None


def test_a_manager_switches_a_rule_off_and_breaching_runs_raise_nothing_until_it_is_on(client, grant, sandbox, web):
    from django.utils import timezone

    from personalization.alerts.evaluation import alert_rules_evaluate_run

    signed_in(client, grant, sandbox, MANAGER, username="manager")
    client.post("/alerts/rules/", {"alert_type": "run_failure"})
    assert "<strong>Off</strong>" in client.get("/alerts/").content.decode()
    failed = DataflowRunFactory(destination=web, status="failed", finished_at=timezone.now())

    assert alert_rules_evaluate_run(run_id=failed.pk) == []
    client.post("/alerts/rules/", {"alert_type": "run_failure", "enabled": "on"})
    assert [event.alert_type for event in alert_rules_evaluate_run(run_id=failed.pk)] == ["run_failure"]


def test_without_manage_alerts_switching_a_rule_is_403(client, grant, sandbox):
    signed_in(client, grant, sandbox, HISTORY)

    assert client.post("/alerts/rules/", {"alert_type": "run_failure"}).status_code == 403
