"""
Charsets named by a request's Content-Type, and a WSGI wrapper that refuses the ones that are no text encoding.

Django takes a charset such as `base64` or `rot13` as the request's encoding while it builds the request, before
any middleware, and decoding the query string with it raises: the caller would get the server's bare 500 page.
`refusing_non_text_charsets` answers 415 first: RFC 7807 with the Edge Network's code under the edge paths,
plain text elsewhere. Unknown charset names are left to Django, which ignores them (and the edge refuses them
with the same 415).
"""

import codecs

from personalization.edge.errors import EdgeError, problem_json

__all__ = ["declared_charset", "refusing_non_text_charsets", "text_codec"]

_EDGE_PREFIXES = ("/ee/", "/oauth/token")


def declared_charset(content_type: str) -> str | None:
    """Return the `charset` parameter of a Content-Type value (unquoted, lower-case), or None without one."""
    for parameter in content_type.split(";")[1:]:
        name, _sep, value = parameter.partition("=")
        if name.strip().lower() == "charset":
            return value.strip().strip('"').lower()
    return None


def text_codec(charset: str) -> codecs.CodecInfo | None:
    """Return the codec a charset names when it is a text encoding (str <-> bytes), else None."""
    try:
        codec = codecs.lookup(charset)
    except (LookupError, ValueError):
        return None
    # The flag str.encode itself reads to refuse base64 and the like.
    return codec if codec._is_text_encoding else None


def _names_non_text_codec(charset: str) -> bool:
    try:
        codec = codecs.lookup(charset)
    except (LookupError, ValueError):
        return False  # unknown: Django ignores it
    return not codec._is_text_encoding


def refusing_non_text_charsets(application):
    """Wrap a WSGI application so a non-text charset gets a 415 instead of a 500."""

    def guarded(environ, start_response):
        charset = declared_charset(environ.get("CONTENT_TYPE", ""))
        if charset is None or not _names_non_text_codec(charset):
            return application(environ, start_response)
        detail = "The charset %s is not a text encoding; send UTF-8." % charset[:40]
        if environ.get("PATH_INFO", "").startswith(_EDGE_PREFIXES):
            # Read on use: this module loads with the WSGI entry point, before the apps whose models lookup reads.
            from personalization.edge.lookup import new_request_id

            body = problem_json(EdgeError("EXEG-0111-415", detail), new_request_id(None)).encode()
            content = "application/problem+json"
        else:
            body, content = detail.encode(), "text/plain; charset=utf-8"
        start_response("415 Unsupported Media Type", [("Content-Type", content), ("Content-Length", str(len(body)))])
        return [body]

    return guarded
