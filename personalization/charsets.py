"""
Refuse a request whose Content-Type names a codec that is not a text encoding (`charset=base64`, `rot13`).

Django takes such a charset as the request's encoding while it builds the request, before any middleware, and
decoding the query string with it raises: the caller would get the server's bare 500 page. This WSGI wrapper
answers 415 first: RFC 7807 with the Edge Network's code under the edge paths, plain text elsewhere. Unknown
charset names are left to Django, which ignores them (and the edge refuses them with the same 415).
"""

import codecs
import json

__all__ = ["refusing_non_text_charsets", "text_codec"]

_EDGE_PREFIXES = ("/ee/", "/oauth/token")


def text_codec(charset: str) -> codecs.CodecInfo | None:
    """Return the codec a charset names when it is a text encoding (str <-> bytes), else None."""
    try:
        codec = codecs.lookup(charset)
    except (LookupError, ValueError):
        return None
    # The flag str.encode itself reads to refuse base64 and the like.
    return codec if codec._is_text_encoding else None


def _non_text_charset(content_type: str) -> str | None:
    for parameter in content_type.split(";")[1:]:
        name, _sep, value = parameter.partition("=")
        if name.strip().lower() == "charset":
            charset = value.strip().strip('"')
            try:
                codecs.lookup(charset)
            except (LookupError, ValueError):
                return None  # unknown: Django ignores it
            return None if text_codec(charset) else charset
    return None


def refusing_non_text_charsets(application):
    """Wrap a WSGI application so a non-text charset gets a 415 instead of a 500."""

    def guarded(environ, start_response):
        content_type = environ.get("CONTENT_TYPE", "")
        charset = _non_text_charset(content_type) if "charset" in content_type.lower() else None
        if charset is None:
            return application(environ, start_response)
        detail = "The charset %s is not a text encoding; send UTF-8." % charset[:40]
        if environ.get("PATH_INFO", "").startswith(_EDGE_PREFIXES):
            body = json.dumps(
                {
                    "type": "https://ns.adobe.com/aep/errors/EXEG-0111-415",
                    "status": 415,
                    "title": "Invalid request",
                    "detail": detail,
                }
            ).encode()
            content = "application/problem+json"
        else:
            body, content = detail.encode(), "text/plain; charset=utf-8"
        start_response("415 Unsupported Media Type", [("Content-Type", content), ("Content-Length", str(len(body)))])
        return [body]

    return guarded
