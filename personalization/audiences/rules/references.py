"""The graph of a sandbox's `in_audience` references, for the validator's cycle check."""

from django.utils.translation import gettext as _

from personalization.audiences.models import Audience
from personalization.audiences.rules.grammar import audience_references

__all__ = ["audience_graph", "graph_names", "path_to"]


def audience_graph(sandbox_id, audience_id: str, rule) -> dict:
    """Return `{audience id: (name, referenced ids)}` for the sandbox's rules, with `rule` as `audience_id`'s."""
    rows = Audience.objects.filter(sandbox_id=sandbox_id, rule__isnull=False).values("pk", "name", "rule")
    graph = {str(row["pk"]): (row["name"], audience_references(row["rule"])) for row in rows}
    graph[audience_id] = (_("this audience"), audience_references(rule))
    return graph


def graph_names(graph, pk) -> str:
    return '"%s"' % graph[pk][0] if pk in graph else pk


def path_to(graph: dict, start: str, target: str) -> list[str] | None:
    """Return the chain of audience ids from `start` to `target` following references, or None."""
    stack, seen = [(start, [start])], set()
    while stack:
        current, chain = stack.pop()
        if current == target:
            return chain[:-1]
        if current in seen:
            continue
        seen.add(current)
        for nxt in sorted(graph.get(current, ("", set()))[1]):
            stack.append((nxt, [*chain, nxt]))
    return None
