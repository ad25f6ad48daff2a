import django_filters

from personalization.edge.models import DataflowRun
from personalization.filters import SandboxedFilterSet

__all__ = ["DataflowRunFilterSet"]


class DataflowRunFilterSet(SandboxedFilterSet):
    search_fields = ("destination__name",)

    sandbox = django_filters.CharFilter(field_name="destination__sandbox__name", label="Sandbox")

    class Meta:
        model = DataflowRun
        fields = ["destination", "status", "kind"]
