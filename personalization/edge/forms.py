from django import forms
from django.db.models import Count
from django.utils.translation import gettext_lazy as _

from accounts.permissions import CAN_PREVIEW_LOOKUPS, in_sandbox, restrict
from personalization.datastreams.models import Datastream
from personalization.profiles.identities import identity_problem
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
        # The namespace most profiles have first: the one a marketer is most likely to paste a value of.
        by_use = namespaces.annotate(used=Count("identities")).order_by("-used", "code")
        codes = list(by_use.values_list("code", flat=True))
        self.fields["namespace"].choices = [(code, code) for code in sorted(codes)]
        if not self.is_bound:
            self.initial.setdefault("namespace", codes[0] if codes else None)
            if not self.initial.get("datastream"):
                self.initial["datastream"] = self._first_serving(visible)

    @staticmethod
    def _first_serving(datastreams):
        """Return the first enabled datastream that serves personalization destinations, else the first at all."""
        ordered = datastreams.order_by("name")
        serving = ordered.filter(enabled=True, platform_enabled=True, personalization_destinations=True).first()
        return (serving or ordered.first() or Datastream()).pk

    def clean(self):
        cleaned = super().clean()
        value, namespace = cleaned.get("identity"), cleaned.get("namespace")
        if value is not None and namespace:
            problem = identity_problem(value, namespace)
            if problem:
                self.add_error("identity", problem)
        return cleaned
