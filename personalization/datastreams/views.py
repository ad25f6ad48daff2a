from django.conf import settings
from django.utils.translation import gettext_lazy as _

from accounts.permissions import CAN_MANAGE_DATASTREAMS, CAN_VIEW_DATASTREAMS, CAN_VIEW_DESTINATIONS
from personalization import generic_views as generic
from personalization.datastreams.filtersets import DatastreamFilterSet
from personalization.datastreams.forms import DatastreamForm
from personalization.datastreams.models import Datastream
from personalization.datastreams.services import datastream_create, datastream_delete, datastream_update

__all__ = [
    "DatastreamCreateView",
    "DatastreamDeleteView",
    "DatastreamDetailView",
    "DatastreamEditView",
    "DatastreamListView",
]


class _DatastreamPermissions:
    view_rule = CAN_VIEW_DATASTREAMS
    manage_rule = CAN_MANAGE_DATASTREAMS


class DatastreamListView(_DatastreamPermissions, generic.ObjectListView):
    queryset = Datastream.objects.all()
    filterset_class = DatastreamFilterSet
    filter_fields = ("q", "access_type", "personalization_destinations", "enabled")
    actions = ("create",)
    template_name = "datastreams/datastream_list.html"


class DatastreamDetailView(_DatastreamPermissions, generic.ObjectDetailView):
    queryset = Datastream.objects.select_related("sandbox")
    template_name = "datastreams/datastream_detail.html"
    actions = ("edit", "delete")

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        # Destinations belong to their own domain: listed only with View Destinations on the datastream's sandbox.
        context["destinations"] = self.object.destinations.restrict(self.request.user, CAN_VIEW_DESTINATIONS)
        context["may_view_destinations"] = CAN_VIEW_DESTINATIONS.allows(self.request.user, self.object.sandbox_id)
        context["edge_org_id"] = settings.EDGE_ORG_ID
        context["edge_domain"] = self.request.get_host()
        return context


class DatastreamCreateView(_DatastreamPermissions, generic.ObjectCreateView):
    form_class = DatastreamForm
    service = staticmethod(datastream_create)


class DatastreamEditView(_DatastreamPermissions, generic.ObjectEditView):
    queryset = Datastream.objects.all()
    form_class = DatastreamForm
    service = staticmethod(datastream_update)
    object_kwarg = "datastream"


class DatastreamDeleteView(_DatastreamPermissions, generic.ObjectDeleteView):
    queryset = Datastream.objects.all()
    service = staticmethod(datastream_delete)
    object_kwarg = "datastream"
    impact = (("destinations", _("Destinations that answer on this datastream")),)
