"""
Rule validation: every problem at once, each message starting with its path in the tree (`all[1].value`).

Reads the sandbox's profile fields and audiences (three queries at most, whatever the rule's size).
"""

import difflib
import json
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from personalization.audiences.models import Audience
from personalization.audiences.rules.eligibility import edge_eligibility
from personalization.audiences.rules.grammar import (
    DATE,
    EVENT_OPERATORS,
    GROUP_KEYS,
    LEAF_KEYS,
    MAX_DEPTH,
    MAX_IN_VALUES,
    MAX_NODES,
    MAX_WITHIN_DAYS,
    NUMBER,
    OPERATORS,
    STRING,
    audience_uuid,
)
from personalization.audiences.rules.references import audience_graph, graph_names, path_to
from personalization.audiences.rules.semantics import is_rule_number, parse_rule_date
from personalization.profiles.models import ProfileField

__all__ = ["RuleError", "check_rule", "validate_rule"]

EDGE = "edge"
_LEAF_KEYS_ALLOWED = {
    "field": {"field", "op", "value"},
    "event": {"event", "op", "value"},
    "in_audience": {"in_audience"},
}
_TYPE_NOUNS = {
    STRING: gettext_lazy("a string"),
    NUMBER: gettext_lazy("a number"),
    "boolean": gettext_lazy("true or false"),
    DATE: gettext_lazy("a date"),
}


@dataclass(frozen=True)
class RuleError:
    """One problem in a rule: where (`path`, `""` for the whole rule), what (`message`), and a stable `code`."""

    path: str
    message: str
    code: str


