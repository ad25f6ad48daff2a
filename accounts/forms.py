from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class ApiCredentialForm(forms.Form):
    """What a user chooses when creating a server-to-server credential; the id and secret are generated."""

    name = forms.CharField(
        label=_("Name"), max_length=200, help_text=_("Who uses it, e.g. the ad server or the CMS backend.")
    )
    expires_at = forms.DateTimeField(
        label=_("Expires at"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        help_text=_("Leave empty for a credential that lives until it is revoked."),
    )

    def clean_expires_at(self):
        value = self.cleaned_data["expires_at"]
        if value is not None and value <= timezone.now():
            raise forms.ValidationError(_("Pick a moment in the future."), code="expiry_in_past")
        return value
