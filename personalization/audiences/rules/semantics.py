"""
What a comparison means, in one place: both evaluators prepare leaves here, so they read a rule identically.

`prepare_comparison` turns a field leaf into a `Comparison` (typed, normalised operand) or None when the
leaf can never hold (unknown field, operator not valid for the type, malformed value). `typed_value` reads a
profile value as the field's type, or None for *no value*; `compare` applies the operator in Python. The SQL
compiler (`sql.py`) mirrors `typed_value` and `compare` per database.
"""

import datetime
import math
import re
from dataclasses import dataclass

from personalization.audiences.rules.grammar import (
    BOOLEAN,
    DATE,
    EVENT_FIELDS,
    EVENT_OPERATORS,
    MAX_WITHIN_DAYS,
    NUMBER,
    OPERATORS,
    STRING,
)

__all__ = [
    "Comparison",
    "compare",
    "is_rule_number",
    "parse_rule_date",
    "prepare_comparison",
    "prepare_event_comparison",
    "typed_value",
]

_DATE_PREFIX = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_RULE_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}\Z")


@dataclass(frozen=True)
class Comparison:
    """A prepared leaf: where the value is, how to type it, and the operator with its normalised operand."""

    path: tuple[str, ...]
    kind: str
    op: str
    operand: object = None


def is_rule_number(value) -> bool:
    """Return whether `value` is a number a rule may hold: an int or float (not bool) within the double range."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        return math.isfinite(float(value))
    except OverflowError:
        return False


def parse_rule_date(value) -> str | None:
    """Return a rule's date operand as `YYYY-MM-DD` if it is a real calendar date, else None."""
    if not isinstance(value, str) or not _RULE_DATE.match(value):
        return None
    try:
        datetime.date.fromisoformat(value)
    except ValueError:
        return None
    return value


def typed_value(value, kind: str):
    """Return a profile value read as `kind` (str, float, bool or `YYYY-MM-DD`), or None for no value."""
    if kind == STRING:
        return value if isinstance(value, str) else None
    if kind == NUMBER:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None
        try:
            number = float(value)
        except OverflowError:  # an int beyond the double range
            return None
        return number if math.isfinite(number) else None
    if kind == BOOLEAN:
        return value if isinstance(value, bool) else None
    if kind == DATE:
        if isinstance(value, str) and _DATE_PREFIX.match(value) and (len(value) == 10 or value[10] == "T"):
            return value[:10]
        return None
    return None


def _scalar(value, kind: str):
    """Return a rule operand normalised to `kind`, or None when it is not a valid operand of that kind."""
    if kind == STRING:
        # NUL cannot be stored in PostgreSQL text, so a rule string holding it can never match anything.
        return value if isinstance(value, str) and "\x00" not in value else None
    if kind == NUMBER:
        return float(value) if is_rule_number(value) else None
    if kind == BOOLEAN:
        return value if isinstance(value, bool) else None
    if kind == DATE:
        return parse_rule_date(value)
    return None


def _operand(kind: str, op: str, value, today: datetime.date):
    """Return `(ok, operand)` for an operator's value."""
    if op == "exists":
        return True, None
    if op == "in":
        if not isinstance(value, list) or not value:
            return False, None
        items = tuple(_scalar(item, kind) for item in value)
        return (None not in items), items
    if op == "between":
        if not isinstance(value, list) or len(value) != 2:
            return False, None
        low, high = (_scalar(item, kind) for item in value)
        return (low is not None and high is not None and low <= high), (low, high)
    if op == "within_last_days":
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_WITHIN_DAYS:
            return False, None
        return True, ((today - datetime.timedelta(days=value)).isoformat(), today.isoformat())
    if op in ("contains", "starts_with"):
        scalar = _scalar(value, kind)
        return bool(scalar), scalar
    scalar = _scalar(value, kind)
    return scalar is not None, scalar


def prepare_comparison(node: dict, field_types: dict, today: datetime.date) -> Comparison | None:
    """Prepare a `field` leaf, or return None when it can never hold."""
    path = node.get("field")
    kind = field_types.get(path) if isinstance(path, str) else None
    op = node.get("op")
    if kind not in OPERATORS or op not in OPERATORS[kind]:
        return None
    if op == "exists" and "value" in node:
        return None
    ok, operand = _operand(kind, op, node.get("value"), today)
    if not ok:
        return None
    # `within_last_days` is a `between` on the dates it spans.
    if op == "within_last_days":
        op = "between"
    return Comparison(path=tuple(path.split(".")), kind=kind, op=op, operand=operand)


def prepare_event_comparison(node: dict, today: datetime.date) -> Comparison | None:
    """Prepare an `event` leaf (a string comparison on the event's `xdm`), or None when it can never hold."""
    name = node.get("event")
    op = node.get("op")
    if name not in EVENT_FIELDS or op not in EVENT_OPERATORS[name]:
        return None
    ok, operand = _operand(STRING, op, node.get("value"), today)
    if not ok:
        return None
    return Comparison(path=EVENT_FIELDS[name], kind=STRING, op=op, operand=operand)


def compare(comparison: Comparison, value) -> bool:
    """Apply a prepared comparison to a raw value (from the profile or the event)."""
    typed = typed_value(value, comparison.kind)
    op, operand = comparison.op, comparison.operand
    if op == "exists":
        return typed is not None
    if typed is None:
        return False
    if op == "equals":
        return typed == operand
    if op == "not_equals":
        return typed != operand
    if op == "in":
        return typed in operand
    if op == "contains":
        return operand in typed
    if op == "starts_with":
        return typed.startswith(operand)
    if op in ("gt", "after"):
        return typed > operand
    if op == "gte":
        return typed >= operand
    if op in ("lt", "before"):
        return typed < operand
    if op == "lte":
        return typed <= operand
    if op == "between":
        return operand[0] <= typed <= operand[1]
    raise ValueError("Unknown operator %r" % op)
