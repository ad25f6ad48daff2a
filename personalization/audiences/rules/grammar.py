"""The rule vocabulary (node kinds, operators per type, event fields, limits) and walks over a tree."""

import uuid
from collections.abc import Iterator

__all__ = [
    "EVENT_FIELDS",
    "EVENT_OPERATORS",
    "GROUP_KEYS",
    "LEAF_KEYS",
    "MAX_DEPTH",
    "MAX_IN_VALUES",
    "MAX_NODES",
    "MAX_WITHIN_DAYS",
    "OPERATORS",
    "audience_references",
    "audience_uuid",
    "field_paths",
    "iter_nodes",
    "node_kind",
    "uses_events",
]

STRING, NUMBER, BOOLEAN, DATE = "string", "number", "boolean", "date"

OPERATORS: dict[str, tuple[str, ...]] = {
    STRING: ("equals", "not_equals", "in", "contains", "starts_with", "exists"),
    NUMBER: ("equals", "not_equals", "in", "gt", "gte", "lt", "lte", "between", "exists"),
    BOOLEAN: ("equals", "exists"),
    DATE: ("equals", "before", "after", "between", "within_last_days", "exists"),
}

# Event fields, addressed by their path in the event's `xdm` object; their values are strings.
EVENT_FIELDS: dict[str, tuple[str, ...]] = {
    "eventType": ("eventType",),
    "web.webPageDetails.URL": ("web", "webPageDetails", "URL"),
}
EVENT_OPERATORS: dict[str, tuple[str, ...]] = {
    "eventType": ("equals", "in"),
    "web.webPageDetails.URL": ("equals", "contains", "starts_with"),
}

GROUP_KEYS = ("all", "any", "not")
LEAF_KEYS = ("field", "in_audience", "event")

MAX_DEPTH = 10
MAX_NODES = 200
MAX_IN_VALUES = 500
MAX_WITHIN_DAYS = 36500


def node_kind(node) -> str | None:
    """Return the node's kind (`all`, `any`, `not`, `field`, `in_audience`, `event`), or None if it has none."""
    if not isinstance(node, dict):
        return None
    kinds = [key for key in (*GROUP_KEYS, *LEAF_KEYS) if key in node]
    return kinds[0] if len(kinds) == 1 else None


def iter_nodes(rule, path: str = "") -> Iterator[tuple[str, dict]]:
    """Yield `(path, node)` for every well-formed node, depth first; malformed parts are skipped."""
    kind = node_kind(rule)
    if kind is None:
        return
    yield path, rule
    if kind in ("all", "any") and isinstance(rule[kind], list):
        for index, child in enumerate(rule[kind]):
            yield from iter_nodes(child, "%s%s[%d]" % (_dot(path), kind, index))
    elif kind == "not":
        yield from iter_nodes(rule["not"], "%snot" % _dot(path))


def _dot(path: str) -> str:
    return path + "." if path else ""


def audience_uuid(value) -> uuid.UUID | None:
    """Return an `in_audience` reference as a UUID, or None when it is not one."""
    if isinstance(value, uuid.UUID):
        return value
    if not isinstance(value, str):
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


def audience_references(rule) -> set[str]:
    """Return the audience ids (canonical UUID strings) the rule names in `in_audience`; malformed ones are left out."""
    references = (
        audience_uuid(node["in_audience"]) for _path, node in iter_nodes(rule) if node_kind(node) == "in_audience"
    )
    return {str(reference) for reference in references if reference is not None}


def uses_events(rule) -> bool:
    """Return whether the rule has any condition on the request's event."""
    return any(node_kind(node) == "event" for _path, node in iter_nodes(rule))


def field_paths(rule) -> set[str]:
    """Return the profile field paths the rule compares."""
    return {
        node["field"]
        for _path, node in iter_nodes(rule)
        if node_kind(node) == "field" and isinstance(node["field"], str)
    }
