"""Reads for the audience pages: what a rule may name in a sandbox, and how many profiles a rule selects now."""

from dataclasses import dataclass, field

from accounts.constants import VIEW_SEGMENTS
from accounts.permissions import restrict
from personalization.audiences.models import Audience
from personalization.audiences.rules import (
    Eligibility,
    RuleError,
    describe_rule,
    edge_eligibility,
    field_types_for,
    rule_to_q,
    uses_events,
    validate_rule,
)
from personalization.audiences.rules.grammar import audience_references, field_paths, node_kind
from personalization.profiles.models import Profile

__all__ = [
    "RuleEstimate",
    "audience_field_paths",
    "audiences_including",
    "rule_estimate",
    "rule_subject_audiences",
    "rule_subject_fields",
]

# Codes that depend on the chosen evaluation method only: the rule itself is sound and can be counted.
_EVALUATION_CODES = frozenset({"event_not_allowed", "edge_ineligible"})


def rule_subject_fields(*, sandbox_id) -> list[tuple[str, str]]:
    """Return `(path, type)` of the sandbox's profile fields a rule can compare (the scalar ones), by path."""
    return sorted(field_types_for(sandbox_id).items())


def rule_subject_audiences(*, user, sandbox_id, exclude_id=None):
    """Return the sandbox's audiences `user` may see that a rule can include (`in_audience`), except `exclude_id`."""
    audiences = restrict(Audience.objects.all(), user, VIEW_SEGMENTS).filter(sandbox_id=sandbox_id)
    if exclude_id is not None:
        audiences = audiences.exclude(pk=exclude_id)
    return audiences.only("pk", "name", "status").order_by("name")


@dataclass
class RuleEstimate:
    """
    What the rule builder shows next to a rule: its problems, how many profiles it selects now, its text, and
    whether the edge can evaluate it.

    `matching` is None when the rule cannot be counted (it has problems other than its evaluation method).
    With event conditions it counts the profiles that qualify when the request's event matches (`events_ignored`).
    """

    rule: object
    evaluation: str
    errors: list[RuleError] = field(default_factory=list)
    matching: int | None = None
    total: int = 0
    text: str = ""
    eligibility: Eligibility | None = None
    events_ignored: bool = False

    @property
    def edge_chosen_but_ineligible(self) -> bool:
        chosen = self.evaluation == Audience.Evaluation.EDGE
        return chosen and self.eligibility is not None and not self.eligibility.eligible

    @property
    def messages(self) -> list[str]:
        """The problems to list; edge ineligibility is shown on its own, with its reason."""
        return [error.message for error in self.errors if error.code != "edge_ineligible"]


def _without_events(node, positive: bool = True):
    """
    Replace each event condition by the truth value that lets the rule hold (true where it counts for the rule,
    false under an odd number of `not`), so the profile conditions alone decide: an upper bound over all events.
    """
    kind = node_kind(node)
    if kind == "event":
        return {"all": []} if positive else {"any": []}
    if kind in ("all", "any") and isinstance(node[kind], list):
        return {kind: [_without_events(child, positive) for child in node[kind]]}
    if kind == "not":
        return {"not": _without_events(node["not"], not positive)}
    return node


def rule_estimate(*, sandbox_id, rule, evaluation: str, audience_id=None) -> RuleEstimate:
    """
    Validate `rule` for an audience of `sandbox_id` and count the sandbox's profiles it selects now.

    In-audience conditions read today's memberships. Event conditions cannot be known before a request
    arrives, so they are left out of the count (see `_without_events`).
    """
    estimate = RuleEstimate(rule=rule, evaluation=evaluation)
    if rule is None:
        return estimate
    estimate.errors = validate_rule(rule, sandbox_id=sandbox_id, evaluation=evaluation, audience_id=audience_id)
    if any(error.code not in _EVALUATION_CODES for error in estimate.errors):
        return estimate
    profiles = Profile.objects.filter(sandbox_id=sandbox_id)
    estimate.events_ignored = uses_events(rule)
    countable = _without_events(rule) if estimate.events_ignored else rule
    estimate.total = profiles.count()
    estimate.matching = profiles.filter(rule_to_q(countable, field_types=field_types_for(sandbox_id))).count()
    estimate.text = describe_rule(rule, sandbox_id=sandbox_id)
    estimate.eligibility = edge_eligibility(rule, sandbox_id=sandbox_id)
    return estimate


def audience_field_paths(audience) -> set[str]:
    """
    Return the profile field paths an audience's rule compares, including those of every audience it names in
    `in_audience`, followed transitively (a reference cycle or a missing audience ends that branch).
    """
    paths = set(field_paths(audience.rule or {}))
    seen, pending = {str(audience.pk)}, set(audience_references(audience.rule or {}))
    while pending:
        pending -= seen
        if not pending:
            break
        seen |= pending
        rows = Audience.objects.filter(sandbox_id=audience.sandbox_id, pk__in=pending).values_list("rule", flat=True)
        pending = set()
        for rule in rows:
            paths |= field_paths(rule or {})
            pending |= audience_references(rule or {})
    return paths


def audiences_including(audience) -> set[str]:
    """Return the ids of `audience` and of every audience whose rule includes it, directly or through others."""
    rules = dict(Audience.objects.filter(sandbox_id=audience.sandbox_id).values_list("pk", "rule"))
    found = frontier = {str(audience.pk)}
    while frontier:
        frontier = {
            str(pk) for pk, rule in rules.items() if str(pk) not in found and audience_references(rule or {}) & frontier
        }
        found = found | frontier
    return found
