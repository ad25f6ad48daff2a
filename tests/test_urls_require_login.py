"""Every URL the app serves requires a signed-in user, except the few that must be public."""

import re

import pytest

from django.urls import URLPattern, URLResolver, get_resolver

pytestmark = pytest.mark.django_db

SAMPLE_UUID = "6f1c1a52-0000-4000-8000-000000000001"

# Public on purpose: signing in, and the Edge Network endpoints that websites and servers call.
PUBLIC = (
    re.compile(r"^/accounts/login/$"),
    re.compile(r"^/accounts/logout/$"),  # only ends a session; shows nothing
    re.compile(r"^/accounts/set-password/"),  # an invitation link: its one-time token is the credential
    re.compile(r"^/admin/log(in|out)/$"),
    re.compile(r"^/ee/"),
    re.compile(r"^/oauth/token$"),
    re.compile(r"^/static/"),
)


def _walk(patterns, prefix=""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern)


def _sample_for_group(match) -> str:
    """Pick a made-up value the route's own regex group accepts (an id, a code, a word)."""
    pattern = match.group(1)
    for candidate in (SAMPLE_UUID, "Email", "x"):
        if re.fullmatch(pattern, candidate):
            return candidate
    return SAMPLE_UUID


def _sample_path(route: str) -> str:
    """Turn a route (path converters or regex) into a concrete URL with made-up arguments."""
    route = re.sub(r"\\\.\(\?P<format>[^)]*\)(/\?)?", ".json", route)  # DRF's format suffix
    route = re.sub(r"\(\?P<\w+>([^)]*)\)", _sample_for_group, route)
    route = re.sub(r"<drf_format_suffix:\w+>", ".json", route)
    route = re.sub(r"<uuid:\w+>", SAMPLE_UUID, route)
    route = re.sub(r"<int:\w+>", "1", route)
    route = re.sub(r"<(?:str|slug|path):\w+>|<\w+>", "x", route)
    route = route.replace("\\Z", "").replace("\\.", ".").replace("^", "").replace("$", "").replace("/?", "/")
    return "/" + route


def all_paths():
    paths = sorted({_sample_path(route) for route in _walk(get_resolver().url_patterns)})
    return [path for path in paths if not any(rule.match(path) for rule in PUBLIC)]


@pytest.mark.parametrize("path", all_paths())
def test_every_page_and_endpoint_refuses_anonymous_visitors(client, path):
    response = client.get(path)

    if response.status_code in (301, 302):
        assert "login" in response["Location"], "%s redirects to %s" % (path, response["Location"])
    else:
        assert response.status_code in (401, 403, 405), "%s answered %d" % (path, response.status_code)


def test_the_walk_finds_the_pages_it_is_meant_to_guard():
    paths = all_paths()

    assert "/datastreams/" in paths
    assert "/api/v1/datastreams/" in paths
    assert "/api/docs/" in paths
    assert "/" in paths
