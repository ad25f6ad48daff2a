from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.permissions import CAN_PREVIEW_LOOKUPS, in_sandbox, restrict
from personalization.datastreams.models import Datastream
from personalization.profiles.models import IdentityNamespace


class LookupPreviewForm(forms.Form):
    """Pick a datastream and an identity; only datastreams where the user may see profiles and destinations."""

    datastream = forms.ModelChoiceField(queryset=Datastream.objects.none(), label=_("Datastream"))
    namespace = forms.ChoiceField(label=_("Identity namespace"), choices=())
    identity = forms.CharField(
        label=_("Identity value"),
        max_length=512,
        help_text=_("Exactly as the site sends it; values are case-sensitive."),
    )

    def __init__(self, *args, user, sandbox, **kwargs):
        super().__init__(*args, **kwargs)
        visible = in_sandbox(restrict(Datastream.objects.all(), user, CAN_PREVIEW_LOOKUPS), sandbox)
        self.fields["datastream"].queryset = visible.order_by("name")
        namespaces = in_sandbox(restrict(IdentityNamespace.objects.all(), user, CAN_PREVIEW_LOOKUPS), sandbox)
        codes = namespaces.order_by("code").values_list("code", flat=True)
        self.fields["namespace"].choices = [(code, code) for code in codes]
