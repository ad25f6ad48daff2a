"""Forms of the connect wizard (connection parameters, alerts, marketing actions) and of editing a connection."""

from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.permissions import CAN_VIEW_DESTINATIONS
from personalization.destinations.choices import AlertType
from personalization.destinations.models import Destination
from personalization.destinations.selectors import eligible_datastreams, marketing_action_catalogue
from personalization.generic_views import SandboxedModelForm
from personalization.governance.models import MarketingAction

__all__ = [
    "ALERT_DESCRIPTIONS",
    "AlertSubscriptionForm",
    "DestinationConnectionForm",
    "DestinationEditForm",
    "MarketingActionsForm",
    "constraint_message",
]

DATASTREAM_HELP = _(
    "Determines in which datastream the audiences are included in the response to the page. The drop-down menu "
    "shows only datastreams that have Personalization Destinations enabled. You must configure a datastream before "
    "you can configure your destination."
)

ALERT_DESCRIPTIONS = {
    AlertType.ACTIVATION_SKIPPED_RATE: _(
        "More than 1% (or your threshold) of a dataflow run's profiles were skipped: no identity, a missing mapped "
        "attribute, a policy violation or an expired activation."
    ),
    AlertType.RUN_FAILURE: _("A dataflow run failed with an error."),
    AlertType.RUN_DELAY: _("A dataflow run did not finish within 150 minutes (the delay an admin can set)."),
}


def constraint_message(model, name: str) -> str:
    """Return the message a model constraint shows, so forms checking the same rule say the same thing."""
    constraint = next(c for c in model._meta.constraints if c.name == name)
    return str(constraint.get_violation_error_message())


#
# Connection
#


class DatastreamChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return obj.name


class DestinationConnectionForm(SandboxedModelForm):
    """Connection parameters: name, description, integration alias and datastream."""

    class Meta:
        model = Destination
        fields = ["name", "description", "alias", "datastream"]
        field_classes = {"datastream": DatastreamChoiceField}
        widgets = {
            "description": forms.Textarea(attrs={"rows": 3}),
            "alias": forms.TextInput(attrs={"spellcheck": "false", "autocapitalize": "off", "autocomplete": "off"}),
        }
        help_texts = {
            "description": _("Optional, e.g. the campaign this destination serves."),
            "alias": _(
                "Sent to the page as this destination's JSON object name (alias); callers filter "
                "result.destinations by it. Letters, digits and underscores."
            ),
            "datastream": DATASTREAM_HELP,
        }

    def __init__(self, *args, user, sandbox, kind=None, rule=CAN_VIEW_DESTINATIONS, **kwargs):
        if kwargs.get("instance") is None:
            kwargs["instance"] = Destination(kind=kind, sandbox=sandbox)
        super().__init__(*args, user=user, sandbox=sandbox, rule=rule, **kwargs)
        self.fields["datastream"].queryset = eligible_datastreams(user=user, sandbox=sandbox)
        self.fields["datastream"].empty_label = _("Choose a datastream")
        self.fields["alias"].label = _("Integration alias")

    def _update_errors(self, errors):
        super()._update_errors(errors)
        # The shared base files the alias/datastream uniqueness under its first field; it is about the alias.
        taken = constraint_message(Destination, "destination_alias_unique_per_datastream")
        misplaced = self._errors.get("datastream")
        if not misplaced:
            return
        kept = [error for error in misplaced.data if taken not in getattr(error, "messages", [error])]
        if len(kept) == len(misplaced.data):
            return
        misplaced.data = kept
        if not kept:
            del self._errors["datastream"]
        self._errors.setdefault("alias", self.error_class(field_id="alias", renderer=self.renderer)).append(taken)


class DestinationEditForm(DestinationConnectionForm):
    """Change a connection after the wizard: its parameters and marketing actions."""

    class Meta(DestinationConnectionForm.Meta):
        fields = [*DestinationConnectionForm.Meta.fields, "marketing_actions"]
        widgets = {**DestinationConnectionForm.Meta.widgets, "marketing_actions": forms.CheckboxSelectMultiple}
        help_texts = {
            **DestinationConnectionForm.Meta.help_texts,
            "marketing_actions": _("What this destination does with the data; data usage policies check them."),
        }


class AlertSubscriptionForm(forms.Form):
    """The alerts this destination offers, as checkboxes; they become the signed-in user's subscriptions."""

    alert_types = forms.MultipleChoiceField(
        label=_("Alerts"),
        required=False,
        choices=AlertType.choices,
        widget=forms.CheckboxSelectMultiple,
    )

    def choices_with_help(self):
        """Yield each checkbox with its explanation, for templates."""
        for checkbox in self["alert_types"]:
            yield checkbox, ALERT_DESCRIPTIONS.get(checkbox.data["value"], "")


class MarketingActionsForm(forms.Form):
    marketing_actions = forms.ModelMultipleChoiceField(
        label=_("Marketing actions"),
        queryset=MarketingAction.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("What this destination does with the data. Enabled data usage policies check them at activation."),
    )

    def __init__(self, *args, user, sandbox, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["marketing_actions"].queryset = marketing_action_catalogue(user=user, sandbox=sandbox)

    def choices_with_help(self):
        for checkbox in self["marketing_actions"]:
            yield checkbox, checkbox.data["value"].instance.description
