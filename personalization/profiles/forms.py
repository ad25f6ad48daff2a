from django import forms

from personalization.generic_views import SandboxedModelForm
from personalization.profiles.models import ProfileField

__all__ = ["ProfileFieldForm"]


class ProfileFieldForm(SandboxedModelForm):
    class Meta:
        model = ProfileField
        fields = ["path", "field_type", "description"]
        widgets = {
            "path": forms.TextInput(attrs={"spellcheck": "false", "autocapitalize": "off"}),
            "description": forms.Textarea(attrs={"rows": 3}),
        }
