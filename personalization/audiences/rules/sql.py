"""
The SQL evaluator: a rule compiled to a Django `Q` over `Profile`, for PostgreSQL and SQLite.

Each field comparison becomes one boolean SQL expression that reads the JSON value *typed* (NULL when it is
missing or of another type, mirroring `semantics.typed_value`) and is wrapped in COALESCE(..., FALSE), so a
comparison is never NULL and `NOT` is plain negation. Groups are Django's own AND/OR/NOT of `Q` objects;
constant truth values use `pk__in=[]` so Django folds them away.
"""

import datetime
import json
from decimal import Decimal

from django.db.models import BooleanField, Exists, Expression, F, OuterRef, Q
from django.utils import timezone

from personalization.audiences.models import AudienceMembership
from personalization.audiences.rules.grammar import BOOLEAN, DATE, NUMBER, STRING, audience_uuid, node_kind
from personalization.audiences.rules.semantics import Comparison, prepare_comparison

__all__ = ["rule_to_q"]

# |x| >= 2**1024 - 2**970 rounds to infinity as a double: no value (PostgreSQL would raise on the cast).
_DOUBLE_OVERFLOW = str(2**1024 - 2**970)
# |x| <= 2**-1075 rounds to zero as a double (PostgreSQL would raise "out of range" instead).
_DOUBLE_UNDERFLOW = "0." + str(5**1075).rjust(1075, "0")


def rule_to_q(rule, *, field_types: dict, today: datetime.date | None = None, prefix: str = "") -> Q:
    """
    Return a `Q` selecting the profiles that satisfy `rule`.

    `prefix` reaches the profile from another model (e.g. `"profile__"` on memberships). Event conditions
    are false here: batch evaluation has no event. Semantics: see the package docstring.
    """
    today = today or timezone.now().date()
    return _compile(rule, field_types, today, prefix)


def _always(prefix: str, value: bool) -> Q:
    never = Q(**{prefix + "pk__in": []})
    return ~never if value else never


def _compile(node, field_types, today, prefix) -> Q:
    kind = node_kind(node)
    if kind in ("all", "any"):
        children = node[kind]
        if not isinstance(children, list):
            return _always(prefix, False)
        if not children:
            return _always(prefix, kind == "all")
        # AND/OR are commutative and every compiled condition is total (never NULL, never an error), so the
        # cheap, selective checks go first and the database can skip the costly ones for most rows.
        ordered = sorted(children, key=lambda child: _cost(child, field_types))
        compiled = [_compile(child, field_types, today, prefix) for child in ordered]
        combined = compiled[0]
        for part in compiled[1:]:
            combined = (combined & part) if kind == "all" else (combined | part)
        return combined
    if kind == "not":
        return ~_compile(node["not"], field_types, today, prefix)
    if kind == "in_audience":
        audience_id = audience_uuid(node["in_audience"])
        if audience_id is None:
            return _always(prefix, False)

        memberships = AudienceMembership.objects.filter(
            profile_id=OuterRef(prefix + "pk"),
            audience_id=audience_id,
            status__in=AudienceMembership.ACTIVE_STATUSES,
        )
        return Q(Exists(memberships))
    if kind == "field":
        comparison = prepare_comparison(node, field_types, today)
        if comparison is None:
            return _always(prefix, False)
        return Q(JSONComparison(F(prefix + "attributes"), comparison))
    # Event conditions (no event in SQL) and malformed nodes never hold.
    return _always(prefix, False)


_KIND_COST = {STRING: 2, BOOLEAN: 1, DATE: 3, NUMBER: 4}


def _cost(node, field_types) -> int:
    """Estimate how costly a condition is per row, to order the conditions of a group."""
    kind = node_kind(node)
    if kind in ("all", "any"):
        return sum(_cost(child, field_types) for child in node[kind]) if isinstance(node[kind], list) else 0
    if kind == "not":
        return _cost(node["not"], field_types)
    if kind == "in_audience":
        return 8
    if kind == "field":
        field_type = field_types.get(node.get("field"))
        if field_type in (STRING, BOOLEAN) and node.get("op") in ("equals", "not_equals", "in", "exists"):
            return 1
        return _KIND_COST.get(field_type, 0)
    return 0


