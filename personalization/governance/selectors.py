"""Reads for governance: which enabled data usage policies a use of profile fields would break."""

from collections import defaultdict
from dataclasses import dataclass

from django.db.models import Q

from personalization.governance import signals
from personalization.governance.models import Label, Policy

__all__ = [
    "PolicyCheck",
    "PolicyViolation",
    "blocked_mapped_paths",
    "labels_by_path",
    "policies_violated_by_labels",
    "policy_check",
    "policy_impact",
]


@dataclass(frozen=True)
class PolicyViolation:
    """An enabled policy whose labels meet in what an activation would send."""

    policy: Policy
    # The label codes that made the policy's deny expression true, and the fields carrying them.
    labels: tuple[str, ...]
    fields: tuple[str, ...]
    # The audience whose rule brought the labels in; None when the mapped attributes alone do.
    audience: object | None = None


@dataclass(frozen=True)
class PolicyCheck:
    """The outcome of checking an activation against the sandbox's enabled data usage policies."""

    enabled_policies: int
    applicable_policies: int
    violations: tuple[PolicyViolation, ...] = ()

    @property
    def passed(self) -> bool:
        return not self.violations


def _matching_labels(expression: dict, labels: set[str]) -> set[str] | None:
    """Return the labels that make a deny expression true against `labels`, or None when it stays false."""
    if "label" in expression:
        return {expression["label"]} if expression["label"] in labels else None
    results = [_matching_labels(operand, labels) for operand in expression["operands"]]
    hits = [result for result in results if result is not None]
    if expression["operator"] == "AND" and len(hits) < len(results):
        return None
    return set().union(*hits) if hits else None


def policy_check(*, sandbox_id, marketing_actions, mapped_paths, audience_paths, as_enabled=()) -> PolicyCheck:
    """
    Check a use of profile fields against the sandbox's enabled policies on `marketing_actions`, and the
    policies in `as_enabled` as if they were enabled (what enabling a draft would block).

    `mapped_paths` are the field paths sent as attributes; `audience_paths` pairs each audience sent with the field
    paths its rule uses. Field labels count when the field is used in an audience's rule or mapped as an attribute;
    an AND policy needs its labels within one audience (plus the mapped attributes), not spread across audiences.
    """
    extra = [policy.pk for policy in as_enabled]
    enabled = Policy.objects.filter(Q(status=Policy.Status.ENABLED) | Q(pk__in=extra), sandbox_id=sandbox_id)
    applicable = list(enabled.filter(marketing_action__in=marketing_actions).select_related("marketing_action"))
    check = PolicyCheck(enabled_policies=enabled.count(), applicable_policies=len(applicable))
    if not applicable:
        return check
    audience_paths = list(audience_paths)
    mapped_paths = set(mapped_paths)
    all_paths = mapped_paths.union(*(paths for _audience, paths in audience_paths))
    labels_by_path = defaultdict(set)
    rows = Label.fields.through.objects.filter(
        profilefield__sandbox_id=sandbox_id, profilefield__path__in=all_paths
    ).values_list("profilefield__path", "label__code")
    for path, code in rows:
        labels_by_path[path].add(code)

    def evaluate(paths, audience, skip=()):
        labels = set().union(*(labels_by_path[path] for path in paths))
        found = []
        for policy in applicable:
            hits = None if policy.pk in skip else _matching_labels(policy.deny, labels)
            if hits:
                carriers = sorted(path for path in paths if labels_by_path[path] & hits)
                found.append(PolicyViolation(policy, tuple(sorted(hits)), tuple(carriers), audience))
        return found

    violations = evaluate(mapped_paths, None)
    already = {violation.policy.pk for violation in violations}
    for audience, paths in audience_paths:
        violations += evaluate(mapped_paths | set(paths), audience, skip=already)
    return PolicyCheck(check.enabled_policies, check.applicable_policies, tuple(violations))


def blocked_mapped_paths(*, sandbox_id, marketing_actions, mapped_paths) -> set[str]:
    """
    Return the mapped field paths an enabled policy forbids sending for these marketing actions: the fields
    carrying the labels of each violated policy. Lookups leave them out even if an old activation let them in.
    """
    check = policy_check(
        sandbox_id=sandbox_id, marketing_actions=marketing_actions, mapped_paths=mapped_paths, audience_paths=[]
    )
    return {path for violation in check.violations for path in violation.fields}


def labels_by_path(sandbox_id) -> dict[str, list[str]]:
    """Return the label codes on each labelled profile field of the sandbox, by path (what field pickers show)."""
    labels = defaultdict(list)
    rows = Label.fields.through.objects.filter(label__sandbox_id=sandbox_id).order_by("label__code")
    for path, code in rows.values_list("profilefield__path", "label__code"):
        labels[path].append(code)
    return dict(labels)


def policies_violated_by_labels(*, marketing_action, labels, include_draft=False) -> list[tuple[Policy, set[str]]]:
    """
    Return each policy on `marketing_action` whose deny expression `labels` make true, with the labels that did
    (the product's `marketingActions/{name}/constraints?duleLabels=`); drafts too with `include_draft`.
    """
    policies = Policy.objects.filter(marketing_action=marketing_action).select_related("marketing_action")
    if not include_draft:
        policies = policies.filter(status=Policy.Status.ENABLED)
    found = []
    for policy in policies.order_by("name"):
        hits = _matching_labels(policy.deny, set(labels))
        if hits:
            found.append((policy, hits))
    return found


def policy_impact(policy) -> list[tuple[object, PolicyCheck]]:
    """
    Return `(destination, PolicyCheck)` for each destination whose current activations the policy would block
    if enabled (an enabled one: blocks now). Destinations live above governance and answer through a signal.
    """
    impact = []
    for _receiver, answer in signals.policy_impact_asked.send(sender=Policy, policy=policy):
        impact += answer or []
    return impact
