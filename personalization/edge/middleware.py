"""Serve the public edge endpoints before the session, auth and CSRF machinery the UI needs."""

from django.urls import Resolver404, get_resolver

from personalization.edge.errors import EdgeError, problem_response
from personalization.edge.lookup import new_request_id
from personalization.edge.urls import LOCATION_HINTS

EDGE_PREFIXES = ("/ee/", "/oauth/token")
_NO_BODY = (204, 304)


class EdgeFastPathMiddleware:
    """
    Dispatch `/ee/…` and `/oauth/token` straight to their views.

    The lookup is anonymous or bearer-authenticated; loading sessions, users and CSRF state would only
    add latency (and a `Vary: Cookie`) to the page render that waits on it.
    """

    def __init__(self, get_response):
        self.get_response = get_response
        self.resolver = get_resolver("personalization.edge.urls")
        # Exact paths skip the regex resolver: it is measurable on a path that answers in a fraction of a ms.
        self.exact = {
            "/" + str(pattern.pattern): pattern.callback
            for pattern in self.resolver.url_patterns
            if not pattern.pattern.regex.groups
        }

    def __call__(self, request):
        path = request.path_info
        if path.startswith("//"):  # "//ee/…": merged as a front proxy would (nginx's merge_slashes)
            path = "/" + path.lstrip("/")
        if not path.startswith(EDGE_PREFIXES):
            return self.get_response(request)
        view = self.exact.get(path)
        if view is None:
            try:
                match = self.resolver.resolve(path)
            except Resolver404:
                if not path.startswith("/ee/"):
                    return self.get_response(request)
                # Under /ee/ every answer is the Edge Network's problem JSON, an unknown path's too.
                return problem_response(
                    EdgeError(
                        "EXEG-0404-404",
                        "There is no Edge Network endpoint at %s; use /ee/v2/interact, /ee/v1/interact or "
                        "/ee/v2/collect, optionally after a location hint (%s)."
                        % (path[:80], ", ".join(LOCATION_HINTS)),
                    ),
                    new_request_id(None),
                )
            response = match.func(request, *match.args, **match.kwargs)
        else:
            response = view(request)
        # What CommonMiddleware does for the UI: with a length, the server sends the body as is instead of in
        # chunks followed by a last empty one (one write less for every answer). 204 and 304 carry no body.
        if response.status_code not in _NO_BODY and not response.streaming and "Content-Length" not in response:
            response.headers["Content-Length"] = str(len(response.content))
        return response
