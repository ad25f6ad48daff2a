"""
An admin labels a profile field and enables a core policy through the pages; a marketer who then maps that field to
a destination exporting to a third party is stopped at Review with the reason, and finishes once the mapping is gone.
"""

import pytest

try:
    from playwright.sync_api import expect
except ImportError:  # the `browser` fixture then skips these tests, or fails them under REQUIRE_SERVICES
    expect = None

from accounts.constants import (
    ACTIVATE_DESTINATIONS,
    APPLY_LABELS,
    MANAGE_DESTINATIONS,
    MANAGE_POLICIES,
    VIEW_DESTINATIONS,
    VIEW_POLICIES,
    VIEW_PROFILES,
    VIEW_SEGMENTS,
)
from personalization.destinations.models import Destination
from personalization.governance.models import MarketingAction, Policy
from tests.factories import (
    AudienceFactory,
    DatastreamFactory,
    DestinationFactory,
    ProfileFieldFactory,
    SandboxFactory,
    UserFactory,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

EXPORT_POLICY = "Restrict data export to third parties"


@pytest.fixture
def partner_feed(grant):
    """A sandbox (with its core catalogue) whose With Attributes destination exports to a third party."""
    sandbox = SandboxFactory(name="prod", title="Production")
    destination = DestinationFactory(
        datastream=DatastreamFactory(sandbox=sandbox, name="Web"),
        name="Partner feed",
        alias="partnerFeed",
        kind=Destination.Kind.WITH_ATTRIBUTES,
    )
    destination.marketing_actions.add(MarketingAction.objects.get(sandbox=sandbox, key="export-to-third-party"))
    email = ProfileFieldFactory(sandbox=sandbox, path="personalEmail.address")
    ProfileFieldFactory(sandbox=sandbox, path="loyalty.status")
    AudienceFactory(sandbox=sandbox, name="Gold members", profile_count=1200)
    admin = UserFactory(username="steward")
    grant(admin, sandbox, VIEW_POLICIES, MANAGE_POLICIES, APPLY_LABELS, VIEW_PROFILES)
    marketer = UserFactory(username="marketer")
    grant(
        marketer, sandbox, VIEW_DESTINATIONS, MANAGE_DESTINATIONS, ACTIVATE_DESTINATIONS, VIEW_SEGMENTS, VIEW_PROFILES
    )
    return {"sandbox": sandbox, "destination": destination, "email": email, "admin": admin, "marketer": marketer}


def _next(page):
    page.get_by_role("button", name="Next", exact=True).click()


def _step_heading(page, title):
    expect(page.locator("#step-heading")).to_contain_text(title)


def test_an_admin_labels_and_enables_then_review_blocks_a_c2_mapping_until_it_is_removed(
    page, login, screenshot, partner_feed, assert_inputs_labelled
):
    destination, email = partner_feed["destination"], partner_feed["email"]

    # The admin puts C2 on the email field from the field's page.
    login(page, partner_feed["admin"])
    page.goto(email.get_absolute_url())
    expect(page.get_by_text("No labels: no data usage policy restricts this field.")).to_be_visible()
    page.get_by_role("button", name="Edit labels").click()  # a link styled as a button
    page.get_by_label("C2").check()
    assert_inputs_labelled(page)
    screenshot(page, "governance-01-label-a-field")
    page.get_by_role("button", name="Save labels").click()
    expect(page.locator("#labels-heading + ul")).to_contain_text("No third-party export")

    # ...and enables the core export policy, which blocks nothing yet.
    page.get_by_role("link", name="Data governance").click()
    page.get_by_role("link", name=EXPORT_POLICY).click()
    expect(page.get_by_role("heading", name="What it would block if enabled")).to_be_visible()
    screenshot(page, "governance-02-core-policy-draft")
    page.get_by_role("button", name="Enable").click()
    expect(page.get_by_text("%s is enabled: activations that break it are refused." % EXPORT_POLICY)).to_be_visible()
    expect(page.get_by_role("heading", name="What it blocks now")).to_be_visible()
    assert Policy.objects.get(sandbox=partner_feed["sandbox"], name=EXPORT_POLICY).is_enabled

    # The marketer activates an audience and maps the email, whose option shows its label.
    page.context.clear_cookies()
    login(page, partner_feed["marketer"])
    page.goto("/destinations/%s/activate/" % destination.pk)
    _step_heading(page, "Select audiences")
    page.get_by_label("Gold members").check()
    _next(page)
    _step_heading(page, "Mapping")
    page.get_by_label("Source field, row 1").select_option(label="personalEmail.address (string) · labels C2")
    page.get_by_label("Target field, row 1").fill("email")
    _next(page)
    _step_heading(page, "Audience schedule")
    _next(page)

    # Review names the policy, the label, the field, the path and the fix, and Finish stays disabled.
    _step_heading(page, "Review")
    violation = page.locator(".policy-violation")
    expect(violation).to_have_count(1)
    expect(violation).to_contain_text(EXPORT_POLICY)
    expect(violation).to_contain_text("denies Export to Third Party on data labelled C2")
    expect(violation.locator(".lineage")).to_contain_text("personalEmail.address (C2)")
    expect(violation.locator(".lineage")).to_contain_text("the mapped attributes")
    expect(violation.locator(".lineage")).to_contain_text("Partner feed")
    expect(violation.locator(".suggested-fix")).to_contain_text("remove the mapping of personalEmail.address")
    expect(page.get_by_role("button", name="Finish")).to_be_disabled()
    screenshot(page, "governance-03-review-blocked")

    # Clearing the row removes the mapping; Review then passes and Finish activates.
    page.get_by_role("button", name="Change mappings").click()
    _step_heading(page, "Mapping")
    page.get_by_label("Source field, row 1").select_option(value="")
    page.get_by_label("Target field, row 1").fill("")
    _next(page)
    _step_heading(page, "Audience schedule")
    _next(page)
    _step_heading(page, "Review")
    expect(page.locator(".policy-violation")).to_have_count(0)
    expect(page.get_by_text("1 enabled policy checked: no violation.")).to_be_visible()
    screenshot(page, "governance-04-review-unblocked")
    page.get_by_role("button", name="Finish").click()
    expect(page.get_by_text("Partner feed now activates 1 audience.")).to_be_visible()
    assert list(destination.activations.values_list("audience__name", flat=True)) == ["Gold members"]
    assert not destination.mappings.exists()
