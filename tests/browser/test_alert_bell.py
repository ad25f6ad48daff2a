"""A subscriber sees an alert under the bell in Chromium, opens its run, and marks it read."""

import pytest

try:
    from playwright.sync_api import expect
except ImportError:  # the `browser` fixture then skips these tests, or fails them under REQUIRE_SERVICES
    expect = None

from accounts.constants import VIEW_ALERTS, VIEW_DESTINATIONS
from personalization.alerts.delivery import alert_event_notify
from personalization.alerts.evaluation import alert_rules_evaluate_run
from tests.factories import (
    AlertSubscriptionFactory,
    DataflowRunFactory,
    DestinationFactory,
    SandboxFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_bell_counts_an_alert_opens_its_run_and_mark_read_clears_it(page, login, grant, screenshot):
    sandbox = SandboxFactory(name="prod", title="Production")
    destination = DestinationFactory(sandbox=sandbox, name="Website personalization")
    marketer = UserFactory(username="marketer")
    grant(marketer, sandbox, VIEW_DESTINATIONS, VIEW_ALERTS)
    AlertSubscriptionFactory(user=marketer, destination=destination, alert_type="activation_skipped_rate")
    run = DataflowRunFactory(
        destination=destination,
        kind="batch",
        status="success",
        profiles_received=1000,
        profiles_skipped=25,
        profiles_activated=975,
        skip_reasons={"no_identity": 25},
    )
    run.finished_at = run.started_at
    run.save()
    [event] = alert_rules_evaluate_run(run_id=run.pk)
    alert_event_notify(event_id=event.pk)
    login(page, marketer)

    page.goto("/")
    bell = page.locator("#bell summary")
    expect(bell).to_have_attribute("aria-label", "Notifications, 1 unread")
    expect(page.locator(".bell-count")).to_have_text("1")
    bell.click()
    screenshot(page, "alert-bell-open")
    page.locator("#bell").get_by_role("link", name="Activation Skipped Rate Exceeded").click()

    expect(page.get_by_role("heading", name="Dataflow run to Website personalization")).to_be_visible()
    main = page.get_by_role("main")
    expect(main.get_by_text("No identity a lookup could find the profile by")).to_be_visible()
    expect(main.get_by_text("25 of 1,000 profiles (2.5%) were skipped")).to_be_visible()
    screenshot(page, "alert-run-detail")

    page.locator("#bell summary").click()
    page.locator("#bell").get_by_role("button", name="Mark read").click()

    expect(page.locator("#bell summary")).to_have_attribute("aria-label", "Notifications, 0 unread")
    expect(page.locator(".bell-count")).to_have_count(0)
