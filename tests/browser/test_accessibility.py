"""
Every page of the UI, as each demo persona, checked with axe-core in Chromium: no serious or critical violation.

The pages are found the way a user finds them: from the overview, following every link the persona is shown
(one page per URL pattern). A UI URL pattern that no persona reaches fails the test unless it is listed below as
not being a page, so a new page cannot slip past the check.
"""

import json
from collections import Counter
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest

from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.urls import Resolver404, resolve

from accounts.models import Sandbox
from accounts.services import api_credential_create
from personalization.alerts.delivery import webhook_endpoint_create
from personalization.audiences.imports.services import audience_import_create
from personalization.governance.services import label_create, marketing_action_create
from tests.browser.conftest import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)

AXE = Path(__file__).parent / "vendor" / "axe.min.js"
PERSONAS = ("admin", "marketer", "viewer")
BLOCKING = ("serious", "critical")
AXE_OPTIONS = {
    "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]},
    "resultTypes": ["violations"],
}
# UI URL patterns that are not pages: form posts, htmx fragments and downloads. Each is covered by its own tests.
NOT_PAGES = {
    "accounts:logout",
    "accounts:switch_sandbox",
    "audiences:audience_estimate",
    "audiences:audience_estimate_for",
    "audiences:audience_publish",
    "audiences:audience_inactivate",
    "audiences:audience_import_confirm_exits",
    "audiences:audience_import_progress",
    "audiences:audience_import_errors",
    "destinations:destination_enabled",
    "accounts:user_active",  # form posts from the user page
    "accounts:user_unlock",
    "alerts:alert_resolve",  # form posts from the Alerts pages and the bell
    "alerts:notifications_read",
    "alerts:recipients_save",
    "alerts:rule_enable",
    "alerts:subscription_save",
    "alerts:webhookendpoint_delete",
    "alerts:webhookendpoint_test",
    "governance:policy_status",  # the enable / disable form post of a policy page
}
# Outside the product's UI: the Django admin, the API (and its documentation pages), the Edge Network, metrics.
OUTSIDE = ("/admin/", "/api/", "/ee/", "/oauth/", "/static/", "/media/", "/metrics")


def _ui_url_names() -> set[str]:
    from django.urls import URLPattern, URLResolver, get_resolver

    def walk(patterns, prefix, namespace):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                inner = namespace + ("%s:" % pattern.namespace if pattern.namespace else "")
                yield from walk(pattern.url_patterns, prefix + str(pattern.pattern), inner)
            elif isinstance(pattern, URLPattern) and pattern.name:
                if not ("/" + prefix + str(pattern.pattern)).startswith(OUTSIDE):
                    yield namespace + pattern.name

    return set(walk(get_resolver().url_patterns, "", ""))


@pytest.fixture
def demo(settings, tmp_path):
    """The demo data with known persona passwords, plus what the demo lacks.

    A CSV audience, a credential, a webhook, and a custom label and marketing action (core ones have no edit or
    delete pages). Return the custom label: the crawl starts at its page too, since the crawl opens one page per
    URL pattern and the first label it meets is a core one.
    """
    settings.MEDIA_ROOT = str(tmp_path / "media")
    call_command("seed_demo", profiles=30, verbosity=0)
    users = get_user_model().objects.filter(username__in=PERSONAS)
    for user in users:
        user.set_password(PASSWORD)
        user.save()
    admin = users.get(username="admin")
    production = Sandbox.objects.get(name="prod")
    api_credential_create(user=admin, sandbox=production, name="Checkout server")
    audience_import_create(
        user=admin,
        sandbox=production,
        name="CRM gold list",
        upload=ContentFile(("ecid\n%s\n" % ("7" * 38)).encode(), name="gold.csv"),
        namespace=production.identity_namespaces.get(code="ECID"),
        identity_column="ecid",
    )
    webhook_endpoint_create(
        user=admin, sandbox=production, name="Ops", url="http://127.0.0.1:9/hooks", alert_types=["run_failure"]
    )
    marketing_action_create(user=admin, sandbox=production, key="printMailing", name="Print mailing")
    return label_create(user=admin, sandbox=production, code="PARTNER", name="Partner data")


