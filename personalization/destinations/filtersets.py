import django_filters

from personalization.destinations.models import AttributeMapping, AudienceActivation, Destination
from personalization.filters import SandboxedFilterSet

__all__ = ["AttributeMappingFilterSet", "AudienceActivationFilterSet", "DestinationFilterSet"]


class DestinationFilterSet(SandboxedFilterSet):
    search_fields = ("name", "alias", "description")

    class Meta:
        model = Destination
        fields = ["kind", "datastream", "enabled"]


class AudienceActivationFilterSet(django_filters.FilterSet):
    class Meta:
        model = AudienceActivation
        fields = ["destination", "audience"]


class AttributeMappingFilterSet(django_filters.FilterSet):
    class Meta:
        model = AttributeMapping
        fields = ["destination", "source"]