def _describe(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return _("the string %s") % json.dumps(value, ensure_ascii=False)
    if isinstance(value, int | float):
        return _("the number %s") % json.dumps(value)
    if isinstance(value, list):
        return _("a list")
    return _("an object")


def _at(path: str, key: str | None = None) -> str:
    if key is None:
        return path or "rule"
    return "%s.%s" % (path, key) if path else key


class _Validator:
    def __init__(self, *, sandbox_id, evaluation: str, audience_id):
        self.sandbox_id = sandbox_id
        self.evaluation = evaluation
        self.audience_id = str(audience_id) if audience_id else None
        self.fields = dict(ProfileField.objects.filter(sandbox_id=sandbox_id).values_list("path", "field_type"))
        self.errors: list[RuleError] = []
        self.nodes = 0
        self.references: list[tuple[str, str]] = []

    def error(self, path: str, message: str, code: str) -> None:
        self.errors.append(RuleError(path=path, message="%s: %s" % (path or "rule", message), code=code))

    # Tree ------------------------------------------------------------------------------------------

    def node(self, node, path: str, depth: int) -> None:
        self.nodes += 1
        if depth > MAX_DEPTH:
            self.error(
                path,
                _("conditions nest deeper than %(limit)d levels; flatten the rule.") % {"limit": MAX_DEPTH},
                "too_deep",
            )
            return
        if not isinstance(node, dict):
            self.error(
                path,
                _('a condition must be a JSON object such as {"field": …, "op": …, "value": …}, not %(value)s.')
                % {"value": _describe(node)},
                "not_an_object",
            )
            return
        kinds = [key for key in (*GROUP_KEYS, *LEAF_KEYS) if key in node]
        if len(kinds) != 1:
            found = ", ".join(sorted(node)) or _("no keys")
            self.error(
                path,
                _("a condition needs exactly one of all, any, not, field, in_audience or event; found %(keys)s.")
                % {"keys": found},
                "invalid_condition",
            )
            return
        kind = kinds[0]
        allowed = {kind} if kind in GROUP_KEYS else _LEAF_KEYS_ALLOWED[kind]
        for key in sorted(set(node) - allowed):
            self.error(
                _at(path, key),
                _("unknown key; a %(kind)s condition takes only %(allowed)s.")
                % {"kind": kind, "allowed": ", ".join(sorted(allowed))},
                "unknown_key",
            )
        getattr(self, "_" + kind)(node, path, depth)

    def _all(self, node, path, depth, kind="all"):
        children = node[kind]
        if not isinstance(children, list):
            self.error(
                _at(path, kind),
                _("must be a list of conditions, not %(value)s.") % {"value": _describe(children)},
                "not_a_list",
            )
            return
        for index, child in enumerate(children):
            self.node(child, "%s[%d]" % (_at(path, kind), index), depth + 1)

    def _any(self, node, path, depth):
        self._all(node, path, depth, kind="any")

    def _not(self, node, path, depth):
        self.node(node["not"], _at(path, "not"), depth + 1)

    # Leaves ----------------------------------------------------------------------------------------

    def _in_audience(self, node, path, depth):
        at = _at(path, "in_audience")
        reference = audience_uuid(node["in_audience"])
        if reference is None:
            self.error(
                at,
                _("%(value)s is not an audience id (a UUID).") % {"value": _describe(node["in_audience"])},
                "invalid_audience",
            )
            return
        self.references.append((at, str(reference)))

    def _event(self, node, path, depth):
        name = node["event"]
        if self.evaluation != EDGE:
            self.error(
                path,
                _(
                    "conditions on the request's event need the edge evaluation method; %(evaluation)s evaluation "
                    "has no event to look at."
                )
                % {"evaluation": self.evaluation},
                "event_not_allowed",
            )
        if name not in EVENT_OPERATORS:
            self.error(
                _at(path, "event"),
                _("unknown event field %(value)s; use %(known)s.")
                % {"value": _describe(name), "known": " or ".join(EVENT_OPERATORS)},
                "unknown_event_field",
            )
            return
        self._operator_and_value(node, path, name, STRING, EVENT_OPERATORS[name], _("the event field %s") % name)

    def _field(self, node, path, depth):
        name = node["field"]
        at = _at(path, "field")
        if not isinstance(name, str):
            self.error(
                at,
                _("must be a profile field path such as loyalty.status, not %(value)s.") % {"value": _describe(name)},
                "invalid_field",
            )
            return
        field_type = self.fields.get(name)
        if field_type is None:
            close = difflib.get_close_matches(name, list(self.fields), n=1)
            hint = _(" Did you mean %s?") % close[0] if close else ""
            self.error(
                at,
                _("no profile field %(path)s in this sandbox; add it to the profile schema first.%(hint)s")
                % {"path": name, "hint": hint},
                "unknown_field",
            )
            return
        if field_type not in OPERATORS:
            self.error(
                at,
                _("%(path)s is a%(type)s field; rules can only compare string, number, boolean and date fields.")
                % {"path": name, "type": "n " + field_type if field_type[0] in "aeiou" else " " + field_type},
                "non_scalar_field",
            )
            return
        self._operator_and_value(
            node, path, field_type, field_type, OPERATORS[field_type], "%s (a %s field)" % (name, field_type)
        )

    def _operator_and_value(self, node, path, subject_key, kind, operators, subject):
        op = node.get("op")
        if op not in operators:
            self.error(
                _at(path, "op"),
                _("%(op)s does not apply to %(subject)s; use one of %(ops)s.")
                % {
                    "op": _describe(op) if not isinstance(op, str) else op,
                    "subject": subject,
                    "ops": ", ".join(operators),
                },
                "invalid_operator",
            )
            return
        at = _at(path, "value")
        if op == "exists":
            if "value" in node:
                self.error(
                    at,
                    _('exists takes no value; remove it (wrap the condition in not for "has no value").'),
                    "unexpected_value",
                )
            return
        if "value" not in node:
            self.error(at, _("%(op)s needs a value.") % {"op": op}, "missing_value")
            return
        value = node["value"]
        if op == "in":
            if not isinstance(value, list) or not value or len(value) > MAX_IN_VALUES:
                self.error(
                    at,
                    _("in needs a list of 1 to %(limit)d values of %(subject)s, not %(value)s.")
                    % {"limit": MAX_IN_VALUES, "subject": subject, "value": _describe(value)},
                    "invalid_value",
                )
                return
            for index, item in enumerate(value):
                self._scalar("%s[%d]" % (at, index), item, kind, subject)
        elif op == "between":
            if not isinstance(value, list) or len(value) != 2:
                self.error(
                    at,
                    _("between needs a list of two values [low, high], not %(value)s.") % {"value": _describe(value)},
                    "invalid_value",
                )
                return
            ok = [self._scalar("%s[%d]" % (at, index), item, kind, subject) for index, item in enumerate(value)]
            if all(ok) and _as_comparable(value[0], kind) > _as_comparable(value[1], kind):
                self.error(
                    at,
                    _("the low end %(low)s is above the high end %(high)s.")
                    % {"low": json.dumps(value[0]), "high": json.dumps(value[1])},
                    "invalid_range",
                )
        elif op == "within_last_days":
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_WITHIN_DAYS:
                self.error(
                    at,
                    _("within_last_days needs a whole number of days from 1 to %(limit)d, not %(value)s.")
                    % {"limit": MAX_WITHIN_DAYS, "value": _describe(value)},
                    "invalid_value",
                )
        elif op in ("contains", "starts_with"):
            if self._scalar(at, value, kind, subject) and value == "":
                self.error(at, _("%(op)s needs a non-empty string.") % {"op": op}, "invalid_value")
        else:
            self._scalar(at, value, kind, subject)

    def _scalar(self, at, value, kind, subject) -> bool:
        if (
            kind == NUMBER
            and not isinstance(value, bool)
            and isinstance(value, int | float)
            and not is_rule_number(value)
        ):
            self.error(
                at,
                _("%(value)s is outside the range of numbers rules compare (about ±1.8e308).")
                % {"value": _describe(value)},
                "number_out_of_range",
            )
            return False
        if kind == DATE and isinstance(value, str):
            if parse_rule_date(value) is None:
                self.error(
                    at,
                    _("%(value)s is not a date; write it as YYYY-MM-DD, e.g. 2024-03-31.")
                    % {"value": json.dumps(value, ensure_ascii=False)},
                    "invalid_date",
                )
                return False
            return True
        if kind == STRING and isinstance(value, str) and "\x00" in value:
            self.error(at, _("strings in rules cannot contain the NUL character (U+0000)."), "invalid_character")
            return False
        valid = {
            STRING: isinstance(value, str),
            NUMBER: is_rule_number(value),
            "boolean": isinstance(value, bool),
            DATE: False,
        }[kind]
        if not valid:
            self.error(
                at,
                _("%(subject)s takes %(noun)s, not %(value)s.")
                % {"subject": subject, "noun": _TYPE_NOUNS[kind], "value": _describe(value)},
                "wrong_type",
            )
        return valid

    # Audiences -------------------------------------------------------------------------------------

    def check_references(self, rule) -> None:
        if not self.references:
            return

        known = {
            str(row["pk"]): row
            for row in Audience.objects.filter(
                sandbox_id=self.sandbox_id, pk__in={ref for _a, ref in self.references}
            ).values("pk", "name")
        }
        graph = None
        for at, reference in self.references:
            if reference == self.audience_id:
                self.error(at, _("an audience cannot include itself."), "audience_cycle")
            elif reference not in known:
                self.error(
                    at, _("no audience with the id %(id)s in this sandbox.") % {"id": reference}, "unknown_audience"
                )
            elif self.audience_id:
                graph = graph if graph is not None else audience_graph(self.sandbox_id, self.audience_id, rule)
                cycle = path_to(graph, reference, self.audience_id)
                if cycle:
                    names = [graph_names(graph, pk) for pk in cycle]
                    self.error(
                        at,
                        _(
                            "%(chain)s → this audience makes a cycle; an audience cannot include itself through "
                            "other audiences."
                        )
                        % {"chain": " → ".join(names)},
                        "audience_cycle",
                    )


def _as_comparable(value, kind):
    return float(value) if kind == NUMBER else value


def validate_rule(rule, *, sandbox_id, evaluation: str, audience_id=None) -> list[RuleError]:
    """
    Return every problem of `rule` for an audience of `sandbox_id` with the given evaluation method.

    Checks the tree's shape and limits, fields (known, scalar), operators for each type, values, event
    conditions (edge only), `in_audience` references (same sandbox, no cycles through `audience_id`), and for
    edge evaluation the edge eligibility. An empty list means the rule is valid.
    """
    validator = _Validator(sandbox_id=sandbox_id, evaluation=evaluation, audience_id=audience_id)
    validator.node(rule, "", 0)
    if validator.nodes > MAX_NODES:
        validator.error(
            "",
            _("the rule has %(count)d conditions; the limit is %(limit)d.")
            % {"count": validator.nodes, "limit": MAX_NODES},
            "too_many_conditions",
        )
    validator.check_references(rule)
    if evaluation == EDGE and not validator.errors:
        eligibility = edge_eligibility(rule, sandbox_id=sandbox_id)
        if not eligibility.eligible:
            validator.error(
                "",
                _("not eligible for edge evaluation. %(reason)s Use batch or streaming instead.")
                % {"reason": eligibility.reason},
                "edge_ineligible",
            )
    return validator.errors


def check_rule(rule, *, sandbox_id, evaluation: str, audience_id=None, field: str = "rule") -> None:
    """Raise `ValidationError({field: [...]})` listing every problem of `rule`; return quietly when valid."""
    errors = validate_rule(rule, sandbox_id=sandbox_id, evaluation=evaluation, audience_id=audience_id)
    if errors:
        raise ValidationError({field: [ValidationError(error.message, code=error.code) for error in errors]})
