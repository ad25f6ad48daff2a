import django_filters

from personalization.datastreams.models import Datastream
from personalization.filters import SandboxedFilterSet

__all__ = ["DatastreamFilterSet"]


class DatastreamFilterSet(SandboxedFilterSet):
    search_fields = ("name", "description")
    personalization_destinations = django_filters.BooleanFilter()

    class Meta:
        model = Datastream
        fields = ["access_type", "enabled", "edge_segmentation", "platform_enabled"]
