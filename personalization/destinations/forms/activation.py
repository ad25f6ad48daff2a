"""
Forms of the activation wizard, one per step: destination, audiences, mapping, schedule, review.

Rules a single row cannot see (unique targets across rows, at most 30 mappings) are checked on the whole
set with the model's limits and messages; everything else is the models' own validation.
"""

from dataclasses import dataclass
from functools import cached_property

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.utils.translation import gettext_lazy as _

from personalization.audiences.models import Audience
from personalization.destinations.forms.connection import constraint_message
from personalization.destinations.models import (
    MAX_ATTRIBUTE_MAPPINGS,
    AttributeMapping,
    AudienceActivation,
    Destination,
)
from personalization.destinations.selectors import activatable_audiences, destinations_to_activate, mappable_fields
from personalization.profiles.models import ProfileField

__all__ = [
    "ActivationReviewForm",
    "AttributeMappingFormSet",
    "AttributeMappingRowForm",
    "AudienceScheduleForm",
    "AudienceSelectionForm",
    "SelectDestinationForm",
]

_DATE_WIDGET = forms.DateInput(format="%Y-%m-%d", attrs={"type": "date"})


#
# Activation: destination and audiences
#


class SelectDestinationForm(forms.Form):
    destination = forms.ModelChoiceField(
        label=_("Destination"),
        queryset=Destination.objects.none(),
        widget=forms.RadioSelect,
        empty_label=None,
        error_messages={"required": _("Choose the destination to activate audiences to.")},
    )

    def __init__(self, *args, user, sandbox, kind, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["destination"].queryset = destinations_to_activate(user=user, sandbox=sandbox, kind=kind)

    def rows(self):
        for radio in self["destination"]:
            yield radio, radio.data["value"].instance


@dataclass(frozen=True)
class AudienceRow:
    checkbox: object
    audience: Audience
    visible: bool
    activated: bool


class AudienceSelectionForm(forms.Form):
    """Pick audiences from a table; the origin and search fields only narrow what the table shows."""

    audiences = forms.ModelMultipleChoiceField(
        label=_("Audiences"), queryset=Audience.objects.none(), required=False, widget=forms.CheckboxSelectMultiple
    )
    origin = forms.ChoiceField(
        label=_("Origin"), required=False, choices=[("", _("All origins")), *Audience.Origin.choices]
    )
    q = forms.CharField(label=_("Search"), required=False, max_length=100)

    def __init__(self, *args, user, sandbox, destination=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.destination = destination
        self.activated_ids = set()
        if destination is not None:
            self.activated_ids = set(destination.activations.values_list("audience_id", flat=True))
        self.fields["audiences"].queryset = activatable_audiences(user=user, sandbox=sandbox, destination=destination)
        self.fields["q"].widget.input_type = "search"

    def clean(self):
        cleaned = super().clean()
        if not cleaned.get("audiences") and not self.activated_ids and "audiences" not in self.errors:
            self.add_error("audiences", _("Select at least one audience to activate."))
        return cleaned

    def _filter_value(self, name) -> str:
        value = self[name].value()
        return str(value or "").strip()

    @cached_property
    def rows(self) -> list[AudienceRow]:
        """Return the table rows; rows outside the filter stay in the page (hidden) so their ticks are kept."""
        origin, query = self._filter_value("origin"), self._filter_value("q").lower()
        rows = []
        for checkbox in self["audiences"]:
            audience = checkbox.data["value"].instance
            text = "%s %s" % (audience.name, audience.description)
            visible = (not origin or audience.origin == origin) and (not query or query in text.lower())
            rows.append(AudienceRow(checkbox, audience, visible, audience.pk in self.activated_ids))
        return rows

    @property
    def any_row_visible(self) -> bool:
        return any(row.visible for row in self.rows)


#
# Activation: attribute mapping
#


class ProfileFieldChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        # Data usage labels next to the field, so a marketer sees what a policy may forbid before mapping it.
        labels = ", ".join(label.code for label in obj.labels.all())
        text = "%s (%s)" % (obj.path, obj.get_field_type_display().lower())
        return "%s · %s" % (text, _("labels %(codes)s") % {"codes": labels}) if labels else text


class AttributeMappingRowForm(forms.Form):
    """One row of the mapping table; a row left blank on both sides is no mapping at all."""

    source = ProfileFieldChoiceField(
        label=_("Source field"), queryset=ProfileField.objects.none(), required=False, empty_label=_("Choose a field")
    )
    target = forms.CharField(
        label=_("Target field"),
        required=False,
        max_length=64,
        validators=AttributeMapping._meta.get_field("target").validators,
    )

    def __init__(self, *args, source_fields, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["source"].queryset = source_fields
        self.fields["target"].widget.attrs.update(
            {"spellcheck": "false", "autocapitalize": "off", "autocomplete": "off", "placeholder": _("e.g. tier")}
        )

    def clean(self):
        cleaned = super().clean()
        source, target = cleaned.get("source"), cleaned.get("target")
        if source and not target and "target" not in self.errors:
            self.add_error(
                "target",
                _("Name the target field for %(path)s; it becomes the key in the response.") % {"path": source.path},
            )
        if target and not source and "source" not in self.errors:
            self.add_error("source", _("Choose the profile field to send as %(target)s.") % {"target": target})
        return cleaned

    @property
    def mapping(self):
        """Return `(source, target)` when the row maps something."""
        data = getattr(self, "cleaned_data", {})
        if data.get("source") and data.get("target"):
            return data["source"], data["target"]
        return None


class BaseAttributeMappingFormSet(forms.BaseFormSet):
    """The whole mapping table; it replaces the destination's mappings, so it is checked as a set."""

    def __init__(self, data=None, *args, user, sandbox, prefix=None, **kwargs):
        prefix = prefix or self.get_default_prefix()
        if data is not None:
            data = self._with_a_blank_row(data, prefix)
        kwargs["form_kwargs"] = {"source_fields": mappable_fields(user=user, sandbox=sandbox)}
        super().__init__(data, *args, prefix=prefix, **kwargs)

    @staticmethod
    def _with_a_blank_row(data, prefix):
        """Keep one empty row at the end, so there is always somewhere to add a mapping (also without JavaScript)."""
        key = "%s-TOTAL_FORMS" % prefix
        try:
            total = int(data.get(key) or 0)
        except (TypeError, ValueError):
            return data
        last = total - 1
        if total and not any(data.get("%s-%d-%s" % (prefix, last, name)) for name in ("source", "target")):
            return data
        data = data.copy()
        data[key] = str(total + 1)
        return data

    def clean(self):
        if any(self.errors):
            return
        first_row_of = {}
        count = 0
        for number, form in enumerate(self.forms, start=1):
            if form.mapping is None:
                continue
            count += 1
            target = form.mapping[1]
            if target in first_row_of:
                form.add_error(
                    "target",
                    _("Row %(row)d already sends %(target)s; target names must be unique, they are response keys.")
                    % {"row": first_row_of[target], "target": target},
                )
            first_row_of.setdefault(target, number)
            if count > MAX_ATTRIBUTE_MAPPINGS:
                form.add_error(
                    "target",
                    _("This would be mapping %(count)d; a destination maps at most %(limit)d attributes.")
                    % {"count": count, "limit": MAX_ATTRIBUTE_MAPPINGS},
                )
        if count > MAX_ATTRIBUTE_MAPPINGS:
            raise ValidationError(
                _(
                    "%(count)d attributes are mapped, the maximum is %(limit)d; remove rows until at most "
                    "%(limit)d are left."
                )
                % {"count": count, "limit": MAX_ATTRIBUTE_MAPPINGS},
                code="too_many_mappings",
            )

    @property
    def mappings(self) -> list[tuple]:
        """Return the `(source, target)` pairs of the filled rows, in table order."""
        return [form.mapping for form in self.forms if form.mapping is not None]


AttributeMappingFormSet = forms.formset_factory(
    AttributeMappingRowForm, formset=BaseAttributeMappingFormSet, extra=3, max_num=200, absolute_max=200
)


#
# Activation: schedule and review
#


@dataclass(frozen=True)
class ScheduleRow:
    audience: Audience
    is_new: bool
    start: forms.BoundField
    end: forms.BoundField


class AudienceScheduleForm(forms.Form):
    """A start and end date per selected audience; new audiences are shown first, the others on request."""

    show_new_only = forms.BooleanField(label=_("Show new audiences only"), required=False)

    def __init__(self, *args, audiences, activated_ids, **kwargs):
        super().__init__(*args, **kwargs)
        self.audiences = list(audiences)
        self.activated_ids = set(activated_ids)
        for audience in self.audiences:
            start, end = self._names(audience)
            self.fields[start] = forms.DateField(
                label=_("Start date of %(audience)s") % {"audience": audience.name}, required=False, widget=_DATE_WIDGET
            )
            self.fields[end] = forms.DateField(
                label=_("End date of %(audience)s") % {"audience": audience.name}, required=False, widget=_DATE_WIDGET
            )
        if self.is_bound:
            self._fill_rows_added_since(self.data)

    @staticmethod
    def _names(audience) -> tuple[str, str]:
        return "start_%s" % audience.pk.hex, "end_%s" % audience.pk.hex

    def _fill_rows_added_since(self, data):
        """Give audiences picked after this step was last saved their default dates, not blanks."""
        missing = [
            name
            for audience in self.audiences
            for name in self._names(audience)
            if self.add_prefix(name) not in data and self.initial.get(name)
        ]
        if missing:
            self.data = data.copy()
            for name in missing:
                self.data[self.add_prefix(name)] = self.initial[name].isoformat()

    def clean(self):
        cleaned = super().clean()
        message = constraint_message(AudienceActivation, "activation_end_not_before_start")
        for audience in self.audiences:
            start, end = (cleaned.get(name) for name in self._names(audience))
            if start and end and end < start:
                self.add_error(self._names(audience)[1], message)
        return cleaned

    @cached_property
    def rows(self) -> list[ScheduleRow]:
        rows = []
        for audience in self.audiences:
            start, end = self._names(audience)
            rows.append(ScheduleRow(audience, audience.pk not in self.activated_ids, self[start], self[end]))
        return rows

    @property
    def has_new_rows(self) -> bool:
        return any(row.is_new for row in self.rows)

    @property
    def schedule(self) -> dict:
        """Return `{audience pk: (start_date, end_date)}` from the cleaned data."""
        return {
            audience.pk: tuple(self.cleaned_data.get(name) for name in self._names(audience))
            for audience in self.audiences
        }


class ActivationReviewForm(forms.Form):
    """The Review step: nothing to fill in, but Finish is refused while a data usage policy is violated."""

    def __init__(self, *args, plan, **kwargs):
        super().__init__(*args, **kwargs)
        self.plan = plan

    def clean(self):
        if self.plan is None:
            raise ValidationError(_("An earlier step is incomplete; go back and complete it."), code="incomplete")
        if not self.plan.policy_check.passed:
            raise ValidationError(
                _("You cannot complete the audience activation workflow until you have resolved the violation."),
                code="policy_violation",
            )
        return super().clean()

    @property
    def blocking_errors(self):
        return self.errors.get(NON_FIELD_ERRORS, [])
