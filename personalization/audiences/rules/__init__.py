"""
The audience rule language: a JSON condition tree, its validation, a one-line rendering, edge eligibility,
and two evaluators that agree on every input (SQL for batch, in-memory for streaming and edge).

Format
------
A rule is one node. Group nodes combine other nodes::

    {"all": [node, ...]}      every child holds (an empty list holds for everyone)
    {"any": [node, ...]}      at least one child holds (an empty list holds for no one)
    {"not": node}             the child does not hold (plain negation of the whole subtree)

Leaf nodes::

    {"field": "loyalty.points", "op": "gt", "value": 100}            a ProfileField comparison
    {"field": "loyalty.points", "op": "exists"}                        `exists` takes no value
    {"in_audience": "<audience uuid>"}                                 an active membership (realized/existing)
    {"event": "eventType", "op": "equals", "value": "commerce.checkouts"}          the current request's event
    {"event": "web.webPageDetails.URL", "op": "contains", "value": "/checkout"}     (edge rules only)

Operators by ProfileField type (`OPERATORS`)::

    string   equals, not_equals, in, contains, starts_with, exists
    number   equals, not_equals, in, gt, gte, lt, lte, between, exists
    boolean  equals, exists
    date     equals, before, after, between, within_last_days, exists

Values: `in` takes a non-empty list of the field's type; `between` a `[low, high]` pair (both ends included);
`within_last_days` a whole number of days (1–36500); dates are `"YYYY-MM-DD"` strings; every other operator
takes one value of the field's type. Event fields (`EVENT_OPERATORS`): `eventType` takes equals/in,
`web.webPageDetails.URL` takes equals/contains/starts_with.

Semantics (both evaluators implement exactly this; tests/audiences/test_rules_property.py proves it)
----------------------------------------------------------------------------------------------------
- A comparison sees a profile value only when it is of the field's type: a string for string fields, a JSON
  number (not a boolean) for number fields, `true`/`false` for boolean fields, and for date fields a string
  that starts with `YYYY-MM-DD` and is exactly that or continues with `T` (an ISO date-time: its date part
  counts). A missing key, `null`, an object, an array or a value of another type counts as *no value*.
- Every comparison on *no value* is false; that includes `not_equals` (a profile without a country is not
  "not equal to DE": it has no country). `exists` is true exactly when there is a value. Write
  `{"not": {... "op": "equals" ...}}` to include profiles without a value.
- Numbers compare as IEEE-754 doubles, like JSON in JavaScript: the profile's number and the rule's are each
  rounded to the nearest double first, so 5 equals 5.0, -0.0 equals 0, and 2**53 + 1 equals 2**53. A profile
  number beyond the double range (|x| >= 2**1024 - 2**970, e.g. 1e400) is no value. The string "5" is not
  a number. (SQLite parses integers of more than 19 significant digits itself and may round them differently
  in the last place; PostgreSQL, the production database, rounds exactly like Python.)
- Strings compare exactly and case-sensitively by Unicode code point (no normalisation); `contains` and
  `starts_with` too. Dates compare by their `YYYY-MM-DD` text, which orders them chronologically.
- `within_last_days: n` holds for dates from `today - n` to `today` inclusive; `today` is a parameter of
  both evaluators (default: the current UTC date), so a run is consistent.
- `in_audience` holds when the profile's membership in that audience is `realized` or `existing` *now*;
  evaluating a rule never evaluates the referenced audience.
- An event condition holds only when an event is given and its value (a string) matches; without an event
  (batch and streaming evaluation) it is false. A comparison on a field that is no longer in the schema, or
  whose type changed so the operator no longer applies, is false (validation reports it on the next save).

Public API
----------
Validation and text (read the database for the sandbox's fields and audiences):

- `validate_rule(rule, *, sandbox_id, evaluation, audience_id=None) -> list[RuleError]`: every problem, each
  with its `path` in the tree (e.g. `all[1].value`), a `message` that starts with that path, and a `code`.
- `check_rule(...)`: the same, raising `ValidationError({"rule": [...]})` (used by `Audience.clean()`).
- `render_rule(rule, *, audience_names=None) -> str` and `describe_rule(rule, *, sandbox_id) -> str`:
  one line, e.g. `loyalty.status equals "gold" and (homeAddress.countryCode in ["DE", "AT"] or not in
  audience "VIP")`.
- `edge_eligibility(rule, *, sandbox_id) -> Eligibility(eligible, reason)`.

Evaluation (pure given the schema; `field_types` is `{path: type}`, see `field_types_for(sandbox_id)`):

- `rule_to_q(rule, *, field_types, today=None, prefix="") -> Q` over `Profile` (or a model reaching the
  profile through `prefix`, e.g. `"profile__"`); works on PostgreSQL and SQLite.
- `rule_matches(rule, *, attributes, field_types, audiences=(), event=None, today=None) -> bool` for one
  profile's attributes, its active audience ids (strings) and optionally the event's `xdm` object.

Helpers: `audience_references(rule)`, `uses_events(rule)`, `field_paths(rule)`, `OPERATORS`,
`EVENT_OPERATORS`, `MAX_DEPTH`, `MAX_NODES`.

`Audience.clean()` calls `check_rule`, so forms, the API and services reject a rule with the same messages;
`Audience.rule_text` is `describe_rule` for the audience. Evaluation runs live in
`personalization.audiences.evaluation` (batch `audience_evaluate`, streaming `profile_streaming_evaluate`,
edge `edge_qualify`); queueing one goes through `services.audience_evaluation_enqueue`.
"""

from personalization.audiences.rules.eligibility import Eligibility, edge_eligibility
from personalization.audiences.rules.grammar import (
    EVENT_OPERATORS,
    MAX_DEPTH,
    MAX_NODES,
    OPERATORS,
    audience_references,
    field_paths,
    uses_events,
)
from personalization.audiences.rules.memory import rule_matches
from personalization.audiences.rules.render import describe_rule, render_rule
from personalization.audiences.rules.schema import field_types_for
from personalization.audiences.rules.sql import rule_to_q
from personalization.audiences.rules.validation import RuleError, check_rule, validate_rule

__all__ = [
    "EVENT_OPERATORS",
    "MAX_DEPTH",
    "MAX_NODES",
    "OPERATORS",
    "Eligibility",
    "RuleError",
    "audience_references",
    "check_rule",
    "describe_rule",
    "edge_eligibility",
    "field_paths",
    "field_types_for",
    "render_rule",
    "rule_matches",
    "rule_to_q",
    "uses_events",
    "validate_rule",
]
