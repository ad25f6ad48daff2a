import json
from pathlib import Path

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Count, Q
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy as _
from django.views import View
from django.views.generic import DetailView
from django.views.generic.detail import SingleObjectMixin

from accounts.permissions import (
    CAN_IMPORT_AUDIENCES,
    CAN_MANAGE_SEGMENTS,
    CAN_VIEW_DESTINATIONS,
    CAN_VIEW_SEGMENTS,
    SandboxPermissionRequiredMixin,
)
from personalization import generic_views as generic
from personalization.audiences.charts import membership_chart_svg, membership_history
from personalization.audiences.filtersets import AudienceFilterSet
from personalization.audiences.forms import AudienceDetailsEditForm, AudienceRuleForm, RuleEstimateForm
from personalization.audiences.imports.run import live_progress
from personalization.audiences.imports.services import audience_import_confirm_exits, may_confirm_exits
from personalization.audiences.imports.wizard import AudienceCsvImportWizard
from personalization.audiences.models import Audience, AudienceImport, AudienceMembership
from personalization.audiences.selectors import rule_estimate
from personalization.audiences.services import audience_create, audience_delete, audience_publish, audience_update

__all__ = [
    "AudienceCreateView",
    "AudienceCsvImportWizard",
    "AudienceDeleteView",
    "AudienceDetailView",
    "AudienceEditView",
    "AudienceEstimateView",
    "AudienceImportConfirmExitsView",
    "AudienceImportDetailView",
    "AudienceImportErrorsView",
    "AudienceImportProgressView",
    "AudienceInactivateView",
    "AudienceListView",
    "AudiencePublishView",
]


class _AudiencePermissions:
    view_rule = CAN_VIEW_SEGMENTS
    manage_rule = CAN_MANAGE_SEGMENTS


class AudienceListView(_AudiencePermissions, generic.ObjectListView):
    actions = ("create",)
    queryset = Audience.objects.all()
    filterset_class = AudienceFilterSet
    filter_fields = ("q", "origin", "status")
    template_name = "audiences/audience_list.html"


class AudienceDetailView(_AudiencePermissions, generic.ObjectDetailView):
    actions = ("edit", "delete")
    queryset = Audience.objects.select_related("sandbox", "created_by")
    template_name = "audiences/audience_detail.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        statuses = AudienceMembership.Status
        context["membership_counts"] = self.object.memberships.aggregate(
            **{status.value: Count("pk", filter=Q(status=status)) for status in statuses}
        )
        context["rule_json"] = json.dumps(self.object.rule, indent=2, ensure_ascii=False) if self.object.rule else None
        # Destinations belong to their own domain: listed only with View Destinations on the audience's sandbox.
        activations = self.object.activations.restrict(self.request.user, CAN_VIEW_DESTINATIONS)
        context["activations"] = activations.select_related("destination").order_by("destination__name")
        context["may_view_destinations"] = CAN_VIEW_DESTINATIONS.allows(self.request.user, self.object.sandbox_id)
        context["membership_chart"] = membership_chart_svg(membership_history(self.object))
        context["imports"] = self.object.imports.select_related("namespace", "created_by")[:20]
        context["latest_evaluation"] = self.object.evaluations.first()
        context["may_import"] = CAN_IMPORT_AUDIENCES.allows(self.request.user, self.object.sandbox_id)
        return context


#
# The rule builder: one page to create a segmentation audience or edit one (custom uploads: name and description)
#


class AudienceCreateView(_AudiencePermissions, generic.ObjectCreateView):
    form_class = AudienceRuleForm
    service = staticmethod(audience_create)
    success_message = _("%(name)s was saved as a draft.")
    template_name = "audiences/audience_form.html"


class AudienceEditView(_AudiencePermissions, generic.ObjectEditView):
    queryset = Audience.objects.select_related("sandbox")
    service = staticmethod(audience_update)
    object_kwarg = "audience"
    template_name = "audiences/audience_form.html"

    def get_form_class(self):
        return AudienceRuleForm if self.object.origin == Audience.Origin.SEGMENTATION else AudienceDetailsEditForm


