from django import forms
from django.utils.translation import gettext_lazy as _

from personalization.alerts.models import AlertType

__all__ = ["AlertRecipientsForm", "AlertSubscriptionEditForm", "WebhookEndpointForm"]


class AlertSubscriptionEditForm(forms.Form):
    """One alert of one destination for one subscriber: subscribed or not, by email too, with its threshold."""

    alert_type = forms.ChoiceField(choices=AlertType.choices, widget=forms.HiddenInput)
    subscribed = forms.BooleanField(label=_("Subscribed"), required=False)
    email = forms.BooleanField(label=_("Also by email"), required=False)
    threshold = forms.FloatField(
        label=_("Alert above (% skipped)"),
        required=False,
        min_value=0,
        max_value=100,
        help_text=_("Leave empty for the default."),
    )
    subscriber = forms.IntegerField(required=False, widget=forms.HiddenInput)


class AlertRecipientsForm(forms.Form):
    alert_type = forms.ChoiceField(choices=AlertType.choices, widget=forms.HiddenInput)
    emails = forms.CharField(
        label=_("External email recipients"),
        required=False,
        max_length=4000,
        widget=forms.TextInput,
        help_text=_("Addresses outside the product, separated by commas."),
    )

    def addresses(self) -> list[str]:
        return [part for part in self.cleaned_data["emails"].replace(";", ",").split(",") if part.strip()]


class WebhookEndpointForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=200)
    url = forms.URLField(
        label=_("URL"),
        max_length=500,
        assume_scheme="https",
        help_text=_("Alert events are POSTed here as JSON, signed per the Standard Webhooks specification."),
    )
    alert_types = forms.MultipleChoiceField(
        label=_("Alerts"), choices=AlertType.choices, widget=forms.CheckboxSelectMultiple
    )
