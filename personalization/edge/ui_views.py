"""Pages about the lookup for people in the app: the lookup preview and the demo site."""

from django.conf import settings
from django.shortcuts import get_object_or_404
from django.views.generic import TemplateView

from accounts.permissions import (
    CAN_PREVIEW_LOOKUPS,
    CAN_VIEW_DATASTREAMS,
    CAN_VIEW_SEGMENTS,
    SandboxPermissionRequiredMixin,
    restrict,
)
from personalization.datastreams.models import Datastream
from personalization.destinations.models import AudienceActivation
from personalization.edge.forms import LookupPreviewForm
from personalization.edge.preview import preview_lookup


class LookupPreviewView(SandboxPermissionRequiredMixin, TemplateView):
    """Show what a datastream answers for one identity, for both kinds of caller, and why."""

    rule = CAN_PREVIEW_LOOKUPS
    current_sandbox_only = True
    template_name = "edge/lookup_preview.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        data = self.request.GET if "identity" in self.request.GET else None
        initial = {"datastream": self.request.GET.get("datastream")}
        form = LookupPreviewForm(data, initial=initial, user=self.request.user, sandbox=self.request.sandbox)
        context["form"] = form
        if form.is_bound and form.is_valid():
            datastream = form.cleaned_data["datastream"]
            context["datastream"] = datastream
            context["preview"] = preview_lookup(
                datastream,
                form.cleaned_data["namespace"],
                form.cleaned_data["identity"],
                show_audience_names=CAN_VIEW_SEGMENTS.allows(self.request.user, datastream.sandbox_id),
            )
        return context


class DemoSiteView(SandboxPermissionRequiredMixin, TemplateView):
    """
    A stand-in for a customer's website: it calls the lookup with the small JS client and personalizes
    a banner by alias and audience, the way a real page would.
    """

    rule = CAN_VIEW_DATASTREAMS
    template_name = "edge/demo.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        datastreams = restrict(Datastream.objects.all(), self.request.user, CAN_VIEW_DATASTREAMS)
        datastream = get_object_or_404(datastreams, pk=self.kwargs["pk"])
        # Audience names belong to the audiences domain: without View Segments the offers name only the alias.
        show_names = CAN_VIEW_SEGMENTS.allows(self.request.user, datastream.sandbox_id)
        activations = (
            AudienceActivation.objects.filter(destination__datastream=datastream)
            .select_related("destination", "audience")
            .order_by("destination__created_at", "audience__name")
        )
        context.update(
            datastream=datastream,
            org_id=settings.EDGE_ORG_ID,
            offers=[
                {
                    "alias": activation.destination.alias,
                    "audience": str(activation.audience_id),
                    "name": activation.audience.name if show_names else "",
                }
                for activation in activations
            ],
        )
        return context
