"""The OpenAPI document's error answers: every operation documents the 4xx statuses it can give, and their bodies."""

__all__ = ["document_error_responses"]

_VALIDATION_ERROR = {
    "type": "object",
    "description": (
        "What to fix, by request field or query parameter: a list of messages each (nested objects for nested "
        "fields); `non_field_errors` holds what concerns the request as a whole."
    ),
    "additionalProperties": {},
    "example": {"limit": ["limit must be a whole number from 1 to 500; got '0'."]},
}
_ERROR_DETAIL = {
    "type": "object",
    "properties": {"detail": {"type": "string", "description": "What went wrong and what to do."}},
    "required": ["detail"],
}
_BODY_METHODS = {"post", "put", "patch"}


def _answer(description: str, component: str) -> dict:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/%s" % component}}},
    }


_ANSWERS = {
    "400": _answer("Invalid query parameters or body; each message names the field.", "ValidationErrorAnswer"),
    "401": _answer("No credentials, or a personal token that is unknown, revoked or expired.", "ErrorDetailAnswer"),
    "403": _answer("The user's roles do not grant this action in the object's sandbox.", "ErrorDetailAnswer"),
    "404": _answer("No such object in a sandbox the user may see.", "ErrorDetailAnswer"),
    "415": _answer("The body's Content-Type is not JSON, form or multipart.", "ErrorDetailAnswer"),
}


def document_error_responses(result, generator, request, public):
    """drf-spectacular post-processing hook: add the error answers each operation can give."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas["ValidationErrorAnswer"] = _VALIDATION_ERROR
    schemas["ErrorDetailAnswer"] = _ERROR_DETAIL
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            statuses = ["400", "401", "403"]
            if "{" in path:
                statuses.append("404")
            if method in _BODY_METHODS:
                statuses.append("415")
            for status in statuses:
                operation["responses"].setdefault(status, _ANSWERS[status])
    return result