def _axe(page) -> list[dict]:
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    return page.evaluate("(options) => axe.run(document, options).then((r) => r.violations)", AXE_OPTIONS)


def _links(page, base: str) -> list[str]:
    hrefs = page.eval_on_selector_all("a[href]:not([download])", "(links) => links.map((a) => a.getAttribute('href'))")
    found = []
    for href in hrefs:
        target = urlsplit(urljoin(base, href))
        if target.netloc != urlsplit(base).netloc or target.path.startswith(OUTSIDE):
            continue
        found.append(target.path)
    return found


def _url_name(path: str) -> str | None:
    try:
        match = resolve(path)
    except Resolver404:
        return None
    return match.view_name


def _invitation_path() -> str:
    """Return the set-password page an invited user opens from the email (no page links to it)."""
    from django.contrib.auth.tokens import default_token_generator
    from django.urls import reverse
    from django.utils.encoding import force_bytes
    from django.utils.http import urlsafe_base64_encode

    invited = get_user_model().objects.create_user("invited", email="invited@example.com")
    return reverse(
        "accounts:password_set",
        args=[urlsafe_base64_encode(force_bytes(invited.pk)), default_token_generator.make_token(invited)],
    )


def _crawl(page, live_server_url: str, persona: str, visited: dict, violations: list, start=("/",)) -> None:
    queue, seen_names = list(start), set()
    while queue:
        path = queue.pop(0)
        name = _url_name(path)
        if name is None or name in seen_names or name in NOT_PAGES:
            continue
        seen_names.add(name)
        response = page.goto(path)
        assert response.status < 500, "%s answered %s for %s" % (path, response.status, persona)
        if response.status != 200:
            continue
        visited.setdefault(name, set()).add(persona)
        for violation in _axe(page):
            violations.append({"persona": persona, "path": path, **violation})
        queue.extend(_links(page, live_server_url + path))


def test_every_page_has_no_serious_or_critical_accessibility_violation_for_any_persona(
    browser, _plain_http_live_server, demo, login
):
    visited, violations = {}, []
    # Signed out: the invitation link of the email an invited user gets.
    context = browser.new_context(base_url=_plain_http_live_server.url, viewport={"width": 1280, "height": 900})
    _crawl(context.new_page(), _plain_http_live_server.url, "invited", visited, violations, [_invitation_path()])
    context.close()
    for persona in PERSONAS:
        context = browser.new_context(base_url=_plain_http_live_server.url, viewport={"width": 1280, "height": 900})
        context.set_default_timeout(15_000)
        page = context.new_page()
        login(page, get_user_model().objects.get(username=persona))
        _crawl(page, _plain_http_live_server.url, persona, visited, violations, ["/", demo.get_absolute_url()])
        context.close()

    by_impact = Counter(violation["impact"] for violation in violations)
    print(
        "\naxe-core: %d pages (URL patterns) checked over %d personas, %d page visits; violations by impact: %s"
        % (len(visited), len(PERSONAS), sum(len(p) for p in visited.values()), dict(by_impact) or "none")
    )
    unreached = _ui_url_names() - NOT_PAGES - set(visited) - {"accounts:login"}
    assert not unreached, "UI pages no persona reached, so axe did not check them: %s" % sorted(unreached)
    blocking = [
        "%s %s as %s: %s (%s) at %s"
        % (v["impact"], v["id"], v["persona"], v["help"], v["path"], json.dumps([n["target"] for n in v["nodes"]][:3]))
        for v in violations
        if v["impact"] in BLOCKING
    ]
    assert not blocking, "\n".join(blocking)


def test_the_sign_in_page_has_no_serious_or_critical_accessibility_violation(page):
    page.goto("/accounts/login/")

    assert [v["id"] for v in _axe(page) if v["impact"] in BLOCKING] == []
