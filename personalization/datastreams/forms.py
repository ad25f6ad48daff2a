from django import forms
from django.utils.translation import gettext_lazy as _

from personalization.datastreams.models import Datastream
from personalization.generic_views import SandboxedModelForm

__all__ = ["DatastreamForm", "LinesField"]


class LinesField(forms.CharField):
    """A textarea holding one value per line, cleaned to a list; blank lines and surrounding spaces are dropped."""

    widget = forms.Textarea(attrs={"rows": 4, "spellcheck": "false", "autocapitalize": "off"})

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def prepare_value(self, value):
        return "\n".join(value) if isinstance(value, list | tuple) else value

    def to_python(self, value):
        return [line.strip() for line in str(value or "").splitlines() if line.strip()]


class DatastreamForm(SandboxedModelForm):
    # The model's validators check each origin, so a bad line is reported by name under this field.
    allowed_origins = LinesField(
        label=_("Allowed browser origins"),
        help_text=_("One origin per line, scheme and host only, e.g. https://www.example.com."),
    )

    class Meta:
        model = Datastream
        fields = [
            "name",
            "description",
            "access_type",
            "platform_enabled",
            "personalization_destinations",
            "edge_segmentation",
            "allowed_origins",
            "enabled",
        ]
        widgets = {"description": forms.Textarea(attrs={"rows": 3})}