class JSONComparison(Expression):
    """A prepared comparison on a JSON column, as a boolean that is never NULL."""

    output_field = BooleanField()

    def __init__(self, column, comparison: Comparison):
        super().__init__()
        self.column = column
        self.comparison = comparison

    def get_source_expressions(self):
        return [self.column]

    def set_source_expressions(self, exprs):
        (self.column,) = exprs

    def as_sql(self, compiler, connection):
        raise NotImplementedError("Rules compile for PostgreSQL and SQLite only, not %s." % connection.vendor)

    # PostgreSQL ------------------------------------------------------------------------------------

    def as_postgresql(self, compiler, connection):
        column_sql, column_params = compiler.compile(self.column)
        path = self.comparison.path
        value_sql = "(%s%s)" % (column_sql, " -> %s" * len(path))
        value_params = [*column_params, *path]
        text_sql = "(%s%s ->> %%s)" % (column_sql, " -> %s" * (len(path) - 1))
        fast = _postgres_equality(self.comparison, value_sql, value_params, text_sql, value_params)
        if fast is not None:
            return fast

        def value():
            return value_sql, list(value_params)

        typed_sql, typed_params = _postgres_typed(self.comparison.kind, value)
        return _comparison_sql(self.comparison, typed_sql, typed_params, postgres=True)

    # SQLite ----------------------------------------------------------------------------------------

    def as_sqlite(self, compiler, connection):
        column_sql, column_params = compiler.compile(self.column)
        json_path = "$." + ".".join(self.comparison.path)

        def call(function):
            return "%s(%s, %%s)" % (function, column_sql), [*column_params, json_path]

        typed_sql, typed_params = _sqlite_typed(self.comparison.kind, call)
        return _comparison_sql(self.comparison, typed_sql, typed_params, postgres=False)


def _postgres_equality(comparison: Comparison, v: str, p: list, text: str, tp: list):
    """
    Equality on strings and booleans without extracting a typed value first. Strings compare as text (`->>`,
    byte-wise under the deterministic collation) with a type check after it, so "5" never equals 5 and the cheap
    text test rejects most rows first; booleans compare as jsonb. Numbers are left to the double comparison.

    Equality needs no type check when it implies the type: jsonb `= true` only holds for the boolean, and text
    equal to an operand that no other JSON type renders as (see `_renders_only_strings`) only for a string.
    """
    if comparison.kind not in (STRING, BOOLEAN) or comparison.op not in ("equals", "not_equals", "in"):
        return None
    if comparison.kind == BOOLEAN:
        operand = json.dumps(comparison.operand)
        if comparison.op == "equals":
            return "COALESCE((%s = %%s::jsonb), FALSE)" % v, [*p, operand]
        return "COALESCE((%s <> %%s::jsonb AND jsonb_typeof(%s) = 'boolean'), FALSE)" % (v, v), [*p, operand, *p]
    operands = comparison.operand if comparison.op == "in" else [comparison.operand]
    typed = comparison.op != "not_equals" and all(_renders_only_strings(operand) for operand in operands)
    is_string, string_params = ("", []) if typed else (" AND jsonb_typeof(%s) = 'string'" % v, p)
    if comparison.op == "in":
        sql = "%s IN (%s)%s" % (text, ", ".join(["%s"] * len(operands)), is_string)
        return "COALESCE((%s), FALSE)" % sql, [*tp, *operands, *string_params]
    symbol = "=" if comparison.op == "equals" else "<>"
    return "COALESCE((%s %s %%s%s), FALSE)" % (text, symbol, is_string), [*tp, comparison.operand, *string_params]


def _renders_only_strings(operand: str) -> bool:
    """
    Return whether `->>` can yield `operand` for a JSON string only: numbers render as digits (with a leading
    `-`), booleans as `true`/`false`, objects and arrays from `{` or `[`, and null as SQL NULL.
    """
    return operand not in ("true", "false") and operand[:1] not in set("-0123456789{[")


