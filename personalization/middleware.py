"""Project-wide middleware."""

from django.conf import settings
from django.http import Http404

from personalization.views import page_not_found

# Machine clients get the answers of their own handlers (JSON or RFC 7807), never a page.
_MACHINE_PREFIXES = ("/api/", "/ee/", "/oauth/", "/static/")


class ProductNotFoundPageMiddleware:
    """
    Show the product's own "not found" page in the embedded mode too.

    `make run` serves with DEBUG on, where Django answers a 404 with its technical page (the URL patterns, the
    settings module): a marketer trying the product should see the page production shows.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if (
            settings.DEBUG
            and response.status_code == 404
            and getattr(request, "resolver_match", None) is None
            and response.get("Content-Type", "").startswith("text/html")
            and not request.path.startswith(_MACHINE_PREFIXES)
        ):
            return page_not_found(request)
        return response

    def process_exception(self, request, exception):
        if settings.DEBUG and isinstance(exception, Http404) and not request.path.startswith(_MACHINE_PREFIXES):
            return page_not_found(request, exception)
        return None
