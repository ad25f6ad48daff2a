"""The API documentation pages work on a machine that reaches nothing but the app itself."""

from urllib.parse import urlsplit

import pytest

from tests.browser.conftest import SCREENSHOTS
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

# The page builds the whole API's schema, then renders it: on a busy CI machine that takes more than the default 10 s.
SCHEMA_TIMEOUT_MS = 60_000


def _only_loopback(page):
    """Refuse every request that leaves the machine, and remember what was refused."""
    refused = []

    def route(route):
        host = urlsplit(route.request.url).hostname
        if host in ("127.0.0.1", "localhost"):
            route.continue_()
        else:
            refused.append(route.request.url)
            route.abort()

    page.context.route("**/*", route)
    return refused


def test_swagger_ui_lists_the_operations_with_the_network_restricted_to_loopback(page, login, screenshot):
    login(page, UserFactory())
    refused = _only_loopback(page)

    page.goto("/api/docs/")

    page.locator(".opblock").first.wait_for(timeout=SCHEMA_TIMEOUT_MS)
    assert page.locator(".opblock").count() > 20
    assert page.get_by_text("/api/v1/destinations/").first.is_visible()
    screenshot(page, "api-docs-swagger")
    assert refused == []


def test_redoc_shows_the_api_reference_with_the_network_restricted_to_loopback(page, login):
    login(page, UserFactory())
    refused = _only_loopback(page)

    page.goto("/api/redoc/")

    page.get_by_text("Custom Personalization Connection API").first.wait_for(timeout=SCHEMA_TIMEOUT_MS)
    page.locator("[data-section-id^='tag/']").first.wait_for(timeout=SCHEMA_TIMEOUT_MS)
    assert page.locator("[data-section-id^='operation/']").count() > 20
    # The reference is one very long page: the first screen is what a reader sees.
    page.screenshot(path=str(SCREENSHOTS / "api-docs-redoc.png"))
    assert refused == []
