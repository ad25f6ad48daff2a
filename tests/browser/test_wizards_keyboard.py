"""
A marketer completes the connect and activation wizards with the keyboard alone (Tab, typing, Space, Enter), and
every step of both passes axe-core with no serious or critical violation.
"""

import pytest

try:
    from playwright.sync_api import expect
except ImportError:  # the `browser` fixture then skips these tests, or fails them under REQUIRE_SERVICES
    expect = None

from django.utils import timezone

from personalization.destinations.models import Destination
from tests.browser.test_accessibility import BLOCKING, _axe
from tests.browser.test_destination_wizards import Shop

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# More Tab presses than any page has stops: past it, the control cannot be reached by keyboard.
MAX_TABS = 120


@pytest.fixture
def shop(grant):
    return Shop(grant)


def tab_to(page, locator):
    """Press Tab until `locator` has the focus, as a keyboard user would, and fail if it never gets it."""
    for _ in range(MAX_TABS):
        if locator.evaluate("(element) => element === document.activeElement"):
            return
        page.keyboard.press("Tab")
    raise AssertionError("%s cannot be reached with the Tab key" % locator)


def test_a_marketer_connects_and_activates_with_the_keyboard_alone_and_every_step_passes_axe(page, login, shop):
    steps_checked = []

    def check_step(title):
        expect(page.get_by_role("heading", level=2)).to_contain_text(title)
        blocking = [v["id"] for v in _axe(page) if v["impact"] in BLOCKING]
        assert blocking == [], "%s: %s" % (title, blocking)
        steps_checked.append(title)
        # Each step starts where a keyboard user starts: at the top of the page.
        page.locator("body").evaluate("(body) => { document.activeElement.blur(); window.scrollTo(0, 0); }")

    login(page, shop.marketer)
    page.goto("/destinations/catalog/")
    card = page.get_by_role("article").filter(has_text="Custom Personalization With Attributes")
    tab_to(page, card.get_by_role("button", name="Set up"))
    page.keyboard.press("Enter")

    # Connect: connection parameters, typed field by field; the datastream picked by typing its name.
    check_step("Connection parameters")
    tab_to(page, page.get_by_label("Name"))
    page.keyboard.type("Homepage hero")
    tab_to(page, page.get_by_label("Integration alias"))
    page.keyboard.type("heroBanner")
    tab_to(page, page.get_by_label("Datastream"))
    page.keyboard.type("Web")
    tab_to(page, page.get_by_role("button", name="Next", exact=True))
    page.keyboard.press("Enter")

    check_step("Alerts")
    tab_to(page, page.get_by_label("Activation Skipped Rate Exceeded"))
    page.keyboard.press("Space")
    tab_to(page, page.get_by_role("button", name="Next", exact=True))
    page.keyboard.press("Enter")

    check_step("Marketing actions")
    tab_to(page, page.get_by_label("Onsite Personalization"))
    page.keyboard.press("Space")
    tab_to(page, page.get_by_role("button", name="Next: activate audiences"))
    page.keyboard.press("Enter")

    # Activate: the connection just made, two audiences, a mapping, a schedule, the review.
    check_step("Select audiences")
    tab_to(page, page.locator("#audience-table").get_by_label("Gold members"))
    page.keyboard.press("Space")
    tab_to(page, page.locator("#audience-table").get_by_label("Germans"))
    page.keyboard.press("Space")
    tab_to(page, page.get_by_role("button", name="Next", exact=True))
    page.keyboard.press("Enter")

    check_step("Mapping")
    tab_to(page, page.get_by_label("Source field, row 1"))
    page.keyboard.type("loyalty.status")
    tab_to(page, page.get_by_label("Target field, row 1"))
    page.keyboard.press("Control+A")
    page.keyboard.type("tier")
    tab_to(page, page.get_by_role("button", name="Next", exact=True))
    page.keyboard.press("Enter")

    check_step("Audience schedule")
    tab_to(page, page.get_by_role("button", name="Next", exact=True))
    page.keyboard.press("Enter")

    check_step("Review")
    tab_to(page, page.get_by_role("button", name="Finish"))
    page.keyboard.press("Enter")
    expect(page.get_by_text("Homepage hero now activates 2 audiences.")).to_be_visible()

    print("\naxe-core: %d wizard steps checked, 0 serious or critical violations" % len(steps_checked))
    destination = Destination.objects.get(alias="heroBanner")
    assert destination.datastream == shop.web
    assert sorted(a.audience.name for a in destination.activations.all()) == ["Germans", "Gold members"]
    assert list(destination.mappings.values_list("source__path", "target")) == [("loyalty.status", "tier")]
    assert list(destination.alert_subscriptions.values_list("alert_type", flat=True)) == ["activation_skipped_rate"]
    assert {a.start_date for a in destination.activations.all()} == {timezone.localdate()}