def _postgres_typed(kind: str, value):
    v, p = value()
    if kind == NUMBER:
        numeric = "(%s)::numeric" % v
        # The common magnitudes take the first branch; only extreme ones pay for the exact range checks.
        sql = (
            "CASE WHEN jsonb_typeof({v}) = 'number' THEN (CASE WHEN abs({n}) BETWEEN 1e-300 AND 1e300 "
            "THEN ({n})::float8 WHEN abs({n}) >= %s::numeric THEN NULL "
            "WHEN abs({n}) <= %s::numeric THEN 0::float8 ELSE ({n})::float8 END) END"
        ).format(v=v, n=numeric)
        return sql, [*p, *p, *p, *p, _DOUBLE_OVERFLOW, *p, _DOUBLE_UNDERFLOW, *p]
    if kind == BOOLEAN:
        return "CASE WHEN jsonb_typeof({v}) = 'boolean' THEN ({v})::boolean END".format(v=v), [*p, *p]
    if kind == DATE:
        text = "(%s #>> '{}')" % v
        sql = (
            "CASE WHEN jsonb_typeof({v}) = 'string' AND {t} ~ '^[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}(T|$)' "
            "THEN left({t}, 10) END"
        ).format(v=v, t=text)
        return sql, [*p, *p, *p]
    return "CASE WHEN jsonb_typeof({v}) = 'string' THEN ({v} #>> '{{}}') END".format(v=v), [*p, *p]


def _sqlite_typed(kind: str, call):
    type_sql, p = call("json_type")
    extract_sql, _p = call("json_extract")
    if kind == NUMBER:
        real = "CAST(%s AS REAL)" % extract_sql
        # 9e999 is how SQLite writes infinity: huge JSON integers become it.
        sql = "CASE WHEN %s IN ('integer', 'real') AND abs(%s) < 9e999 THEN %s END" % (type_sql, real, real)
        return sql, [*p, *p, *p]
    if kind == BOOLEAN:
        return "CASE %s WHEN 'true' THEN 1 WHEN 'false' THEN 0 END" % type_sql, p
    if kind == DATE:
        sql = (
            "CASE WHEN {ty} = 'text' AND substr({x}, 1, 10) GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]' "
            "AND (length({x}) = 10 OR substr({x}, 11, 1) = 'T') THEN substr({x}, 1, 10) END"
        ).format(ty=type_sql, x=extract_sql)
        return sql, [*p, *p, *p, *p, *p]
    return "CASE WHEN %s = 'text' THEN %s END" % (type_sql, extract_sql), [*p, *p]


def _comparison_sql(comparison: Comparison, typed_sql: str, typed_params: list, *, postgres: bool):
    op, operand = comparison.op, comparison.operand
    t, tp = "(%s)" % typed_sql, list(typed_params)
    if comparison.kind == DATE and postgres and op != "exists":
        t = '%s COLLATE "C"' % t
    if op == "exists":
        sql, params = "%s IS NOT NULL" % t, tp
    elif op == "equals":
        sql, params = "%s = %%s" % t, [*tp, _param(operand)]
    elif op == "not_equals":
        sql, params = "%s <> %%s" % t, [*tp, _param(operand)]
    elif op == "in":
        sql, params = "%s IN (%s)" % (t, ", ".join(["%s"] * len(operand))), [*tp, *map(_param, operand)]
    elif op == "contains":
        function = "strpos" if postgres else "instr"
        sql, params = "%s(%s, %%s) > 0" % (function, t), [*tp, operand]
    elif op == "starts_with":
        if postgres:
            sql, params = "starts_with(%s, %%s)" % t, [*tp, operand]
        else:
            sql, params = "substr(%s, 1, %%s) = %%s" % t, [*tp, len(operand), operand]
    elif op == "between":
        sql, params = "%s BETWEEN %%s AND %%s" % t, [*tp, _param(operand[0]), _param(operand[1])]
    else:
        symbol = {"gt": ">", "after": ">", "gte": ">=", "lt": "<", "before": "<", "lte": "<="}[op]
        sql, params = "%s %s %%s" % (t, symbol), [*tp, _param(operand)]
    false = "FALSE" if postgres else "0"
    return "COALESCE((%s), %s)" % (sql, false), params


def _param(value):
    # Floats go as floats (never Decimal): both databases then compare doubles, as the in-memory evaluator does.
    if isinstance(value, Decimal):
        return float(value)
    return value
