"""A marketer opens the lookup preview in Chromium: it starts ready to use and explains a mistyped identity."""

import pytest

try:
    from playwright.sync_api import expect
except ImportError:  # the `browser` fixture then skips these tests, or fails them under REQUIRE_SERVICES
    expect = None

from accounts.constants import VIEW_DESTINATIONS, VIEW_PROFILES
from tests.factories import (
    DatastreamFactory,
    IdentityFactory,
    IdentityNamespaceFactory,
    ProfileFactory,
    SandboxFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_preview_starts_on_the_serving_datastream_and_explains_an_identity_in_the_wrong_format(
    page, login, grant, screenshot, assert_inputs_labelled
):
    sandbox = SandboxFactory(name="prod", title="Production")
    DatastreamFactory(sandbox=sandbox, name="Archive", personalization_destinations=False)
    DatastreamFactory(sandbox=sandbox, name="Website")
    ecid = IdentityNamespaceFactory(sandbox=sandbox, code="ECID")
    IdentityNamespaceFactory(sandbox=sandbox, code="CRMID")
    for _ in range(2):
        IdentityFactory(profile=ProfileFactory(sandbox=sandbox), namespace=ecid)
    marketer = UserFactory(username="marketer")
    grant(marketer, sandbox, VIEW_PROFILES, VIEW_DESTINATIONS)
    login(page, marketer)

    page.goto("/lookup/preview/")

    expect(page.get_by_label("Datastream")).to_have_value(str(sandbox.datastreams.get(name="Website").pk))
    expect(page.get_by_label("Identity namespace")).to_have_value("ECID")
    assert_inputs_labelled(page)
    page.get_by_label("Identity value").fill("abc")
    page.get_by_role("button", name="Preview").click()
    expect(page.get_by_text("This is not a valid ECID identity: an ECID is exactly 38 digits.")).to_be_visible()
    expect(page.get_by_text("No profile has this identity")).to_have_count(0)
    screenshot(page, "lookup-preview-format-error")
