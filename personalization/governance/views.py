"""
Data governance pages: policies (editor, what each would block, enable), labels, marketing actions, and the
labels on profile fields, one field at a time or in bulk.
"""

import json

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views import View
from django.views.generic import FormView
from django.views.generic.detail import SingleObjectMixin

from accounts.permissions import (
    CAN_APPLY_LABELS,
    CAN_MANAGE_POLICIES,
    CAN_VIEW_POLICIES,
    CAN_VIEW_PROFILES,
    SandboxPermissionRequiredMixin,
    in_sandbox,
    restrict,
)
from personalization import generic_views as generic
from personalization.governance.filtersets import LabelFilterSet, MarketingActionFilterSet, PolicyFilterSet
from personalization.governance.forms import (
    BulkLabelForm,
    FieldLabelsForm,
    LabelForm,
    MarketingActionForm,
    PolicyForm,
)
from personalization.governance.models import Label, MarketingAction, Policy
from personalization.governance.selectors import policy_impact
from personalization.governance.services import (
    field_labels_set,
    fields_label_bulk,
    label_create,
    label_delete,
    label_update,
    marketing_action_create,
    marketing_action_delete,
    policy_create,
    policy_delete,
    policy_set_enabled,
    policy_update,
)
from personalization.profiles.models import ProfileField

__all__ = [
    "FieldLabelsBulkView",
    "FieldLabelsEditView",
    "LabelCreateView",
    "LabelDeleteView",
    "LabelDetailView",
    "LabelEditView",
    "LabelListView",
    "MarketingActionCreateView",
    "MarketingActionDeleteView",
    "MarketingActionListView",
    "PolicyCreateView",
    "PolicyDeleteView",
    "PolicyDetailView",
    "PolicyEditView",
    "PolicyListView",
    "PolicyStatusView",
]


class _Governance:
    view_rule = CAN_VIEW_POLICIES
    manage_rule = CAN_MANAGE_POLICIES


#
# Policies
#


class PolicyListView(_Governance, generic.ObjectListView):
    queryset = Policy.objects.select_related("marketing_action")
    filterset_class = PolicyFilterSet
    filter_fields = ("q", "status", "marketing_action")
    actions = ("create",)
    template_name = "governance/policy_list.html"


class PolicyDetailView(_Governance, generic.ObjectDetailView):
    """The policy in one line, its expression, and which current activations it blocks (or would, enabled)."""

    queryset = Policy.objects.select_related("marketing_action", "sandbox")
    actions = ("edit", "delete")
    template_name = "governance/policy_detail.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["impact"] = policy_impact(self.object)
        context["expression_json"] = json.dumps(self.object.deny)  # what the API reads and writes, not Python's repr
        return context


class _PolicyFormMixin:
    form_class = PolicyForm
    template_name = "governance/policy_form.html"


class PolicyCreateView(_Governance, _PolicyFormMixin, generic.ObjectCreateView):
    success_message = _("%(name)s was created as a draft: it restricts nothing until you enable it.")

    def call_service(self, form):
        return policy_create(user=self.request.user, sandbox=self.request.sandbox, **form.policy_fields())


class PolicyEditView(_Governance, _PolicyFormMixin, generic.ObjectEditView):
    queryset = Policy.objects.select_related("marketing_action")
    object_kwarg = "policy"

    def call_service(self, form):
        return policy_update(user=self.request.user, policy=self.get_object(), **form.policy_fields())


class PolicyDeleteView(_Governance, generic.ObjectDeleteView):
    queryset = Policy.objects.all()
    service = staticmethod(policy_delete)
    object_kwarg = "policy"


class PolicyStatusView(SandboxPermissionRequiredMixin, SingleObjectMixin, View):
    """POST `enabled=on` to enable the policy (refused, explained, if current activations break it) or off."""

    rule = CAN_MANAGE_POLICIES
    visible_with = CAN_VIEW_POLICIES
    queryset = Policy.objects.select_related("marketing_action")
    http_method_names = ["post"]

    def post(self, request, pk):
        policy = self.get_object()
        enabled = request.POST.get("enabled") == "on"
        try:
            policy_set_enabled(user=request.user, policy=policy, enabled=enabled)
        except ValidationError as error:
            messages.error(request, _("%(name)s stays a draft.") % {"name": policy.name})
            for message in error.messages:
                messages.error(request, message)
            return redirect(policy)
        if enabled:
            messages.success(
                request, _("%(name)s is enabled: activations that break it are refused.") % {"name": policy}
            )
        else:
            messages.success(request, _("%(name)s is disabled: it restricts nothing now.") % {"name": policy})
        return redirect(policy)


#
# Labels
#


class LabelListView(_Governance, generic.ObjectListView):
    queryset = Label.objects.annotate(field_count=Count("fields"))
    filterset_class = LabelFilterSet
    filter_fields = ("q", "category")
    actions = ("create",)
    template_name = "governance/label_list.html"

    def get_queryset(self):
        return super().get_queryset().order_by("category", "code")


