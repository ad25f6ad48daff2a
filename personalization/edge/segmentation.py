"""
Same-page segmentation from the warm store: edge audiences evaluated in memory on each lookup.

On a datastream with edge segmentation on, its config carries the rules of the published edge audiences
activated on it (`edge_rules`, in dependency order) and the types of the profile fields they compare
(`edge_fields`); `load_edge_rules` reads them when the config is loaded. A lookup then evaluates them with the
audiences' in-memory evaluator on the profile facts the store holds (attributes and live memberships) plus the
request event's `xdm`: no query. Each rule is walked once per config version (`compile_rule`, built from the
same leaf preparation and comparison functions as `rules.rule_matches`, and tested to agree with it), so a
lookup only compares values. Only when a visitor
newly qualifies does the lookup go to PostgreSQL, through `audiences.evaluation.edge_qualify`, which evaluates
those audiences again on the database's profile, writes the memberships, and returns the profile the answer is
then built from (and the store refreshed with), as before this module existed.

Like `edge_qualify`, a lookup only adds memberships: exits are left to streaming and batch evaluation.
"""

import datetime

from personalization.audiences.models import Audience
from personalization.audiences.rules import audience_references, field_paths, field_types_for
from personalization.audiences.rules.grammar import audience_uuid, node_kind
from personalization.audiences.rules.memory import value_at
from personalization.audiences.rules.semantics import compare, prepare_comparison, prepare_event_comparison
from personalization.edge.projection import serving_plan

__all__ = ["compile_rule", "load_edge_rules", "qualify", "served_edge_rules"]

# Per-process: the edge audiences served at a moment, compiled, per config version and day, until the next
# schedule boundary. Kept here, not on the config, so the shared config holds only what every process reads alike.
_SERVED: dict[tuple, tuple[float, float, tuple]] = {}
_SERVED_LIMIT = 256


def load_edge_rules(sandbox_id, audience_ids) -> dict:
    """
    Return `{"edge_rules": [[audience id, rule], ...], "edge_fields": {path: type}}` for the published edge
    audiences among `audience_ids`, ordered so that an audience another one includes (`in_audience`) comes
    first. Two queries (the audiences, then the schema when any was found).
    """
    if not audience_ids:
        return {"edge_rules": [], "edge_fields": {}}
    rows = list(
        Audience.objects.filter(
            sandbox_id=sandbox_id,
            pk__in=list(audience_ids),
            origin=Audience.Origin.SEGMENTATION,
            status=Audience.Status.PUBLISHED,
            evaluation=Audience.Evaluation.EDGE,
            rule__isnull=False,
        )
        .order_by("name", "pk")
        .values_list("pk", "rule")
    )
    if not rows:
        return {"edge_rules": [], "edge_fields": {}}
    ordered = _dependency_order([(str(pk), rule) for pk, rule in rows])
    paths = set().union(*(field_paths(rule) for _id, rule in ordered))
    types = field_types_for(sandbox_id) if paths else {}
    return {
        "edge_rules": [[audience_id, rule] for audience_id, rule in ordered],
        "edge_fields": {path: kind for path, kind in sorted(types.items()) if path in paths},
    }


def _dependency_order(rules: list[tuple[str, dict]]) -> list[tuple[str, dict]]:
    """Order `(id, rule)` pairs so that those included by others come first (as `edge_qualify` evaluates them)."""
    by_id = dict(rules)
    ordered, seen = [], set()

    def visit(audience_id):
        seen.add(audience_id)
        for reference in sorted(audience_references(by_id[audience_id])):
            if reference in by_id and reference not in seen:
                visit(reference)
        ordered.append((audience_id, by_id[audience_id]))

    for audience_id, _rule in rules:
        if audience_id not in seen:
            visit(audience_id)
    return ordered


def _never(attributes, member_of, event) -> bool:
    return False


def compile_rule(rule, *, field_types: dict, today: datetime.date):
    """
    Return `matches(attributes, member_of, event) -> bool` for `rule`: the in-memory evaluator's walk
    (`rules.memory.rule_matches`) done once, its leaves prepared once with the same `rules.semantics`
    functions, so a lookup only compares. `member_of` holds canonical audience id strings.
    """
    kind = node_kind(rule)
    if kind in ("all", "any"):
        if not isinstance(rule[kind], list):
            return _never
        children = tuple(compile_rule(child, field_types=field_types, today=today) for child in rule[kind])
        if len(children) == 1:
            return children[0]
        if len(children) == 2:  # the common case, without a generator per call
            first, second = children
            if kind == "all":
                return lambda attributes, member_of, event: (
                    first(attributes, member_of, event) and second(attributes, member_of, event)
                )
            return lambda attributes, member_of, event: (
                first(attributes, member_of, event) or second(attributes, member_of, event)
            )
        if kind == "all":
            return lambda attributes, member_of, event: all(child(attributes, member_of, event) for child in children)
        return lambda attributes, member_of, event: any(child(attributes, member_of, event) for child in children)
    if kind == "not":
        child = compile_rule(rule["not"], field_types=field_types, today=today)
        return lambda attributes, member_of, event: not child(attributes, member_of, event)
    if kind == "in_audience":
        audience_id = audience_uuid(rule["in_audience"])
        if audience_id is None:
            return _never
        reference = str(audience_id)
        return lambda attributes, member_of, event: reference in member_of
    if kind == "field":
        comparison = prepare_comparison(rule, field_types, today)
        if comparison is None:
            return _never
        path = comparison.path
        return lambda attributes, member_of, event: compare(comparison, value_at(attributes, path))
    if kind == "event":
        comparison = prepare_event_comparison(rule, today)
        if comparison is None:
            return _never
        path = comparison.path
        return lambda attributes, member_of, event: (
            isinstance(event, dict) and compare(comparison, value_at(event, path))
        )
    return _never


def served_edge_rules(config: dict, now: float) -> tuple:
    """
    Return `((audience id, matches), ...)` for the edge audiences the datastream serves at `now` (published,
    unexpired, inside an activation's window), compiled (`compile_rule`) for the day of `now`, memoised per
    config version until the next schedule boundary or midnight.
    """
    rules = config.get("edge_rules")
    if not rules:
        return ()
    today = datetime.datetime.fromtimestamp(now, datetime.UTC).date()
    version = config.get("version")
    key = (version, today)
    memo = _SERVED.get(key) if version is not None else None
    if memo is not None and memo[0] <= now < memo[1]:
        return memo[2]
    plan, until = serving_plan(config, now)
    served = {audience for _destination, audiences in plan for audience in audiences}
    field_types = config["edge_fields"]
    result = tuple(
        (audience_id, compile_rule(rule, field_types=field_types, today=today))
        for audience_id, rule in rules
        if audience_id in served
    )
    if version is not None:
        if len(_SERVED) >= _SERVED_LIMIT:
            _SERVED.clear()
        _SERVED[key] = (now, until, result)
    return result


def qualify(config: dict, *, attributes: dict, audiences, event, now: float) -> list[str]:
    """
    Return the ids of the edge audiences served here that a visitor with these `attributes` and live
    `audiences` (canonical id strings) newly qualifies for with this request's `event` (its `xdm`), in
    evaluation order; no query.
    """
    served = served_edge_rules(config, now)
    if not served:
        return []
    event = event if isinstance(event, dict) else {}
    member_of = set(audiences)
    qualified = []
    for audience_id, matches in served:
        if audience_id not in member_of and matches(attributes, member_of, event):
            member_of.add(audience_id)
            qualified.append(audience_id)
    return qualified