class AudienceEstimateView(SandboxPermissionRequiredMixin, SingleObjectMixin, View):
    """
    The builder's live estimate (POST, htmx): the rule's problems, or how many of the sandbox's profiles it
    selects now, its one-line text and its edge eligibility. A new audience's rule is counted in the current
    sandbox, an existing audience's in its own.
    """

    rule = CAN_VIEW_SEGMENTS
    queryset = Audience.objects.all()
    template_name = "audiences/_rule_estimate.html"

    @property
    def current_sandbox_only(self):
        return not self.kwargs

    def post(self, request, *args, **kwargs):
        audience = self.get_object() if self.kwargs else None
        form = RuleEstimateForm(request.POST)
        estimate = None
        if form.is_valid():
            estimate = rule_estimate(
                sandbox_id=audience.sandbox_id if audience else request.sandbox.pk,
                rule=form.cleaned_data["rule"],
                evaluation=form.cleaned_data["evaluation"],
                audience_id=audience.pk if audience else None,
            )
        return render(request, self.template_name, {"form": form, "estimate": estimate})


#
# Publishing, inactivating and deleting (refused while the audience is activated; the service names the destinations)
#


class AudienceDeleteView(_AudiencePermissions, generic.ObjectDeleteView):
    queryset = Audience.objects.select_related("sandbox")
    service = staticmethod(audience_delete)
    object_kwarg = "audience"
    impact = (("activations", _("Activated to")),)


class _AudienceStatusView(SandboxPermissionRequiredMixin, SingleObjectMixin, View):
    """Change an audience's status (POST) through a service; a refusal comes back as an error message."""

    rule = CAN_MANAGE_SEGMENTS
    visible_with = CAN_VIEW_SEGMENTS
    queryset = Audience.objects.all()
    success_message = ""

    def change(self, user, audience):
        raise NotImplementedError

    def post(self, request, *args, **kwargs):
        audience = self.get_object()
        try:
            audience = self.change(request.user, audience)
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(request, self.success_message % {"name": audience})
        return redirect(audience.get_absolute_url())


class AudiencePublishView(_AudienceStatusView):
    """Publish a draft or inactive audience; a segmentation audience's batch evaluation is queued."""

    success_message = _("%(name)s is published.")

    def change(self, user, audience):
        return audience_publish(user=user, audience=audience)


class AudienceInactivateView(_AudienceStatusView):
    """Inactivate an audience; refused while it is activated to a destination."""

    success_message = _("%(name)s is inactive.")

    def change(self, user, audience):
        return audience_update(user=user, audience=audience, status=Audience.Status.INACTIVE)


#
# CSV custom upload
#


class AudienceImportDetailView(SandboxPermissionRequiredMixin, DetailView):
    """One import: its progress while it runs, then its counts, message and error report."""

    rule = CAN_VIEW_SEGMENTS
    queryset = AudienceImport.objects.select_related("audience", "namespace", "created_by")
    template_name = "audiences/import_detail.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["percent"] = int(live_progress(self.object) * 100) if not self.object.is_finished else 100
        context["can_confirm_exits"] = may_confirm_exits(self.object) and CAN_IMPORT_AUDIENCES.allows(
            self.request.user, self.object.audience.sandbox_id
        )
        return context


class AudienceImportProgressView(AudienceImportDetailView):
    """The progress partial the import page polls with htmx until the import finishes."""

    template_name = "audiences/_import_progress.html"


class AudienceImportConfirmExitsView(SandboxPermissionRequiredMixin, SingleObjectMixin, View):
    """Import again, with the exits confirmed, a file that stopped because it made most members exit (POST)."""

    rule = CAN_IMPORT_AUDIENCES
    visible_with = CAN_VIEW_SEGMENTS
    queryset = AudienceImport.objects.select_related("audience__sandbox", "namespace")
    http_method_names = ["post"]

    def post(self, request, *args, **kwargs):
        stopped = self.get_object()
        try:
            started = audience_import_confirm_exits(user=request.user, audience_import=stopped)
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
            return redirect(stopped.get_absolute_url())
        messages.success(
            request,
            _("The file is imported again, and this time the members it leaves out exit; the outcome is below."),
        )
        return redirect(started.get_absolute_url())


class AudienceImportErrorsView(SandboxPermissionRequiredMixin, SingleObjectMixin, View):
    """Download an import's error report (CSV: row, column, value, message)."""

    rule = CAN_VIEW_SEGMENTS
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
