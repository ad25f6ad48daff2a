"""
Input rules every management API endpoint shares: page bounds, text the database can store, and OPTIONS.

Each bad input is a 400 that names the query parameter or body field and says what to send instead; nothing
reaches the database that it would refuse (PostgreSQL stores no NUL character in text, and no UTF-8 encoder
takes an unpaired surrogate), so no such request ends in a 500.
"""

import re

from rest_framework import exceptions, parsers
from rest_framework.metadata import SimpleMetadata
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.request import clone_request
from rest_framework.settings import api_settings

from django.core.exceptions import PermissionDenied
from django.http import Http404, JsonResponse
from django.utils.translation import gettext as _

__all__ = [
    "MAX_OFFSET",
    "MAX_PAGE_SIZE",
    "ApiMetadata",
    "BoundedLimitOffsetPagination",
    "FormParser",
    "JSONParser",
    "MultiPartParser",
    "refuse_unstorable_text",
    "unstorable_character",
]

MAX_PAGE_SIZE = 500
# Beyond this, PostgreSQL's OFFSET overflows long before any list is that long.
MAX_OFFSET = 2_147_483_647

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def unstorable_character(text: str) -> str | None:
    """Return why `text` cannot be stored (a NUL or an unpaired surrogate, with its position), or None."""
    found = _UNSTORABLE.search(text)
    if found is None:
        return None
    character = found.group()
    if character == "\x00":
        what = _("the NUL character (U+0000)")
    else:
        what = _("an unpaired surrogate (U+%04X), which is not valid Unicode text") % ord(character)
    return _("contains %(what)s at position %(position)d; remove it.") % {"what": what, "position": found.start() + 1}


def _first_unstorable(value, path: str):
    """Return `(path, reason)` for the first unstorable string in a parsed body (keys included), or None."""
    if isinstance(value, str):
        reason = unstorable_character(value)
        return (path, reason) if reason else None
    if isinstance(value, dict):
        # A form or query string (QueryDict) may repeat a name; each of its values is checked under that name.
        items = ((key, item) for key, items in value.lists() for item in items) if hasattr(value, "lists") else None
        for key, item in items or value.items():
            key_text = str(key)
            inner = "%s.%s" % (path, key_text) if path else key_text
            reason = unstorable_character(key_text)
            if reason:
                return inner, _("has a name that %(reason)s") % {"reason": reason}
            found = _first_unstorable(item, inner)
            if found:
                return found
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            found = _first_unstorable(item, "%s[%d]" % (path, index) if path else "[%d]" % index)
            if found:
                return found
    return None


def refuse_unstorable_text(data, *, where: str = "") -> None:
    """Raise a 400 naming the field whose text cannot be stored; `where` prefixes the path (e.g. a query)."""
    found = _first_unstorable(data, "")
    if found is None:
        return
    path, reason = found
    field = path.split("[", 1)[0].split(".", 1)[0] or api_settings.NON_FIELD_ERRORS_KEY
    message = _("%(where)s%(path)s %(reason)s") % {"where": where, "path": path or _("The body"), "reason": reason}
    raise exceptions.ValidationError({field: [message]}, code="invalid_character")


class _RefusesUnstorableText:
    def parse(self, stream, media_type=None, parser_context=None):
        parsed = super().parse(stream, media_type, parser_context)
        refuse_unstorable_text(parsed.data if isinstance(parsed, parsers.DataAndFiles) else parsed)
        return parsed


class JSONParser(_RefusesUnstorableText, parsers.JSONParser):
    """JSON bodies, refusing text the database cannot store."""


class FormParser(_RefusesUnstorableText, parsers.FormParser):
    """Form bodies, refusing text the database cannot store."""


class MultiPartParser(_RefusesUnstorableText, parsers.MultiPartParser):
    """Multipart bodies, refusing text the database cannot store."""


class BoundedLimitOffsetPagination(LimitOffsetPagination):
    """
    `?limit=` (1 to MAX_PAGE_SIZE, default PAGE_SIZE) and `?offset=` (0 to MAX_OFFSET), each checked.

    DRF's own pagination quietly replaces a bad value with the default and passes a huge one to the database
    (a 500); a caller who asked for something else should hear so.
    """

    max_limit = MAX_PAGE_SIZE

    def get_limit(self, request):
        raw = request.query_params.get(self.limit_query_param)
        if raw is None:
            return self.default_limit
        return self._bounded(self.limit_query_param, raw, 1, self.max_limit)

    def get_offset(self, request):
        raw = request.query_params.get(self.offset_query_param)
        if raw is None:
            return 0
        return self._bounded(self.offset_query_param, raw, 0, MAX_OFFSET)

    @staticmethod
    def _bounded(name: str, raw: str, lowest: int, highest: int) -> int:
        text = raw.strip()
        if text.isascii() and text.isdigit() and len(text) <= 12 and lowest <= int(text) <= highest:
            return int(text)
        raise exceptions.ValidationError(
            {
                name: [
                    _("%(name)s must be a whole number from %(lowest)d to %(highest)d; got %(raw)s.")
                    % {"name": name, "lowest": lowest, "highest": highest, "raw": repr(raw[:40])}
                ]
            },
            code="out_of_range",
        )

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        bounds = {
            self.limit_query_param: {"minimum": 1, "maximum": self.max_limit, "default": self.default_limit},
            self.offset_query_param: {"minimum": 0, "maximum": MAX_OFFSET, "default": 0},
        }
        for parameter in parameters:
            parameter["schema"].update(bounds.get(parameter["name"], {}))
        return parameters


class ApiMetadata(SimpleMetadata):
    """
    OPTIONS on any route, including actions whose URL names no object (`profiles/{namespace}/{identity}/`).

    DRF's metadata checks the object permission of PUT by calling `get_object()`, which asserts a lookup
    argument in the URL; routes without one describe the body the user may send without that check.
    """

    def determine_actions(self, request, view):
        lookup = view.lookup_url_kwarg or view.lookup_field
        if lookup in view.kwargs:
            return super().determine_actions(request, view)
        actions = {}
        for method in {"PUT", "POST"} & set(view.allowed_methods):
            view.request = clone_request(request, method)
            try:
                view.check_permissions(view.request)
            except (exceptions.APIException, PermissionDenied, Http404):
                continue
            else:
                actions[method] = self.get_serializer_info(view.get_serializer())
            finally:
                view.request = request
        return actions


class ApiQueryTextMiddleware:
    """Refuse, under /api/, a query parameter whose text the database cannot store (400 naming it)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path_info.startswith("/api/") and request.META.get("QUERY_STRING"):
            try:
                refuse_unstorable_text(request.GET, where=_("Query parameter "))
            except exceptions.ValidationError as error:
                return JsonResponse(error.detail, status=400)
        return self.get_response(request)