class LabelDetailView(_Governance, generic.ObjectDetailView):
    queryset = Label.objects.all()
    actions = ("edit", "delete")
    template_name = "governance/label_detail.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["labelled_fields"] = self.object.fields.order_by("path")
        context["can_apply"] = CAN_APPLY_LABELS.allows(self.request.user, self.object.sandbox_id)
        return context


class LabelCreateView(_Governance, generic.ObjectCreateView):
    form_class = LabelForm
    service = staticmethod(label_create)


class LabelEditView(_Governance, generic.ObjectEditView):
    queryset = Label.objects.all()
    form_class = LabelForm
    service = staticmethod(label_update)
    object_kwarg = "label"


class LabelDeleteView(_Governance, generic.ObjectDeleteView):
    queryset = Label.objects.all()
    service = staticmethod(label_delete)
    object_kwarg = "label"
    impact = (("fields", _("Profile fields that lose this label")),)


#
# Marketing actions
#


class MarketingActionListView(_Governance, generic.ObjectListView):
    queryset = MarketingAction.objects.annotate(policy_count=Count("policies", distinct=True)).annotate(
        destination_count=Count("destinations", distinct=True)
    )
    filterset_class = MarketingActionFilterSet
    actions = ("create",)
    paginate_by = 100
    template_name = "governance/marketingaction_list.html"


class MarketingActionCreateView(_Governance, generic.ObjectCreateView):
    form_class = MarketingActionForm
    service = staticmethod(marketing_action_create)


class MarketingActionDeleteView(_Governance, generic.ObjectDeleteView):
    queryset = MarketingAction.objects.all()
    service = staticmethod(marketing_action_delete)
    object_kwarg = "action"
    impact = (("policies", _("Policies that deny it")), ("destinations", _("Destinations that declare it")))


#
# Labels on profile fields (Apply Data Usage Labels)
#


class FieldLabelsEditView(SandboxPermissionRequiredMixin, SingleObjectMixin, FormView):
    """Tick the labels of one profile field; adding one that an activation's policy forbids is refused."""

    rule = CAN_APPLY_LABELS
    visible_with = CAN_VIEW_PROFILES
    queryset = ProfileField.objects.prefetch_related("labels")
    form_class = FieldLabelsForm
    template_name = "governance/field_labels_form.html"
    context_object_name = "field"

    def get(self, request, *args, **kwargs):
        self.object = self.get_object()
        return super().get(request, *args, **kwargs)

    def post(self, request, *args, **kwargs):
        self.object = self.get_object()
        return super().post(request, *args, **kwargs)

    def get_form_kwargs(self):
        kwargs = super().get_form_kwargs()
        kwargs["sandbox"] = self.object.sandbox_id
        kwargs.setdefault("initial", {})["labels"] = list(self.object.labels.all())
        return kwargs

    def form_valid(self, form):
        try:
            field_labels_set(user=self.request.user, field=self.object, labels=form.cleaned_data["labels"])
        except ValidationError as error:
            for message in error.messages:
                form.add_error("labels", message)
            return self.form_invalid(form)
        codes = ", ".join(label.code for label in form.cleaned_data["labels"]) or _("none")
        messages.success(
            self.request, _("Labels of %(path)s saved: %(codes)s.") % {"path": self.object.path, "codes": codes}
        )
        return redirect(self.object)


class FieldLabelsBulkView(SandboxPermissionRequiredMixin, FormView):
    """Every profile field of the sandbox with its labels: tick fields and labels, then add or remove them."""

    rule = CAN_APPLY_LABELS
    current_sandbox_only = True
    form_class = BulkLabelForm
    template_name = "governance/field_labels_bulk.html"

    def sandbox_fields(self):
        fields = restrict(ProfileField.objects.all(), self.request.user, CAN_VIEW_PROFILES)
        return in_sandbox(fields, self.request.sandbox).prefetch_related("labels").order_by("path")

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "sandbox": self.request.sandbox, "fields": self.sandbox_fields()}

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        form = context["form"]
        chosen = set(form["profile_fields"].value() or []) if form.is_bound else set()
        context["rows"] = [(field, str(field.pk) in chosen) for field in self.sandbox_fields()]
        context["can_view_policies"] = CAN_VIEW_POLICIES.allows(self.request.user, self.request.sandbox)
        return context

    def form_valid(self, form):
        add = form.cleaned_data["action"] == "add"
        try:
            changed = fields_label_bulk(
                user=self.request.user,
                sandbox=self.request.sandbox,
                fields=form.cleaned_data["profile_fields"],
                labels=form.cleaned_data["labels"],
                add=add,
            )
        except ValidationError as error:
            for message in error.messages:
                form.add_error(None, message)
            return self.form_invalid(form)
        codes = ", ".join(label.code for label in form.cleaned_data["labels"])
        if add:
            text = _("%(codes)s added to %(count)d fields.") % {"codes": codes, "count": changed}
        else:
            text = _("%(codes)s removed from %(count)d fields.") % {"codes": codes, "count": changed}
        messages.success(self.request, text)
        return redirect("governance:field_labels")
