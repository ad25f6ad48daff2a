"""
An admin builds a role and a user in Chromium; the new user activates in Production and finds nothing of
Development. Ten failed sign-ins lock an account; the admin unlocks it from the Users page.
"""

import pytest

try:
    from playwright.sync_api import expect
except ImportError:  # the `browser` fixture then skips these tests, or fails them under REQUIRE_SERVICES
    expect = None

from accounts.constants import SANDBOX_PERMISSION_CODENAMES
from accounts.models import AuditEntry, Sandbox
from personalization.destinations.models import Destination
from tests.factories import (
    AudienceFactory,
    DatastreamFactory,
    DestinationFactory,
    ProfileFactory,
    ProfileFieldFactory,
    SandboxFactory,
    UserFactory,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct-horse-battery"


@pytest.fixture
def org(grant):
    production = SandboxFactory(name="prod", title="Production", kind=Sandbox.Kind.PRODUCTION)
    development = SandboxFactory(name="dev", title="Development")
    admin = UserFactory(username="admin")
    grant(admin, [production, development], *sorted(SANDBOX_PERMISSION_CODENAMES))
    web = DatastreamFactory(sandbox=production, name="Web")
    homepage = DestinationFactory(
        datastream=web, name="Homepage", alias="homepage", kind=Destination.Kind.CUSTOM_PERSONALIZATION
    )
    AudienceFactory(sandbox=production, name="Germans", profile_count=5400)
    dev_stream = DatastreamFactory(sandbox=development, name="Dev web")
    dev_destination = DestinationFactory(datastream=dev_stream, name="Dev homepage", alias="devHomepage")
    dev_objects = [
        dev_destination.get_absolute_url(),
        "/destinations/%s/activate/" % dev_destination.pk,
        AudienceFactory(sandbox=development, name="Dev audience").get_absolute_url(),
        ProfileFieldFactory(sandbox=development).get_absolute_url(),
        "/profiles/%s/" % ProfileFactory(sandbox=development).pk,
    ]
    return {"admin": admin, "homepage": homepage, "dev_objects": dev_objects, "dev_stream": dev_stream}


def test_the_admin_creates_a_campaign_marketer_who_activates_in_production_and_finds_nothing_in_development(
    browser, page, login, screenshot, org, _plain_http_live_server, assert_inputs_labelled
):
    login(page, org["admin"])

    # a user with a password
    page.get_by_role("link", name="Users", exact=True).click()
    page.get_by_role("button", name="New user").click()
    page.get_by_label("Username").fill("carla")
    page.get_by_label("Set a password now").check()
    page.get_by_label("Password", exact=True).fill("purple-otter-42")
    page.get_by_label("Password again").fill("purple-otter-42")
    assert_inputs_labelled(page)
    screenshot(page, "access-01-new-user")
    page.get_by_role("button", name="Create user").click()
    expect(page.get_by_text("carla was created.")).to_be_visible()

    # the role, on Production only, with carla in it
    page.get_by_role("link", name="Roles", exact=True).click()
    page.get_by_role("button", name="New role").click()
    page.get_by_role("textbox", name="Name").fill("Campaign marketer")
    for codename in ("view_destinations", "activate_destinations", "view_profiles", "view_segments"):
        page.locator("#perm-%s" % codename).check()
    page.get_by_label("Production").check()
    page.get_by_label("carla").check()
    assert_inputs_labelled(page)
    screenshot(page, "access-02-new-role")
    page.get_by_role("button", name="Create role").click()
    expect(page.get_by_text("The role Campaign marketer was created.")).to_be_visible()
    screenshot(page, "access-03-roles")

    # the admin sees what carla may do, and where it comes from
    page.get_by_role("link", name="Users", exact=True).click()
    page.get_by_role("link", name="carla").click()
    expect(page.get_by_role("row", name="Activate Destinations Campaign marketer")).to_be_visible()
    screenshot(page, "access-04-user")

    # carla signs in and activates in Production
    context = browser.new_context(base_url=_plain_http_live_server.url, viewport={"width": 1280, "height": 900})
    carla = context.new_page()
    carla.goto("/accounts/login/")
    carla.get_by_label("Username").fill("carla")
    carla.get_by_label("Password").fill("purple-otter-42")
    carla.get_by_role("button", name="Sign in").click()
    carla.wait_for_url(lambda url: "/accounts/login/" not in url)
    expect(carla.get_by_role("link", name="Roles", exact=True)).to_have_count(0)
    carla.goto(org["homepage"].get_absolute_url())
    carla.get_by_role("link", name="Activate audiences", exact=True).or_(
        carla.get_by_role("button", name="Activate audiences", exact=True)
    ).first.click()
    carla.locator("#audience-table").get_by_label("Germans").check()
    while carla.get_by_role("button", name="Finish").count() == 0:
        step = carla.locator("#step-heading").inner_text()
        carla.get_by_role("button", name="Next", exact=True).click()
        # the next step's page must have replaced this one before we look for Finish again
        expect(carla.locator("#step-heading")).not_to_have_text(step)
    screenshot(carla, "access-05-carla-review")
    carla.get_by_role("button", name="Finish").click()
    expect(carla.get_by_text("Homepage now activates 1 audience.")).to_be_visible()

    # every Development object is a 404 to her
    for url in org["dev_objects"]:
        assert carla.goto(url).status == 404, url
    # datastreams are no part of her role anywhere: that kind of page is refused outright, in every sandbox
    assert carla.goto(org["dev_stream"].get_absolute_url()).status == 403
    context.close()


def test_ten_failed_sign_ins_lock_the_account_the_log_records_it_and_the_admin_unlocks_it(
    browser, page, login, screenshot, org, _plain_http_live_server
):
    UserFactory(username="dora")
    visitor = browser.new_context(base_url=_plain_http_live_server.url, viewport={"width": 1280, "height": 900})
    dora = visitor.new_page()
    for _attempt in range(10):
        dora.goto("/accounts/login/")
        dora.get_by_label("Username").fill("dora")
        dora.get_by_label("Password").fill("not-my-password")
        dora.get_by_role("button", name="Sign in").click()
    expect(dora.get_by_role("alert")).to_contain_text(
        "Too many failed sign-ins: this account is locked for 30 minutes."
    )
    screenshot(dora, "access-06-locked")
    dora.get_by_label("Username").fill("dora")
    dora.get_by_label("Password").fill(PASSWORD)
    dora.get_by_role("button", name="Sign in").click()
    expect(dora.get_by_role("alert")).to_contain_text("this account is locked")

    login(page, org["admin"])
    page.get_by_role("link", name="Audit log", exact=True).click()
    page.get_by_label("What happened").select_option(label="Locked out")
    page.get_by_role("button", name="Filter").click()
    # the lockout, and the refused attempt made while locked
    expect(page.locator("#results tbody tr")).to_have_count(2)
    expect(page.locator("#results tbody tr").first).to_contain_text("Locked out dora")
    screenshot(page, "access-07-audit-lockout")
    # ten wrong passwords, then the right one refused while locked
    assert AuditEntry.objects.filter(event="sign_in_failed", object_repr="dora").count() == 11

    page.get_by_role("link", name="Users", exact=True).click()
    expect(page.get_by_role("row", name="dora").get_by_text("Locked out")).to_be_visible()
    page.get_by_role("link", name="dora").click()
    page.get_by_role("button", name="Unlock sign-in").click()
    expect(page.get_by_text("dora may sign in again.")).to_be_visible()

    dora.goto("/accounts/login/")
    dora.get_by_label("Username").fill("dora")
    dora.get_by_label("Password").fill(PASSWORD)
    dora.get_by_role("button", name="Sign in").click()
    dora.wait_for_url(lambda url: "/accounts/login/" not in url)
    visitor.close()
