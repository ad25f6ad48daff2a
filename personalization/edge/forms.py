from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.constants import VIEW_DESTINATIONS, VIEW_PROFILES
from accounts.permissions import restrict, sandbox_ids_with
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
        visible = restrict(Datastream.objects.all(), user, VIEW_DESTINATIONS).filter(
            sandbox_id__in=sandbox_ids_with(user, VIEW_PROFILES)
        )
        if sandbox is not None:
            visible = visible.filter(sandbox=sandbox)
        self.fields["datastream"].queryset = visible.order_by("name")
        codes = (
            IdentityNamespace.objects.filter(sandbox=sandbox).order_by("code").values_list("code", flat=True)
            if sandbox is not None
            else []
        )
        self.fields["namespace"].choices = [(code, code) for code in codes]
