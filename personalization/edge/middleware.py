"""Serve the public edge endpoints before the session, auth and CSRF machinery the UI needs."""

from django.urls import Resolver404, get_resolver

EDGE_PREFIXES = ("/ee/", "/oauth/token")


class EdgeFastPathMiddleware:
    """
    Dispatch `/ee/…` and `/oauth/token` straight to their views.

    The lookup is anonymous or bearer-authenticated; loading sessions, users and CSRF state would only
    add latency (and a `Vary: Cookie`) to the page render that waits on it.
    """

    def __init__(self, get_response):
        self.get_response = get_response
        self.resolver = get_resolver("personalization.edge.urls")

    def __call__(self, request):
        if request.path_info.startswith(EDGE_PREFIXES):
            try:
                match = self.resolver.resolve(request.path_info)
            except Resolver404:
                return self.get_response(request)
            return match.func(request, *match.args, **match.kwargs)
        return self.get_response(request)
