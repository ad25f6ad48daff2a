"""A marketer builds an audience rule in Chromium: conditions, a nested Any group, the live estimate, save, publish."""

import pytest

try:
    from playwright.sync_api import expect
except ImportError:  # the `browser` fixture then skips these tests, or fails them under REQUIRE_SERVICES
    expect = None

from accounts.constants import MANAGE_SEGMENTS, VIEW_SEGMENTS
from personalization.audiences.models import Audience, AudienceMembership
from tests.browser.conftest import PHONE
from tests.factories import AudienceFactory, ProfileFactory, ProfileFieldFactory, SandboxFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

RULE = {
    "all": [
        {"field": "loyalty.status", "op": "equals", "value": "gold"},
        {
            "any": [
                {"field": "homeAddress.countryCode", "op": "in", "value": ["DE", "AT"]},
                {"field": "loyalty.points", "op": "gte", "value": 1000},
            ]
        },
    ]
}

# The same rule with a date range in the Any group, which no profile has: the counts stay the same.
RULE_WITH_DATES = {
    "all": [
        RULE["all"][0],
        {
            "any": [
                *RULE["all"][1]["any"],
                {"field": "loyalty.since", "op": "between", "value": ["2024-01-01", "2024-12-31"]},
            ]
        },
    ]
}


def at_phone_width(page):
    """Switch to a phone's width and let the page lay itself out again before anything is measured."""
    page.set_viewport_size(PHONE)
    page.evaluate("() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))")


@pytest.fixture
def shop():
    """A sandbox with a small schema, six profiles and one audience."""
    sandbox = SandboxFactory(name="prod", title="Production")
    ProfileFieldFactory(sandbox=sandbox, path="homeAddress.countryCode")
    ProfileFieldFactory(sandbox=sandbox, path="loyalty.points", field_type="number")
    ProfileFieldFactory(sandbox=sandbox, path="loyalty.since", field_type="date")
    ProfileFieldFactory(sandbox=sandbox, path="loyalty.status")
    ProfileFieldFactory(sandbox=sandbox, path="newsletter", field_type="boolean")
    people = [("gold", "DE", 0), ("gold", "AT", 20), ("gold", "FR", 1500), ("gold", "FR", 10), ("silver", "DE", 0)]
    for status, country, points in people:
        attributes = {"loyalty": {"status": status, "points": points}, "homeAddress": {"countryCode": country}}
        ProfileFactory(sandbox=sandbox, attributes=attributes)
    ProfileFactory(sandbox=sandbox, attributes={})
    AudienceFactory(
        sandbox=sandbox, name="Newsletter readers", rule={"field": "newsletter", "op": "equals", "value": True}
    )
    return sandbox


@pytest.fixture
def marketer(shop, grant):
    user = UserFactory(username="marketer")
    grant(user, shop, VIEW_SEGMENTS, MANAGE_SEGMENTS)
    return user


