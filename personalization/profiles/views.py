import json

from django import forms
from django.db.models import Count, Prefetch
from django.utils.translation import gettext_lazy as _

from accounts.permissions import CAN_MANAGE_PROFILES, CAN_VIEW_DESTINATIONS, CAN_VIEW_PROFILES, CAN_VIEW_SEGMENTS
from personalization import generic_views as generic
from personalization.profiles.filtersets import ProfileFieldFilterSet, ProfileFilterSet
from personalization.profiles.forms import ProfileFieldForm
from personalization.profiles.models import Identity, IdentityNamespace, Profile, ProfileField
from personalization.profiles.services import profile_field_create, profile_field_delete, profile_field_update

__all__ = [
    "ProfileDetailView",
    "ProfileFieldCreateView",
    "ProfileFieldDeleteView",
    "ProfileFieldDetailView",
    "ProfileFieldEditView",
    "ProfileFieldListView",
    "ProfileListView",
]

#
# Profile fields
#


class _ProfileFieldPermissions:
    view_rule = CAN_VIEW_PROFILES
    manage_rule = CAN_MANAGE_PROFILES


class ProfileFieldListView(_ProfileFieldPermissions, generic.ObjectListView):
    queryset = ProfileField.objects.prefetch_related("labels").annotate(mapping_count=Count("mappings"))
    filterset_class = ProfileFieldFilterSet
    filter_fields = ("q", "field_type")
    actions = ("create",)
    template_name = "profiles/profilefield_list.html"


class ProfileFieldDetailView(_ProfileFieldPermissions, generic.ObjectDetailView):
    queryset = ProfileField.objects.select_related("sandbox").prefetch_related("labels")
    actions = ("edit", "delete")
    template_name = "profiles/profilefield_detail.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        # Destinations belong to their own domain: listed only with View Destinations on the field's sandbox.
        mappings = self.object.mappings.restrict(self.request.user, CAN_VIEW_DESTINATIONS)
        context["mappings"] = mappings.select_related("destination").order_by("destination__name")
        context["may_view_destinations"] = CAN_VIEW_DESTINATIONS.allows(self.request.user, self.object.sandbox_id)
        return context


class ProfileFieldCreateView(_ProfileFieldPermissions, generic.ObjectCreateView):
    form_class = ProfileFieldForm
    service = staticmethod(profile_field_create)


class ProfileFieldEditView(_ProfileFieldPermissions, generic.ObjectEditView):
    queryset = ProfileField.objects.all()
    form_class = ProfileFieldForm
    service = staticmethod(profile_field_update)
    object_kwarg = "field"


class ProfileFieldDeleteView(_ProfileFieldPermissions, generic.ObjectDeleteView):
    queryset = ProfileField.objects.all()
    service = staticmethod(profile_field_delete)
    object_kwarg = "field"
    impact = (
        ("mappings", _("Attribute mappings that send this field")),
        ("labels", _("Data usage labels removed from this field")),
    )


#
# Profiles
#


class ProfileListView(generic.ObjectListView):
    view_rule = CAN_VIEW_PROFILES
    queryset = Profile.objects.prefetch_related(
        Prefetch("identities", queryset=Identity.objects.select_related("namespace").order_by("-primary", "value"))
    )
    filterset_class = ProfileFilterSet
    filter_fields = ("identity", "namespace")
    template_name = "profiles/profile_list.html"

    def get_filterset(self, queryset):
        filterset = super().get_filterset(queryset)
        namespaces = generic.scope_to_sandbox(
            IdentityNamespace.objects.all(), self.request.user, CAN_VIEW_PROFILES, self.request.sandbox
        )
        choices = [("", _("Any namespace")), *((code, code) for code in namespaces.values_list("code", flat=True))]
        filterset.form.fields["namespace"].widget = forms.Select(choices=choices)
        filterset.form.fields["identity"].widget.input_type = "search"
        return filterset


class ProfileDetailView(generic.ObjectDetailView):
    view_rule = CAN_VIEW_PROFILES
    queryset = Profile.objects.select_related("sandbox")
    template_name = "profiles/profile_detail.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["identities"] = self.object.identities.select_related("namespace").order_by("-primary", "value")
        context["attributes_json"] = json.dumps(self.object.attributes, indent=2, sort_keys=True, ensure_ascii=False)
        # Audience names belong to the audiences domain: shown only with View Segments on the profile's sandbox.
        memberships = self.object.memberships.restrict(self.request.user, CAN_VIEW_SEGMENTS)
        context["memberships"] = memberships.select_related("audience").order_by("audience__name")
        context["may_view_audiences"] = CAN_VIEW_SEGMENTS.allows(self.request.user, self.object.sandbox_id)
        return context
