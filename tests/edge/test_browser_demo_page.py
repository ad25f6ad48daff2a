"""The demo shop personalizes its banner through the JS client: members see their offer, others the default."""

import pytest

from django.test import Client

from accounts import constants as perms
from accounts.services import role_create
from personalization.edge.lookup import identity_cookie_name
from tests.factories import (
    ActivationFactory,
    AudienceFactory,
    DatastreamFactory,
    DestinationFactory,
    IdentityFactory,
    IdentityNamespaceFactory,
    MembershipFactory,
    ProfileFactory,
    SandboxFactory,
    UserFactory,
)
from tests.utils.browser import launch_chromium

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

MEMBER_ECID = "5" * 38


@pytest.fixture
def shop(live_server):
    sandbox = SandboxFactory(name="shop")
    datastream = DatastreamFactory(sandbox=sandbox, name="Shop web", allowed_origins=[live_server.url])
    ecid = IdentityNamespaceFactory(sandbox=sandbox, code="ECID")
    member = ProfileFactory(sandbox=sandbox)
    IdentityFactory(profile=member, namespace=ecid, value=MEMBER_ECID)
    gold = AudienceFactory(sandbox=sandbox, name="Gold members")
    MembershipFactory(audience=gold, profile=member)
    destination = DestinationFactory(datastream=datastream, alias="personalizationAlias")
    ActivationFactory(destination=destination, audience=gold)
    owner = UserFactory(username="shop-owner")
    role_create(
        name="shop owners",
        permissions=[perms.VIEW_DATASTREAMS, perms.VIEW_SEGMENTS],
        users=[owner],
        sandboxes=[sandbox],
    )
    session = Client()
    session.force_login(owner)
    browser = launch_chromium()
    yield {
        "browser": browser,
        "datastream": datastream,
        "member": member,
        "session": session.cookies["sessionid"].value,
    }
    browser.close()


def banner_for(shop, live_server, ecid=None):
    context = shop["browser"].new_context()
    cookies = [{"name": "sessionid", "value": shop["session"], "url": live_server.url}]
    if ecid:
        cookies.append({"name": identity_cookie_name(), "value": ecid, "url": live_server.url})
    context.add_cookies(cookies)
    page = context.new_page()
    page.goto("%s/lookup/demo/%s/" % (live_server.url, shop["datastream"].pk))
    page.wait_for_function("document.getElementById('banner').dataset.state !== undefined", timeout=10000)
    state = page.get_attribute("#banner", "data-state")
    title = page.inner_text("#banner-title")
    context.close()
    return state, title


def test_a_member_sees_the_personalized_banner(shop, live_server):
    state, title = banner_for(shop, live_server, ecid=MEMBER_ECID)

    assert state == "personalized"
    assert title == "An offer for Gold members"


def test_a_new_visitor_sees_the_default_banner(shop, live_server):
    state, title = banner_for(shop, live_server)

    assert state == "default"
    assert title == "Welcome to our shop"


def test_signing_in_by_email_shows_the_visitors_ecid_and_a_readable_offer(shop, live_server):
    email = IdentityNamespaceFactory(sandbox=shop["datastream"].sandbox, code="Email")
    IdentityFactory(profile=shop["member"], namespace=email, value="ada@example.com")
    context = shop["browser"].new_context()
    context.add_cookies([{"name": "sessionid", "value": shop["session"], "url": live_server.url}])
    page = context.new_page()
    page.goto("%s/lookup/demo/%s/" % (live_server.url, shop["datastream"].pk))
    page.wait_for_function("document.getElementById('banner').dataset.state === 'default'", timeout=10000)
    first_ecid = page.inner_text("#ecid")

    page.get_by_label("Sign in as (Email identity)").fill("ada@example.com")
    page.get_by_role("button", name="Personalize").click()
    page.wait_for_function("document.getElementById('banner').dataset.state === 'personalized'", timeout=10000)

    assert len(first_ecid) == 38 and first_ecid.isdigit()
    assert page.inner_text("#ecid") == first_ecid
    subtitle = page.evaluate("getComputedStyle(document.getElementById('banner-text')).color")
    assert subtitle == "rgb(255, 255, 255)"  # on the offer's dark green: 7.9:1
    context.close()