def test_a_marketer_builds_a_rule_with_a_nested_any_group_watches_the_estimate_and_publishes_it(
    page, login, marketer, screenshot, assert_inputs_labelled, assert_no_horizontal_scroll
):
    login(page, marketer)
    page.goto("/audiences/")
    page.get_by_role("button", name="Create audience").click()
    page.get_by_role("textbox", name="Name").fill("Gold in DACH")
    page.get_by_label("Description").fill("Gold members at home in Germany or Austria, or with 1000 points")
    estimate = page.locator("#rule-estimate")
    expect(estimate).to_contain_text("everyone")  # an empty "All of" holds for every profile

    # when: a field condition at the top
    root = page.locator(".rule-root")
    root.locator("> .rule-group-actions").get_by_role("button", name="Add condition").click()
    status = root.locator("> .rule-children > .rule-condition").first
    expect(status.get_by_label("Field")).to_have_value("")
    status.get_by_label("Field").select_option(label="loyalty.status · text")
    expect(status.get_by_label("Operator")).to_have_value("equals")
    expect(status.get_by_text("Not counted yet")).to_be_visible()
    expect(estimate).to_contain_text("everyone")
    status.get_by_label("Value").fill("gold")
    expect(status.get_by_text("Not counted yet")).to_be_hidden()
    expect(estimate.locator("[data-estimate-count]")).to_have_text("4")

    # and: a nested Any group of two conditions
    root.locator("> .rule-group-actions").get_by_role("button", name="Add group").click()
    group = root.locator("> .rule-children > .rule-group")
    expect(group.get_by_label("Group type")).to_have_value("any")
    country = group.locator(".rule-condition").first
    country.get_by_label("Field").select_option(label="homeAddress.countryCode · text")
    country.get_by_label("Operator").select_option(label="is one of")
    country.get_by_label("Values, one per line").fill("DE\nAT")
    group.get_by_role("button", name="Add condition").click()
    points = group.locator(".rule-condition").nth(1)
    points.get_by_label("Field").select_option(label="loyalty.points · number")
    points.get_by_label("Operator").select_option(label="is at least")
    expect(points.get_by_label("Value")).to_have_attribute("type", "number")
    points.get_by_label("Value").fill("1000")

    # then: the estimate follows the rule (gold in DE, gold in AT, gold with 1500 points)
    expect(estimate.locator("[data-estimate-count]")).to_have_text("3")
    expect(estimate).to_contain_text("of 6 profiles in the sandbox qualify now")
    expect(estimate).to_contain_text(
        'loyalty.status equals "gold" and (homeAddress.countryCode in ["DE", "AT"] or loyalty.points >= 1000)'
    )
    expect(estimate).to_contain_text("Edge-eligible")
    assert_inputs_labelled(page)
    assert_no_horizontal_scroll(page)
    screenshot(page, "rule-builder-desktop")
    at_phone_width(page)
    screenshot(page, "rule-builder-phone")
    assert_no_horizontal_scroll(page)
    page.set_viewport_size({"width": 1280, "height": 900})

    # when: saved as a draft, then published from the audience's page
    page.get_by_role("button", name="Save as draft").click()
    expect(page.get_by_text("Gold in DACH was saved as a draft.")).to_be_visible()
    audience = Audience.objects.get(name="Gold in DACH")
    assert (audience.status, audience.rule) == ("draft", RULE)
    page.get_by_role("button", name="Publish").click()

    # then: published, with the readable rule, and the evaluation has found the three members
    expect(page.get_by_text("Gold in DACH is published.")).to_be_visible()
    expect(page.locator("dl.details .badge.status-published")).to_have_text("Published")
    expect(page.locator("[data-rule-text]")).to_have_text(
        'loyalty.status equals "gold" and (homeAddress.countryCode in ["DE", "AT"] or loyalty.points >= 1000)'
    )
    screenshot(page, "rule-builder-published")
    assert AudienceMembership.objects.filter(audience=audience).count() == 3


def test_the_builder_draws_an_existing_rule_negates_a_group_and_pins_the_servers_messages_on_the_conditions(
    page, login, shop, marketer, screenshot, assert_no_horizontal_scroll
):
    audience = AudienceFactory(sandbox=shop, name="Gold in DACH", status=Audience.Status.DRAFT, rule=RULE_WITH_DATES)
    login(page, marketer)
    page.goto("/audiences/%s/edit/" % audience.pk)

    # the saved rule comes back into the builder
    root = page.locator(".rule-root")
    expect(root.locator(".rule-condition")).to_have_count(4)
    group = root.locator("> .rule-children > .rule-group")
    expect(group.locator(".rule-condition").first.get_by_label("Values, one per line")).to_have_value("DE\nAT")
    expect(group.locator(".rule-condition").nth(2).get_by_label("From", exact=True)).to_have_value("2024-01-01")
    expect(group.locator(".rule-condition").nth(2).get_by_label("To", exact=True)).to_have_value("2024-12-31")
    estimate = page.locator("#rule-estimate")
    expect(estimate.locator("[data-estimate-count]")).to_have_text("3")

    # turning the Any group into Not excludes those profiles instead (only the gold member in FR with 10 points)
    group.get_by_label("Group type").select_option(label="Not (none of)")
    expect(estimate.locator("[data-estimate-count]")).to_have_text("1")
    expect(estimate).to_contain_text(
        'loyalty.status equals "gold" and not (homeAddress.countryCode in ["DE", "AT"] or loyalty.points >= 1000 '
        'or loyalty.since between "2024-01-01" and "2024-12-31")'
    )

    # a condition the server refuses is named on the condition after saving, and nothing is saved
    group.locator(".rule-condition").nth(1).get_by_label("Value").fill("")
    page.get_by_label("Edge").check()
    page.get_by_role("button", name="Save as draft").click()
    expect(page.get_by_text("The rule has problems; nothing was saved.")).to_be_visible()
    pinned = group.locator(".rule-condition.has-error .rule-node-error")
    expect(pinned).to_have_text("all[1].not.any[1].value: gte needs a value.")
    screenshot(page, "rule-builder-errors")
    at_phone_width(page)
    screenshot(page, "rule-builder-errors-phone")
    assert_no_horizontal_scroll(page)
    audience.refresh_from_db()
    assert audience.rule == RULE_WITH_DATES


