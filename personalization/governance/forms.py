"""Forms of the governance pages: the policy editor with its expression builder, labels, marketing actions."""

from django import forms
from django.utils.translation import gettext_lazy as _

from personalization.generic_views import SandboxedModelForm
from personalization.governance.models import Label, MarketingAction, Policy

__all__ = [
    "BulkLabelForm",
    "FieldLabelsForm",
    "LabelForm",
    "MarketingActionForm",
    "PolicyForm",
    "deny_groups",
]

MATCH_CHOICES = (("OR", _("any")), ("AND", _("all")))


def deny_groups(deny) -> list[tuple[str, list[str]]] | None:
    """
    Read a deny expression as the builder's groups `[(operator, [label, …]), …]` joined by the top operator,
    or None when it nests deeper than groups of labels (then only the API edits it).
    """
    if not isinstance(deny, dict):
        return []
    if "label" in deny:
        return [("OR", [deny["label"]])]
    operands = deny.get("operands", [])
    if all("label" in operand for operand in operands):
        return [(deny["operator"], [operand["label"] for operand in operands])]
    groups = []
    for operand in operands:
        if "label" in operand:
            groups.append(("OR", [operand["label"]]))
        elif all("label" in leaf for leaf in operand.get("operands", [])):
            groups.append((operand["operator"], [leaf["label"] for leaf in operand["operands"]]))
        else:
            return None
    return groups


def _group_node(operator, codes):
    return {"label": codes[0]} if len(codes) == 1 else {"operator": operator, "operands": [{"label": c} for c in codes]}


class PolicyForm(SandboxedModelForm):
    """
    A policy: its name, the marketing action it denies, and when: groups of labels (any or all of each group),
    joined by any or all. "Add a group" posts the form back with one group more.
    """

    match = forms.ChoiceField(
        label=_("Deny when this holds for"), choices=MATCH_CHOICES, initial="OR", widget=forms.RadioSelect
    )
    groups = forms.IntegerField(widget=forms.HiddenInput, min_value=1, max_value=12, initial=1)

    class Meta:
        model = Policy
        fields = ["name", "description", "marketing_action"]
        widgets = {"description": forms.Textarea(attrs={"rows": 2})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["marketing_action"].empty_label = _("Choose a marketing action")
        self.label_choices = [
            (label.code, "%s · %s" % (label.code, label.name)) for label in Label.objects.filter(sandbox=self.sandbox)
        ]
        groups = deny_groups(self.instance.deny) if self.instance.deny else []
        self.expression_editable = groups is not None and not (self.instance.pk and self.instance.is_core)
        if not self.expression_editable:
            for name in ("match", "groups"):
                del self.fields[name]
            if self.instance.pk and self.instance.is_core:
                for name in ("name", "marketing_action"):
                    self.fields[name].disabled = True
            self.group_count = 0
            return
        if not self.is_bound and len(groups) > 1:
            self.fields["match"].initial = self.instance.deny["operator"]
        count = len(groups) or 1
        if self.is_bound:
            try:
                count = max(1, min(12, int(self.data.get(self.add_prefix("groups"), count))))
            except (TypeError, ValueError):
                pass
            if "add_group" in self.data:
                count = min(12, count + 1)
        self.group_count = count
        self.fields["groups"].initial = count
        for index in range(count):
            operator, codes = groups[index] if index < len(groups) else ("OR", [])
            self.fields["group-%d-match" % index] = forms.ChoiceField(
                label=_("Group %(number)d: labels that must be present") % {"number": index + 1},
                choices=MATCH_CHOICES,
                initial=operator,
                widget=forms.RadioSelect,
            )
            self.fields["group-%d-labels" % index] = forms.MultipleChoiceField(
                label=_("Labels of group %(number)d") % {"number": index + 1},
                choices=self.label_choices,
                initial=codes,
                required=False,
                widget=forms.CheckboxSelectMultiple,
            )
        if self.is_bound:
            # The hidden count follows what the page shows, so the next post keeps every group.
            self.data = self.data.copy()
            self.data[self.add_prefix("groups")] = str(count)

    def group_fields(self):
        """The builder's groups as `(number, match field, labels field)` for the template."""
        return [
            (index + 1, self["group-%d-match" % index], self["group-%d-labels" % index])
            for index in range(self.group_count)
        ]

    def clean(self):
        cleaned = super().clean()
        if "add_group" in self.data:
            raise forms.ValidationError(_("A group was added; choose its labels, then save."), code="group_added")
        if not self.expression_editable:
            return cleaned
        groups = []
        for index in range(self.group_count):
            codes = cleaned.get("group-%d-labels" % index) or []
            if codes:
                groups.append(_group_node(cleaned.get("group-%d-match" % index) or "OR", codes))
        if not groups:
            self.add_error("group-0-labels", _("Choose at least one label: the policy denies data that carries it."))
            return cleaned
        self.instance.deny = groups[0] if len(groups) == 1 else {"operator": cleaned["match"], "operands": groups}
        return cleaned

    def policy_fields(self) -> dict:
        """What the policy services take: the model's fields and the built expression."""
        fields = {name: self.cleaned_data[name] for name in ("name", "description", "marketing_action")}
        return {**fields, "deny": self.instance.deny}


class LabelForm(SandboxedModelForm):
    class Meta:
        model = Label
        fields = ["code", "name", "description"]
        widgets = {"description": forms.Textarea(attrs={"rows": 2})}


class MarketingActionForm(SandboxedModelForm):
    class Meta:
        model = MarketingAction
        fields = ["key", "name", "description"]
        widgets = {"description": forms.Textarea(attrs={"rows": 2})}
        help_texts = {"key": _("How the API names it, e.g. partner-sharing: lowercase letters, digits and -.")}


class FieldLabelsForm(forms.Form):
    """The labels of one profile field, as checkboxes."""

    labels = forms.ModelMultipleChoiceField(
        label=_("Data usage labels"),
        queryset=Label.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    def __init__(self, *args, sandbox, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["labels"].queryset = Label.objects.filter(sandbox=sandbox)
        self.fields["labels"].label_from_instance = lambda label: "%s · %s" % (label.code, label.name)


class BulkLabelForm(forms.Form):
    """Add or remove labels on many fields at once."""

    profile_fields = forms.ModelMultipleChoiceField(
        label=_("Fields"), queryset=None, required=True, widget=forms.CheckboxSelectMultiple
    )
    labels = forms.ModelMultipleChoiceField(
        label=_("Labels"), queryset=Label.objects.none(), required=True, widget=forms.CheckboxSelectMultiple
    )
    action = forms.ChoiceField(choices=(("add", _("Add labels")), ("remove", _("Remove labels"))))

    def __init__(self, *args, sandbox, fields, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["profile_fields"].queryset = fields
        self.fields["profile_fields"].label_from_instance = lambda field: field.path
        self.fields["profile_fields"].error_messages["required"] = _("Tick the fields to label.")
        self.fields["labels"].queryset = Label.objects.filter(sandbox=sandbox)
        self.fields["labels"].label_from_instance = lambda label: "%s · %s" % (label.code, label.name)
        self.fields["labels"].error_messages["required"] = _("Tick the labels to add or remove.")
