"""
Forms of the audience pages: the rule builder (name, description, evaluation method, rule) and its live estimate.

The rule arrives as JSON in one field, written by the builder script (static/js/rule-builder.js) or typed by hand
without JavaScript; `Audience.clean()` validates it, so the page, the estimate and the API report the same problems.
"""

import json

from django import forms
from django.utils.translation import gettext_lazy as _

from personalization.audiences.models import Audience
from personalization.audiences.rules import EVENT_OPERATORS, OPERATORS
from personalization.audiences.selectors import rule_subject_audiences, rule_subject_fields
from personalization.generic_views import SandboxedModelForm
from personalization.governance.selectors import labels_by_path

__all__ = ["AudienceDetailsEditForm", "AudienceRuleForm", "RuleEstimateForm", "rule_builder_config"]

OPERATOR_LABELS = {
    "equals": _("equals"),
    "not_equals": _("does not equal"),
    "in": _("is one of"),
    "contains": _("contains"),
    "starts_with": _("starts with"),
    "gt": _("is greater than"),
    "gte": _("is at least"),
    "lt": _("is less than"),
    "lte": _("is at most"),
    "between": _("is between"),
    "before": _("is before"),
    "after": _("is after"),
    "within_last_days": _("is within the last"),
    "exists": _("has a value"),
}
TYPE_LABELS = {"string": _("text"), "number": _("number"), "boolean": _("true/false"), "date": _("date")}
EVENT_LABELS = {"eventType": _("Event type"), "web.webPageDetails.URL": _("Page URL")}
EVALUATION_HELP = {
    Audience.Evaluation.BATCH: _("Evaluated over all profiles when published, then daily."),
    Audience.Evaluation.STREAMING: _("Also re-evaluated for a profile as soon as it changes through ingestion."),
    Audience.Evaluation.EDGE: _(
        "Evaluated on each lookup, with the request's event; only profile-only and single-event rules qualify."
    ),
}
BUILDER_TEXT = {
    "all": _("All of"),
    "any": _("Any of"),
    "not": _("Not (none of)"),
    "group_type": _("Group type"),
    "add_condition": _("Add condition"),
    "add_group": _("Add group"),
    "remove_condition": _("Remove condition"),
    "remove_group": _("Remove group"),
    "subject": _("Field"),
    "operator": _("Operator"),
    "value": _("Value"),
    "values": _("Values, one per line"),
    "from": _("From"),
    "to": _("To"),
    "and": _("and"),
    "days": _("days"),
    "audience": _("Audience"),
    "choose_subject": _("Choose a field…"),
    "choose_audience": _("Choose an audience…"),
    "profile_fields": _("Profile fields"),
    "membership": _("Audience membership"),
    "in_audience": _("In audience"),
    "events": _("Request event (edge evaluation only)"),
    "unknown_field": _("not in the schema"),
    "true": _("true"),
    "false": _("false"),
    "empty_group": _("No conditions yet: an empty “All of” holds for every profile, “Any of” for none."),
    "unreadable": _("This rule cannot be shown in the builder; edit its JSON below."),
    "incomplete": _("Not counted yet: the estimate leaves this condition out until it is complete."),
    "one_value": _("1 value:"),
    "n_values": _("{count} values:"),
    "no_values": _("No values yet."),
    "comma_warning": _("A line holds a comma, so it is one value (“{line}”). Put each value on its own line."),
    "split_commas": _("Split at commas"),
}


def rule_builder_config(*, user, sandbox_id, audience_id=None) -> dict:
    """Return what the builder script offers: the sandbox's fields and audiences, operators and labels."""
    audiences = rule_subject_audiences(user=user, sandbox_id=sandbox_id, exclude_id=audience_id)
    labels = labels_by_path(sandbox_id)
    return {
        "fields": [
            {
                "path": path,
                "type": kind,
                "label": " · ".join(filter(None, [path, str(TYPE_LABELS[kind]), ", ".join(labels.get(path, ()))])),
            }
            for path, kind in rule_subject_fields(sandbox_id=sandbox_id)
        ],
        "audiences": [
            {
                "id": str(audience.pk),
                "label": audience.name
                if audience.status == Audience.Status.PUBLISHED
                else "%s (%s)" % (audience.name, audience.get_status_display().lower()),
            }
            for audience in audiences
        ],
        "events": [{"path": name, "label": str(EVENT_LABELS.get(name, name))} for name in EVENT_OPERATORS],
        "operators": {kind: list(ops) for kind, ops in OPERATORS.items()},
        "event_operators": {name: list(ops) for name, ops in EVENT_OPERATORS.items()},
        "operator_labels": {op: str(label) for op, label in OPERATOR_LABELS.items()},
        "text": {key: str(text) for key, text in BUILDER_TEXT.items()},
    }


class RuleField(forms.JSONField):
    """The rule as JSON; the builder keeps it in step with the tree, and without JavaScript it is typed here."""

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("label", _("Rule (JSON)"))
        kwargs.setdefault("widget", forms.Textarea(attrs={"rows": 6, "spellcheck": "false", "autocapitalize": "off"}))
        super().__init__(**kwargs)

    def prepare_value(self, value):
        # Indented, so a rule edited by hand (without JavaScript) keeps its structure readable.
        if value is None:
            return ""
        if isinstance(value, dict | list):
            return json.dumps(value, ensure_ascii=False, indent=1)
        return super().prepare_value(value)


class AudienceRuleForm(SandboxedModelForm):
    """A segmentation audience: its name, description, evaluation method and rule."""

    rule = RuleField(
        help_text=_('A condition tree, e.g. {"all": [{"field": "loyalty.status", "op": "equals", "value": "gold"}]}.')
    )

    class Meta:
        model = Audience
        fields = ["name", "description", "evaluation", "rule"]
        widgets = {
            "description": forms.Textarea(attrs={"rows": 2}),
            "evaluation": forms.RadioSelect,
        }

    def evaluation_choices(self):
        """Pair each evaluation radio button with what the method means."""
        return [(radio, EVALUATION_HELP.get(radio.data["value"], "")) for radio in self["evaluation"]]

    def builder_config(self) -> dict:
        audience_id = None if self.instance._state.adding else self.instance.pk
        sandbox_id = getattr(self.sandbox, "pk", self.sandbox)
        return rule_builder_config(user=self.user, sandbox_id=sandbox_id, audience_id=audience_id)


class AudienceDetailsEditForm(SandboxedModelForm):
    """A custom upload audience: only its name and description; its members come from files."""

    class Meta:
        model = Audience
        fields = ["name", "description"]
        widgets = {"description": forms.Textarea(attrs={"rows": 2})}


class RuleEstimateForm(forms.Form):
    """What the live estimate reads from the builder page: the rule and the evaluation method."""

    rule = RuleField()
    evaluation = forms.ChoiceField(choices=Audience.Evaluation.choices, initial=Audience.Evaluation.BATCH)