def test_a_new_condition_counts_for_nothing_until_complete_and_a_comma_list_is_split_on_request(
    page, login, marketer, screenshot
):
    login(page, marketer)
    page.goto("/audiences/add/")
    estimate = page.locator("#rule-estimate")
    root = page.locator(".rule-root")
    expect(estimate).to_contain_text("everyone")

    # a new condition and a new group start empty: the estimate still counts everyone
    root.locator("> .rule-group-actions").get_by_role("button", name="Add condition").click()
    root.locator("> .rule-group-actions").get_by_role("button", name="Add group").click()
    expect(root.locator(".rule-condition.is-incomplete")).to_have_count(2)
    expect(estimate).to_contain_text("everyone")
    expect(estimate.locator("[data-estimate-count]")).to_have_text("6")

    # typing "DE, AT" into "is one of" is one value, and the builder says so and offers to split it
    country = root.locator("> .rule-children > .rule-condition")
    country.get_by_label("Field").select_option(label="homeAddress.countryCode · text")
    country.get_by_label("Operator").select_option(label="is one of")
    country.get_by_label("Values, one per line").fill("DE, AT")
    expect(country.locator(".rule-list-values")).to_contain_text("1 value:")
    expect(country.get_by_text("A line holds a comma, so it is one value (“DE, AT”).", exact=False)).to_be_visible()
    expect(estimate.locator("[data-estimate-count]")).to_have_text("0")
    screenshot(page, "rule-builder-comma-warning")
    country.get_by_role("button", name="Split at commas").click()
    expect(country.get_by_label("Values, one per line")).to_have_value("DE\nAT")
    expect(country.locator(".rule-chip")).to_have_text(["DE", "AT"])
    expect(country.get_by_text("A line holds a comma", exact=False)).to_have_count(0)

    # then: the estimate counts the complete condition only (two in DE, one in AT); the empty group counts for nothing
    expect(estimate.locator("[data-estimate-count]")).to_have_text("3")
    expect(estimate).to_contain_text('homeAddress.countryCode in ["DE", "AT"]')


def test_the_field_picker_is_wide_enough_for_the_longest_field_name(page, login, shop, marketer):
    ProfileFieldFactory(sandbox=shop, path="loyalty.program.tier.currentSeasonQualifyingStatus")
    login(page, marketer)
    page.goto("/audiences/add/")
    page.locator(".rule-root > .rule-group-actions").get_by_role("button", name="Add condition").click()
    picker = page.locator(".rule-condition").get_by_label("Field")
    picker.select_option(label="loyalty.program.tier.currentSeasonQualifyingStatus · text")

    fits = picker.evaluate(
        """(select) => {
          const context = document.createElement("canvas").getContext("2d");
          context.font = getComputedStyle(select).font;
          const text = context.measureText(select.selectedOptions[0].label).width;
          const style = getComputedStyle(select);
          const room = select.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
          return text <= room;
        }"""
    )

    assert fits
