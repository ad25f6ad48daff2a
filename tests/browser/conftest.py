"""
Browser tests: Playwright's sync API driving Debian's Chromium against pytest-django's live server.

Fixtures any browser test can use:
- `browser`: one headless Chromium for the session (skipped when Chromium is missing, failed instead when the
  environment sets REQUIRE_SERVICES=1);
- `page`: a fresh browser context (own cookies) at 1280×900 pointed at the live server; `page.set_viewport_size()`
  switches to a phone width;
- `login(page, user)`: sign in through the login form (factories give every user the same password);
- `screenshot(page, name)`: a full-page PNG in tests/browser/screenshots/ (gitignored), returning its path;
- `assert_inputs_labelled(page)` and `assert_no_horizontal_scroll(page)`: accessibility and layout checks.

Tests using the live server need a transactional database: mark them `django_db(transaction=True)`.
"""

import os
from pathlib import Path

import pytest

# The sync API keeps an event loop in this thread; the ORM calls made by the test itself stay synchronous.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).parent / "screenshots"
PASSWORD = "correct-horse-battery"  # tests.factories.UserFactory's password
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


def _why_no_browser() -> str | None:
    if not Path(CHROMIUM).exists():
        return "Chromium is not installed at %s (set CHROMIUM_PATH)" % CHROMIUM
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed"
    return None


@pytest.fixture(scope="session")
def browser():
    reason = _why_no_browser()
    if reason:
        if os.environ.get("REQUIRE_SERVICES"):
            pytest.fail("Browser tests are required (REQUIRE_SERVICES) but %s." % reason)
        pytest.skip("Browser tests skipped: %s." % reason)
    # Playwright's sync API allows one instance per process, shared with the edge browser tests.
    from tests.utils.browser import launch_chromium

    chromium = launch_chromium()
    yield chromium
    chromium.close()


@pytest.fixture
def _plain_http_live_server(settings, live_server):
    """Serve the live server over plain HTTP: cookies must not require TLS and nothing may redirect to https."""
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False
    settings.SECURE_SSL_REDIRECT = False
    return live_server


@pytest.fixture
def page(browser, _plain_http_live_server):
    context = browser.new_context(base_url=_plain_http_live_server.url, viewport=DESKTOP, locale="en-US")
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def login():
    def _login(page, user, password=PASSWORD):
        page.goto("/accounts/login/")
        page.get_by_label("Username").fill(user.get_username())
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(lambda url: "/accounts/login/" not in url)

    return _login


@pytest.fixture
def screenshot():
    SCREENSHOTS.mkdir(exist_ok=True)

    def _screenshot(page, name: str) -> Path:
        path = SCREENSHOTS / ("%s.png" % name)
        # Finished transitions: a box ticked a moment ago must look ticked.
        page.screenshot(path=str(path), full_page=True, animations="disabled")
        return path

    return _screenshot


_UNLABELLED_CONTROLS = """
() => [...document.querySelectorAll("main input, main select, main textarea")]
  .filter((el) => el.type !== "hidden" && el.getClientRects().length > 0)
  .filter((el) => !(el.labels && el.labels.length))
  .filter((el) => !el.getAttribute("aria-label") && !el.getAttribute("aria-labelledby"))
  .map((el) => el.name || el.id)
"""


@pytest.fixture
def assert_inputs_labelled():
    def _check(page):
        unlabelled = page.evaluate(_UNLABELLED_CONTROLS)
        assert unlabelled == [], "controls without a label on %s: %s" % (page.url, unlabelled)

    return _check


@pytest.fixture
def assert_no_horizontal_scroll():
    def _check(page):
        overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, "%s is %dpx wider than the %dpx window" % (
            page.url,
            overflow,
            page.viewport_size["width"],
        )

    return _check
