"""The in-memory evaluator: one profile (plus, at the edge, the request's event) against a rule."""

import datetime

from django.utils import timezone

from personalization.audiences.rules.grammar import audience_uuid, node_kind
from personalization.audiences.rules.semantics import compare, prepare_comparison, prepare_event_comparison

__all__ = ["rule_matches", "value_at"]

_MISSING = object()


def value_at(document, path: tuple[str, ...]):
    """Return the value at `path` in nested objects, or `_MISSING` when any part is absent or not an object."""
    value = document
    for part in path:
        if not isinstance(value, dict) or part not in value:
            return _MISSING
        value = value[part]
    return value


def rule_matches(
    rule,
    *,
    attributes: dict,
    field_types: dict,
    audiences=(),
    event: dict | None = None,
    today: datetime.date | None = None,
) -> bool:
    """
    Return whether a profile satisfies `rule`.

    `attributes` is the profile's JSON, `audiences` the ids (strings) of audiences it is an active member of,
    `event` the request event's `xdm` object (None outside the edge). Semantics: see the package docstring.
    """
    today = today or timezone.now().date()
    member_of = {str(audience_uuid(audience)) for audience in audiences}
    return _matches(rule, attributes, field_types, member_of, event, today)


def _matches(node, attributes, field_types, member_of, event, today) -> bool:
    kind = node_kind(node)
    if kind in ("all", "any") and not isinstance(node[kind], list):
        return False
    if kind == "all":
        return all(_matches(child, attributes, field_types, member_of, event, today) for child in node["all"])
    if kind == "any":
        return any(_matches(child, attributes, field_types, member_of, event, today) for child in node["any"])
    if kind == "not":
        return not _matches(node["not"], attributes, field_types, member_of, event, today)
    if kind == "in_audience":
        audience_id = audience_uuid(node["in_audience"])
        return audience_id is not None and str(audience_id) in member_of
    if kind == "field":
        comparison = prepare_comparison(node, field_types, today)
        return comparison is not None and compare(comparison, value_at(attributes, comparison.path))
    if kind == "event":
        comparison = prepare_event_comparison(node, today)
        if comparison is None or not isinstance(event, dict):
            return False
        return compare(comparison, value_at(event, comparison.path))
    return False
