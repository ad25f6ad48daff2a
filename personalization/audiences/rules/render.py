"""A rule as one readable line, e.g. `loyalty.status equals "gold" and (country in ["DE", "AT"] or ...)`."""

import json

from django.utils.translation import gettext as _

from personalization.audiences.models import Audience
from personalization.audiences.rules.grammar import audience_references, audience_uuid, node_kind

__all__ = ["describe_rule", "render_rule"]

_OP_WORDS = {
    "equals": "equals",
    "not_equals": "does not equal",
    "in": "in",
    "contains": "contains",
    "starts_with": "starts with",
    "gt": ">",
    "gte": ">=",
    "lt": "<",
    "lte": "<=",
    "before": "before",
    "after": "after",
}
_EVENT_NAMES = {"eventType": "event type", "web.webPageDetails.URL": "page URL"}


def _literal(value) -> str:
    return json.dumps(value, ensure_ascii=False)


def describe_rule(rule, *, sandbox_id) -> str:
    """Render `rule`, naming the audiences it includes by their names in the sandbox."""
    references = audience_references(rule)
    names = {}
    if references:
        names = {
            str(pk): name
            for pk, name in Audience.objects.filter(sandbox_id=sandbox_id, pk__in=references).values_list("pk", "name")
        }
    return render_rule(rule, audience_names=names)


def render_rule(rule, *, audience_names: dict | None = None) -> str:
    """Return the rule as one line; `audience_names` maps audience ids to names for `in_audience`."""
    if rule is None:
        return _("no rule")
    return _render(rule, audience_names or {}, top=True)


def _render(node, names: dict, top: bool = False) -> str:
    kind = node_kind(node)
    if kind in ("all", "any"):
        children = node[kind] if isinstance(node[kind], list) else []
        if not children:
            return _("everyone") if kind == "all" else _("no one")
        parts = [_render(child, names) for child in children]
        if len(parts) == 1:
            return parts[0]
        text = (" and " if kind == "all" else " or ").join(parts)
        return text if top else "(%s)" % text
    if kind == "not":
        return "not %s" % _render(node["not"], names)
    if kind == "in_audience":
        audience_id = audience_uuid(node["in_audience"])
        name = names.get(str(audience_id)) if audience_id else None
        return "in audience %s" % _literal(name if name is not None else str(node["in_audience"]))
    if kind in ("field", "event"):
        subject = node[kind] if kind == "field" else "event %s" % _EVENT_NAMES.get(node["event"], node["event"])
        return "%s %s" % (subject, _condition(node))
    return _("(invalid condition)")


def _condition(node) -> str:
    op, value = node.get("op"), node.get("value")
    if op == "exists":
        return "exists"
    if op == "between" and isinstance(value, list) and len(value) == 2:
        return "between %s and %s" % (_literal(value[0]), _literal(value[1]))
    if op == "within_last_days":
        return "within the last %s days" % _literal(value)
    return "%s %s" % (_OP_WORDS.get(op, str(op)), _literal(value))
