"""Pages about dataflow runs: every run of the sandbox's destinations, and one run's counts and errors."""

from django.shortcuts import get_object_or_404
from django.views.generic import ListView

from accounts.permissions import CAN_VIEW_ALERTS, CAN_VIEW_DESTINATIONS, SandboxPermissionRequiredMixin, restrict
from personalization import generic_views as generic
from personalization.destinations.models import Destination
from personalization.edge.filtersets import DataflowRunFilterSet
from personalization.edge.models import DataflowRun
from personalization.edge.run_charts import runs_chart_svg

__all__ = ["DataflowRunDetailView", "DataflowRunListView", "DestinationRunsView"]

CHART_RUNS = 30


class DataflowRunListView(generic.ObjectListView):
    view_rule = CAN_VIEW_DESTINATIONS
    queryset = DataflowRun.objects.select_related("destination", "audience")
    filterset_class = DataflowRunFilterSet
    filter_fields = ("q", "destination", "status", "kind")
    template_name = "edge/dataflowrun_list.html"


class DataflowRunDetailView(generic.ObjectDetailView):
    """A run's counts, its skipped profiles by reason, its errors and the alerts it raised."""

    view_rule = CAN_VIEW_DESTINATIONS
    queryset = DataflowRun.objects.select_related("destination", "audience")
    template_name = "edge/dataflowrun_detail.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        run = self.object
        reasons = dict(DataflowRun.SkipReason.choices)
        context["skip_reasons"] = [
            (reasons.get(reason, reason), count) for reason, count in sorted((run.skip_reasons or {}).items())
        ]
        # The alerts live in the app above this one: read through the reverse relation, for View Alerts only.
        if CAN_VIEW_ALERTS.allows(self.request.user, run.destination.sandbox_id):
            context["alerts"] = run.alert_events.all()
        return context


class DestinationRunsView(SandboxPermissionRequiredMixin, ListView):
    """A destination's Dataflow runs tab: activated vs skipped per run over time, and every run, newest first."""

    rule = CAN_VIEW_DESTINATIONS
    template_name = "edge/destination_runs.html"
    paginate_by = 50
    context_object_name = "runs"

    def get_queryset(self):
        destinations = restrict(Destination.objects.all(), self.request.user, CAN_VIEW_DESTINATIONS)
        self.destination = get_object_or_404(destinations, pk=self.kwargs["pk"])
        return DataflowRun.objects.filter(destination=self.destination).select_related("audience")

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        latest = list(DataflowRun.objects.filter(destination=self.destination).order_by("-started_at")[:CHART_RUNS])
        context.update(object=self.destination, runs_chart=runs_chart_svg(latest[::-1]))
        return context
