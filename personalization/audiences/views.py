import json
from pathlib import Path

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Count, Q
from django.http import FileResponse, Http404
from django.shortcuts import redirect
from django.utils.translation import gettext_lazy as _
from django.views import View
from django.views.generic import DetailView
from django.views.generic.detail import SingleObjectMixin

from accounts.constants import MANAGE_SEGMENTS, VIEW_SEGMENTS
from accounts.permissions import SandboxPermissionRequiredMixin
from personalization import generic_views as generic
from personalization.audiences.charts import membership_chart_svg, membership_history
from personalization.audiences.csv_import import live_progress
from personalization.audiences.csv_wizard import AudienceCsvImportWizard, may_import
from personalization.audiences.filtersets import AudienceFilterSet
from personalization.audiences.models import Audience, AudienceImport, AudienceMembership
from personalization.audiences.services import audience_delete, audience_update

__all__ = [
    "AudienceCsvImportWizard",
    "AudienceDeleteView",
    "AudienceDetailView",
    "AudienceImportDetailView",
    "AudienceImportErrorsView",
    "AudienceImportProgressView",
    "AudienceInactivateView",
    "AudienceListView",
]

# Rules are edited in the rule builder (another page), so these pages only read.


class AudienceListView(generic.ObjectListView):
    permission_required = VIEW_SEGMENTS
    queryset = Audience.objects.all()
    filterset_class = AudienceFilterSet
    filter_fields = ("q", "origin", "status")
    template_name = "audiences/audience_list.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["may_import"] = may_import(self.request.user, self.request.sandbox)
        return context


class AudienceDetailView(generic.ObjectDetailView):
    permission_required = VIEW_SEGMENTS
    manage_permission = MANAGE_SEGMENTS
    actions = ("delete",)
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
        context["membership_chart"] = membership_chart_svg(membership_history(self.object))
        context["imports"] = self.object.imports.select_related("namespace", "created_by")[:20]
        return context


#
# Deleting and inactivating (refused while the audience is activated; the service names the destinations)
#


class AudienceDeleteView(generic.ObjectDeleteView):
    permission_required = VIEW_SEGMENTS
    manage_permission = MANAGE_SEGMENTS
    queryset = Audience.objects.select_related("sandbox")
    service = staticmethod(audience_delete)
    object_kwarg = "audience"
    impact = (("activations", _("Activated to")),)


class AudienceInactivateView(SandboxPermissionRequiredMixin, SingleObjectMixin, View):
    """Inactivate an audience (POST); a refusal, e.g. while it is activated, comes back as an error message."""

    permission_required = VIEW_SEGMENTS
    change_permission = MANAGE_SEGMENTS
    queryset = Audience.objects.all()

    def post(self, request, *args, **kwargs):
        audience = self.get_object()
        try:
            audience_update(user=request.user, audience=audience, status=Audience.Status.INACTIVE)
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(request, _("%(name)s is inactive.") % {"name": audience})
        return redirect(audience.get_absolute_url())


#
# CSV custom upload
#


class AudienceImportDetailView(SandboxPermissionRequiredMixin, DetailView):
    """One import: its progress while it runs, then its counts, message and error report."""

    permission_required = VIEW_SEGMENTS
    queryset = AudienceImport.objects.select_related("audience", "namespace", "created_by")
    template_name = "audiences/import_detail.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["percent"] = int(live_progress(self.object) * 100) if not self.object.is_finished else 100
        return context


class AudienceImportProgressView(AudienceImportDetailView):
    """The progress partial the import page polls with htmx until the import finishes."""

    template_name = "audiences/_import_progress.html"


class AudienceImportErrorsView(SandboxPermissionRequiredMixin, SingleObjectMixin, View):
    """Download an import's error report (CSV: row, column, value, message)."""

    permission_required = VIEW_SEGMENTS
    queryset = AudienceImport.objects.all()

    def get(self, request, *args, **kwargs):
        audience_import = self.get_object()
        if not audience_import.error_report_path:
            raise Http404("This import has no error report.")
        path = Path(settings.MEDIA_ROOT) / audience_import.error_report_path
        if not path.is_file():
            raise Http404("The error report file is gone.")
        name = "%s-errors.csv" % Path(audience_import.file_name).stem
        return FileResponse(open(path, "rb"), as_attachment=True, filename=name, content_type="text/csv")  # noqa: SIM115
