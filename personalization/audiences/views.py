import json

from django.db.models import Count, Q

from accounts.constants import VIEW_SEGMENTS
from personalization import generic_views as generic
from personalization.audiences.filtersets import AudienceFilterSet
from personalization.audiences.models import Audience, AudienceMembership

__all__ = ["AudienceDetailView", "AudienceListView"]

# Rules are edited in the rule builder (another page), so these pages only read.


class AudienceListView(generic.ObjectListView):
    permission_required = VIEW_SEGMENTS
    queryset = Audience.objects.all()
    filterset_class = AudienceFilterSet
    filter_fields = ("q", "origin", "status")
    template_name = "audiences/audience_list.html"


class AudienceDetailView(generic.ObjectDetailView):
    permission_required = VIEW_SEGMENTS
    queryset = Audience.objects.select_related("sandbox", "created_by")
    template_name = "audiences/audience_detail.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        statuses = AudienceMembership.Status
        context["membership_counts"] = self.object.memberships.aggregate(
            **{status.value: Count("pk", filter=Q(status=status)) for status in statuses}
        )
        context["rule_json"] = json.dumps(self.object.rule, indent=2, ensure_ascii=False) if self.object.rule else None
        context["activations"] = self.object.activations.select_related("destination").order_by("destination__name")
        return context
