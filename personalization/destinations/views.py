from django.db.models import Count

from accounts.constants import VIEW_DESTINATIONS
from personalization import generic_views as generic
from personalization.destinations.filtersets import DestinationFilterSet
from personalization.destinations.models import Destination

__all__ = ["DestinationDetailView", "DestinationListView"]

# Connecting, activating and mapping happen in the destination wizard (another page); these pages only read.


class DestinationListView(generic.ObjectListView):
    permission_required = VIEW_DESTINATIONS
    queryset = Destination.objects.select_related("datastream").annotate(activation_count=Count("activations"))
    filterset_class = DestinationFilterSet
    filter_fields = ("q", "kind", "datastream", "enabled")
    template_name = "destinations/destination_list.html"


class DestinationDetailView(generic.ObjectDetailView):
    permission_required = VIEW_DESTINATIONS
    queryset = Destination.objects.select_related("sandbox", "datastream", "created_by")
    template_name = "destinations/destination_detail.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["marketing_actions"] = self.object.marketing_actions.all()
        context["activations"] = self.object.activations.select_related("audience").order_by("audience__name")
        context["mappings"] = self.object.mappings.select_related("source").order_by("target")
        return context
