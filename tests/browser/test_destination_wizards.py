"""
A marketer connects and activates destinations in Chromium; viewers and narrower roles see only what they may do.

Every wizard step is photographed into tests/browser/screenshots/ (desktop, and a few at phone width).
"""

import datetime
import json
import re

import pytest

try:
    from playwright.sync_api import expect
except ImportError:  # the `browser` fixture then skips these tests, or fails them under REQUIRE_SERVICES
    expect = None

from django.utils import timezone

from accounts.constants import (
    ACTIVATE_DESTINATIONS,
    ACTIVATE_SEGMENTS_WITHOUT_MAPPING,
    MANAGE_DATASTREAMS,
    MANAGE_DESTINATIONS,
    VIEW_ALERTS,
    VIEW_DATASTREAMS,
    VIEW_DESTINATIONS,
    VIEW_PROFILES,
    VIEW_SEGMENTS,
)
from accounts.services import api_credential_create
from personalization.audiences.models import Audience
from personalization.destinations.models import MAX_ATTRIBUTE_MAPPINGS, AttributeMapping, Destination
from tests.browser.conftest import PHONE
from tests.factories import (
    ActivationFactory,
    AudienceFactory,
    DatastreamFactory,
    DestinationFactory,
    IdentityFactory,
    IdentityNamespaceFactory,
    MappingFactory,
    MarketingActionFactory,
    MembershipFactory,
    ProfileFactory,
    ProfileFieldFactory,
    SandboxFactory,
    UserFactory,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WITH_ATTRIBUTES = Destination.Kind.WITH_ATTRIBUTES
VIEWER = (VIEW_DESTINATIONS, VIEW_PROFILES, VIEW_SEGMENTS, VIEW_DATASTREAMS, VIEW_ALERTS)
MARKETER = (*VIEWER, MANAGE_DESTINATIONS, ACTIVATE_DESTINATIONS)
ECID = "1" * 38


class Shop:
    """A production sandbox with datastreams (two eligible), audiences, profile fields and one known visitor."""

    def __init__(self, grant):
        from accounts.services import role_create

        self.sandbox = SandboxFactory(name="prod", title="Production")
        elsewhere = SandboxFactory(name="dev", title="Development")
        self.web = DatastreamFactory(sandbox=self.sandbox, name="Web")
        self.app = DatastreamFactory(sandbox=self.sandbox, name="Mobile app")
        DatastreamFactory(sandbox=self.sandbox, name="Legacy site", personalization_destinations=False)
        DatastreamFactory(sandbox=self.sandbox, name="Batch only", platform_enabled=False)
        DatastreamFactory(sandbox=elsewhere, name="Dev web")
        MarketingActionFactory(sandbox=self.sandbox, key="onsite-personalization", name="Onsite Personalization")
        MarketingActionFactory(sandbox=self.sandbox, key="export-to-third-party", name="Export to Third Party")
        self.tier = ProfileFieldFactory(sandbox=self.sandbox, path="loyalty.status")
        self.country = ProfileFieldFactory(sandbox=self.sandbox, path="homeAddress.countryCode")
        ProfileFieldFactory(sandbox=self.sandbox, path="loyalty.points", field_type="number")
        ProfileFieldFactory(sandbox=self.sandbox, path="interests", field_type="array")
        self.gold = AudienceFactory(
            sandbox=self.sandbox, name="Gold members", description="Loyalty tier gold", profile_count=1200
        )
        self.germans = AudienceFactory(sandbox=self.sandbox, name="Germans", profile_count=5400)
        self.newsletter = AudienceFactory(
            sandbox=self.sandbox,
            name="Newsletter upload",
            origin=Audience.Origin.CUSTOM_UPLOAD,
            expires_at=timezone.now() + datetime.timedelta(days=20),
            profile_count=300,
        )
        AudienceFactory(sandbox=self.sandbox, name="Draft idea", status=Audience.Status.DRAFT)
        self.visitor = ProfileFactory(
            sandbox=self.sandbox, attributes={"loyalty": {"status": "gold"}, "homeAddress": {"countryCode": "DE"}}
        )
        IdentityFactory(
            profile=self.visitor, namespace=IdentityNamespaceFactory(sandbox=self.sandbox, code="ECID"), value=ECID
        )
        for audience in (self.gold, self.germans, self.newsletter):
            MembershipFactory(audience=audience, profile=self.visitor)
        self.marketer = UserFactory(username="marketer")
        role_create(name="Marketer", permissions=list(MARKETER), users=[self.marketer], sandboxes=[self.sandbox])
        self.admin = UserFactory(username="admin")
        grant(self.admin, self.sandbox, MANAGE_DATASTREAMS, VIEW_DATASTREAMS)

    def lookup(self, page, datastream):
        """Call the lookup as an authenticated server would and return the payload entries by alias."""
        credential, secret = api_credential_create(user=self.admin, sandbox=self.sandbox, name="web server")
        token = page.request.post(
            "/oauth/token",
            form={"grant_type": "client_credentials", "client_id": credential.client_id, "client_secret": secret},
        ).json()["access_token"]
        response = page.request.post(
            "/ee/v2/interact?datastreamId=%s" % datastream.pk,
            data=json.dumps({"event": {"xdm": {"identityMap": {"ECID": [{"id": ECID, "primary": True}]}}}}),
            headers={
                "Content-Type": "application/json",
                "Authorization": "Bearer %s" % token,
                "x-api-key": credential.client_id,
            },
        )
        assert response.status == 200, response.text()
        (handle,) = [h for h in response.json()["handle"] if h["type"] == "activation:pull"]
        return {entry["alias"]: entry for entry in handle["payload"]}


@pytest.fixture
def shop(grant):
    return Shop(grant)


def _control(scope, name, exact=False):
    """A link or a link styled as a button (role=button), by its accessible name."""
    name = name if exact else re.compile("^" + re.escape(name))
    return scope.get_by_role("link", name=name, exact=exact or None).or_(
        scope.get_by_role("button", name=name, exact=exact or None)
    )


def _next(page):
    page.get_by_role("button", name="Next", exact=True).click()


def _step_heading(page, title):
    expect(page.get_by_role("heading", level=2)).to_contain_text(title)


def test_a_marketer_connects_a_destination_activates_two_audiences_and_the_lookup_returns_exactly_that(
    page, login, screenshot, assert_inputs_labelled, shop
):
    login(page, shop.marketer)

    # Catalog: no connection yet, so each card offers Set up.
    page.goto("/destinations/catalog/")
    card = page.get_by_role("article").filter(has_text="Custom Personalization With Attributes")
    expect(_control(page, "Set up")).to_have_count(2)
    screenshot(page, "01-catalog")
    _control(card, "Set up").click()

    # Connection parameters: only this sandbox's datastreams with the platform and Personalization on.
    _step_heading(page, "Connection parameters")
    options = page.get_by_label("Datastream").locator("option").all_inner_texts()
    assert options == ["Choose a datastream", "Mobile app", "Web"]
    page.get_by_text("About datastream IDs").click()
    expect(page.get_by_text("The drop-down menu shows only datastreams")).to_be_visible()
    assert_inputs_labelled(page)
    screenshot(page, "02-connect-connection-parameters")
    _next(page)
    expect(page.locator(".has-errors")).to_have_count(3)
    expect(page.locator(".form-field", has=page.get_by_label("Name")).locator(".errorlist")).to_have_text(
        "This field is required."
    )
    screenshot(page, "02b-connect-connection-parameters-errors")
    # Keyboard only: type, Tab to the next field, Enter submits the step.
    page.get_by_label("Name").focus()
    page.keyboard.type("Homepage hero")
    page.keyboard.press("Tab")
    page.keyboard.type("Spring campaign banner")
    page.keyboard.press("Tab")
    page.keyboard.type("heroBanner")
    page.keyboard.press("Tab")
    page.keyboard.press("ArrowDown")
    page.get_by_label("Datastream").select_option(label="Web")
    page.get_by_label("Integration alias").press("Enter")

    # Alerts, stored as the marketer's own subscriptions.
    _step_heading(page, "Alerts")
    page.get_by_label("Activation Skipped Rate Exceeded").check()
    assert_inputs_labelled(page)
    screenshot(page, "03-connect-alerts")
    _next(page)

    # Marketing actions from the governance catalogue, then Save & Exit.
    _step_heading(page, "Marketing actions")
    page.get_by_label("Onsite Personalization").check()
    screenshot(page, "04-connect-marketing-actions")
    page.get_by_role("button", name="Save & Exit").click()
    expect(page.get_by_text("Homepage hero is connected.")).to_be_visible()
    expect(page.get_by_text("No audience is activated to this destination yet.")).to_be_visible()

    # Back in the catalog the card now offers Activate audiences, which starts by choosing the connection.
    page.goto("/destinations/catalog/")
    _control(card, "Activate audiences").click()
    _step_heading(page, "Select destination")
    screenshot(page, "05-activate-select-destination")
    expect(page.get_by_label("Homepage hero")).to_be_checked()  # the only connection is preselected
    _next(page)

    # Select audiences: published and unexpired only; the search narrows the table as you type.
    _step_heading(page, "Select audiences")
    table = page.locator("#audience-table")
    expect(table.get_by_label("Draft idea")).to_have_count(0)
    page.get_by_label("Search").fill("gold")
    expect(table.locator("tbody tr[data-search]:visible")).to_have_count(1)
    table.get_by_label("Gold members").check()
    page.get_by_label("Search").fill("")
    page.get_by_label("Origin").select_option(label="Segmentation Service")
    expect(table.get_by_label("Newsletter upload")).to_be_hidden()
    table.get_by_label("Germans").check()
    assert_inputs_labelled(page)
    screenshot(page, "06-activate-select-audiences")
    _next(page)

    # Mapping: scalar profile fields to friendly names.
    _step_heading(page, "Mapping")
    sources = page.get_by_label("Source field, row 1").locator("option").all_inner_texts()
    assert "interests (array)" not in sources and "loyalty.status (string)" in sources
    page.get_by_label("Source field, row 1").select_option(label="loyalty.status (string)")
    expect(page.get_by_label("Target field, row 1")).to_have_value("status")  # suggested from the path
    page.get_by_label("Target field, row 1").fill("tier")
    page.get_by_label("Source field, row 2").select_option(label="homeAddress.countryCode (string)")
    assert_inputs_labelled(page)
    screenshot(page, "07-activate-mapping")
    _next(page)

    # Audience schedule: a start and an end date per new audience.
    _step_heading(page, "Audience schedule")
    end = timezone.localdate() + datetime.timedelta(days=30)
    page.get_by_label("End date of Gold members").fill(end.isoformat())
    assert_inputs_labelled(page)
    screenshot(page, "08-activate-audience-schedule")
    _next(page)

    # Review: the summary and the policy check; Finish writes it all.
    _step_heading(page, "Review")
    expect(page.get_by_text("Data usage policies: none enabled in this sandbox.")).to_be_visible()
    screenshot(page, "09-activate-review")
    page.get_by_role("button", name="Finish").click()
    expect(page.get_by_text("Homepage hero now activates 2 audiences.")).to_be_visible()
    screenshot(page, "10-destination-detail-after-activation")

    destination = Destination.objects.get(alias="heroBanner")
    assert destination.kind == WITH_ATTRIBUTES and destination.datastream == shop.web
    assert {(a.audience.name, a.start_date, a.end_date) for a in destination.activations.all()} == {
        ("Gold members", timezone.localdate(), end),
        ("Germans", timezone.localdate(), None),
    }
    assert sorted(destination.mappings.values_list("source__path", "target")) == [
        ("homeAddress.countryCode", "countryCode"),
        ("loyalty.status", "tier"),
    ]
    assert list(destination.alert_subscriptions.values_list("user__username", "alert_type")) == [
        ("marketer", "activation_skipped_rate")
    ]

    # The authenticated lookup returns exactly those two audiences (not the third one the visitor is in)
    # and the two mapped attributes under their friendly names.
    entry = shop.lookup(page, shop.web)["heroBanner"]
    assert {segment["id"] for segment in entry["segments"]} == {str(shop.gold.pk), str(shop.germans.pk)}
    assert entry["attributes"] == {"tier": {"value": "gold"}, "countryCode": {"value": "DE"}}


def test_a_user_who_activates_without_mapping_never_sees_the_mapping_step(page, login, screenshot, shop, grant):
    destination = DestinationFactory(datastream=shop.web, name="Ad server", alias="adServer", kind=WITH_ATTRIBUTES)
    MappingFactory(destination=destination, source=shop.tier, target="tier")
    planner = UserFactory(username="planner")
    grant(planner, shop.sandbox, VIEW_DESTINATIONS, VIEW_PROFILES, VIEW_SEGMENTS, ACTIVATE_SEGMENTS_WITHOUT_MAPPING)
    login(page, planner)

    page.goto(destination.get_absolute_url())
    _control(page, "Activate audiences", exact=True).click()
    steps = page.get_by_role("list", name="Steps").locator("li").all_inner_texts()
    assert [re.sub(r"^\d+\s*", "", step).strip() for step in steps] == [
        "Select audiences",
        "Audience schedule",
        "Review",
    ]
    page.locator("#audience-table").get_by_label("Germans").check()
    _next(page)
    _step_heading(page, "Audience schedule")
    screenshot(page, "11-activate-without-mapping-schedule")
    _next(page)
    expect(page.get_by_text("Your role activates audiences without mapping")).to_be_visible()
    page.get_by_role("button", name="Finish").click()
    expect(page.get_by_text("Ad server now activates 1 audience.")).to_be_visible()
    assert list(destination.mappings.values_list("target", flat=True)) == ["tier"]


def test_a_viewer_sees_no_action_buttons_and_is_refused_when_posting_directly(page, login, shop, grant, screenshot):
    destination = DestinationFactory(datastream=shop.web, name="Homepage", alias="homepage")
    ActivationFactory(destination=destination, audience=shop.gold)
    viewer = UserFactory(username="viewer")
    grant(viewer, shop.sandbox, *VIEWER)
    login(page, viewer)

    page.goto("/destinations/catalog/")
    for name in ("Set up", "Activate audiences", "Configure new destination"):
        expect(_control(page, name)).to_have_count(0)
    # and each card says which permission the missing buttons need
    hint = page.locator("[data-permission-hint]").filter(has_text="“Activate audiences to a destination” needs")
    expect(hint.first).to_contain_text("Activate Destinations")
    screenshot(page, "catalog-viewer-hints")
    page.goto("/destinations/")
    expect(page.get_by_role("link", name="Homepage", exact=True)).to_be_visible()
    expect(page.get_by_role("switch")).to_have_count(0)
    for name in ("Connect a destination", "Activate audiences", "Edit", "Delete"):
        expect(_control(page, name)).to_have_count(0)
    # Alert subscriptions are the viewer's own notification settings, not a change to the destination.
    expect(_control(page, "Subscribe to alerts")).to_have_count(1)
    page.goto(destination.get_absolute_url())
    for name in ("Activate audiences", "Edit activation", "Edit", "Delete"):
        expect(_control(page, name, exact=True)).to_have_count(0)

    csrf = next(cookie["value"] for cookie in page.context.cookies() if cookie["name"] == "csrftoken")
    for url in (
        "/destinations/%s/enabled/" % destination.pk,
        "/destinations/%s/delete/" % destination.pk,
        "/destinations/%s/activate/" % destination.pk,
        "/destinations/catalog/%s/connect/" % WITH_ATTRIBUTES,
    ):
        response = page.request.post(url, form={"enabled": "0"}, headers={"X-CSRFToken": csrf})
        assert response.status == 403, url
        assert "permission" in response.text().lower(), url
    destination.refresh_from_db()
    assert destination.enabled and destination.activations.count() == 1
    assert Destination.objects.count() == 1


def test_the_31st_mapping_is_refused_with_a_message_next_to_it(page, login, screenshot, shop):
    destination = DestinationFactory(datastream=shop.web, name="Full house", alias="fullHouse", kind=WITH_ATTRIBUTES)
    ActivationFactory(destination=destination, audience=shop.gold)
    for number in range(1, MAX_ATTRIBUTE_MAPPINGS + 1):
        MappingFactory(destination=destination, source=shop.tier, target="tier%02d" % number)
    login(page, shop.marketer)

    page.goto("/destinations/%s/activate/" % destination.pk)
    _next(page)
    _step_heading(page, "Mapping")
    page.get_by_role("button", name="Add new field").click()  # a row appended in the page, numbered 34
    expect(page.get_by_label("Source field, row 34")).to_be_focused()
    page.get_by_label("Source field, row 31").select_option(label="homeAddress.countryCode (string)")
    page.get_by_label("Target field, row 31").fill("countryCode")
    _next(page)

    _step_heading(page, "Mapping")
    row = page.locator("tr", has=page.get_by_label("Target field, row 31"))
    expect(row.locator(".errorlist")).to_have_text(
        "This would be mapping 31; a destination maps at most 30 attributes."
    )
    expect(page.get_by_role("alert")).to_contain_text("31 attributes are mapped, the maximum is 30")
    screenshot(page, "12-activate-mapping-31st-refused")
    assert AttributeMapping.objects.filter(destination=destination).count() == MAX_ATTRIBUTE_MAPPINGS


def test_a_manager_disables_subscribes_edits_and_deletes_from_the_browse_table(page, login, screenshot, shop):
    destination = DestinationFactory(datastream=shop.web, name="Homepage hero", alias="heroBanner")
    ActivationFactory(destination=destination, audience=shop.gold)
    login(page, shop.marketer)
    page.goto("/destinations/")
    screenshot(page, "13-browse")

    switch = page.get_by_role("switch", name="Homepage hero enabled")
    expect(switch).to_have_attribute("aria-checked", "true")
    switch.click()
    expect(page.get_by_text("Homepage hero is disabled")).to_be_visible()
    expect(page.get_by_role("switch", name="Homepage hero enabled")).to_have_attribute("aria-checked", "false")

    page.get_by_role("link", name="Subscribe to alerts · Homepage hero").click()
    page.get_by_label("Destination Flow Run Failure").check()
    screenshot(page, "14-subscribe-to-alerts")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Your alerts for Homepage hero are saved.")).to_be_visible()
    assert page.url.endswith("/destinations/")

    page.get_by_role("link", name="Edit · Homepage hero").click()
    page.get_by_label("Onsite Personalization").check()
    page.get_by_label("Description").fill("Banner on the home page")
    screenshot(page, "16-edit-connection")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Homepage hero was saved.")).to_be_visible()
    expect(page.locator("main")).to_contain_text("Onsite Personalization")
    page.goto("/destinations/")

    page.get_by_role("link", name="Delete · Homepage hero").click()
    expect(page.get_by_text("activated audience stops being returned")).to_be_visible()
    expect(page.locator("main")).to_contain_text("heroBanner")
    screenshot(page, "15-delete-confirmation")
    page.get_by_role("button", name="Delete destination").click()
    expect(page.get_by_text("Homepage hero was deleted.")).to_be_visible()
    assert not Destination.objects.exists()


def test_the_workspace_and_the_wizard_steps_fit_a_phone(page, login, screenshot, assert_no_horizontal_scroll, shop):
    destination = DestinationFactory(
        datastream=shop.web, name="Homepage hero", alias="heroBanner", kind=WITH_ATTRIBUTES
    )
    ActivationFactory(destination=destination, audience=shop.gold)
    MappingFactory(destination=destination, source=shop.tier, target="tier")
    login(page, shop.marketer)
    page.set_viewport_size(PHONE)

    for url, name in (
        ("/destinations/catalog/", "20-phone-catalog"),
        ("/destinations/", "21-phone-browse"),
        (destination.get_absolute_url(), "22-phone-destination"),
        ("/destinations/catalog/%s/connect/" % WITH_ATTRIBUTES, "23-phone-connect-connection-parameters"),
    ):
        page.goto(url)
        assert_no_horizontal_scroll(page)
        screenshot(page, name)

    page.goto("/destinations/%s/activate/" % destination.pk)
    for title, name in (
        ("Select audiences", "24-phone-activate-audiences"),
        ("Mapping", "25-phone-activate-mapping"),
        ("Audience schedule", "26-phone-activate-schedule"),
        ("Review", "27-phone-activate-review"),
    ):
        _step_heading(page, title)
        page.wait_for_load_state("load")
        assert_no_horizontal_scroll(page)
        screenshot(page, name)
        if title != "Review":
            _next(page)
