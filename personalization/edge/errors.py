"""RFC 7807 problem responses with the Edge Network's EXEG codes; no internal detail ever leaves."""

import json

from django.http import HttpResponse

__all__ = ["EdgeError", "problem_json", "problem_response", "warning"]

_TITLES = {
    "EXEG-0002-400": "Missing datastream parameter",
    "EXEG-0003-400": "Invalid datastream ID",
    "EXEG-0004-422": "Datastream disabled",
    "EXEG-0013-422": "Identity namespace code cannot be resolved",
    "EXEG-0101-400": "Invalid JSON request",
    "EXEG-0102-400": "Invalid request field",
    "EXEG-0109-408": "Empty request",
    "EXEG-0111-415": "Invalid request",
    "EXEG-0112-413": "Invalid request",
    "EXEG-0204-200": "Completed with warning(s)",
    "EXEG-0303-200": "Unauthorized to fetch identities",
    "EXEG-0305-400": "Invalid identity provided",
    "EXEG-0306-400": "Event is missing primary identity",
    "EXEG-0429-429": "Too many requests",
    "EXEG-0500-401": "Invalid authorization token",
    "EXEG-0503-401": "Authorization token expired",
    "EXEG-0001-500": "Unexpected error",
    "EXEG-0404-404": "Not found",
    "EXEG-0405-405": "Method not allowed",
}


class EdgeError(Exception):
    """A fatal error for the caller: its EXEG code and a detail that says what to fix."""

    def __init__(self, code: str, detail: str, headers: dict | None = None):
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.headers = headers or {}

    @property
    def status(self) -> int:
        return int(self.code.rsplit("-", 1)[1])


def problem_json(error: EdgeError, request_id: str) -> str:
    """Return the RFC 7807 body of an error, as the Edge Network writes it."""
    return json.dumps(
        {
            "type": "https://ns.adobe.com/aep/errors/%s" % error.code,
            "status": error.status,
            "title": _TITLES.get(error.code, "Invalid request"),
            "detail": error.detail,
            "report": {"requestId": request_id},
        }
    )


def warning(code: str, detail: str) -> dict:
    """Return one entry of an answer's `warnings[]`: a non-fatal problem, the call still answered (200)."""
    return {
        "type": "https://ns.adobe.com/aep/errors/%s" % code,
        "status": int(code.rsplit("-", 1)[1]),
        "title": _TITLES.get(code, "Completed with warning"),
        "detail": detail,
    }


def problem_response(error: EdgeError, request_id: str) -> HttpResponse:
    response = HttpResponse(
        problem_json(error, request_id), status=error.status, content_type="application/problem+json"
    )
    for name, value in error.headers.items():
        response[name] = value
    return response
