"""
Management API for the profile schema and identity namespaces.

The profiles endpoint itself is `audiences.profile_api`: reading a profile lists its memberships and writing one
re-evaluates audiences, so it sits above both apps.
"""

from rest_framework import serializers

from django.utils.translation import gettext_lazy as _

from accounts.permissions import CAN_MANAGE_PROFILES, CAN_VIEW_PROFILES
from personalization.api_base import (
    SandboxedModelSerializer,
    SandboxedModelViewSet,
    SandboxField,
)
from personalization.profiles.filtersets import IdentityNamespaceFilterSet, ProfileFieldFilterSet
from personalization.profiles.models import IdentityNamespace, ProfileField
from personalization.profiles.services import (
    identity_namespace_create,
    identity_namespace_delete,
    identity_namespace_update,
    profile_field_create,
    profile_field_delete,
    profile_field_update,
)

__all__ = [
    "IdentityNamespaceSerializer",
    "IdentityNamespaceViewSet",
    "ProfileFieldSerializer",
    "ProfileFieldViewSet",
]


#
# Profile fields
#


class ProfileFieldSerializer(SandboxedModelSerializer):
    sandbox = SandboxField()
    labels = serializers.SlugRelatedField(
        many=True, read_only=True, slug_field="code", help_text=_("Codes of the data usage labels on this field.")
    )
    is_scalar = serializers.BooleanField(
        read_only=True, help_text=_("Only scalar fields can be mapped to destinations or used in rules.")
    )

    class Meta:
        model = ProfileField
        fields = ["id", "sandbox", "path", "field_type", "description", "is_scalar", "labels", "created_at"]
        validators = []


class ProfileFieldViewSet(SandboxedModelViewSet):
    """The profile schema: one dotted path per attribute."""

    queryset = ProfileField.objects.select_related("sandbox").prefetch_related("labels")
    serializer_class = ProfileFieldSerializer
    filterset_class = ProfileFieldFilterSet
    read_rule = CAN_VIEW_PROFILES
    write_rule = CAN_MANAGE_PROFILES
    create_service = staticmethod(profile_field_create)
    update_service = staticmethod(profile_field_update)
    delete_service = staticmethod(profile_field_delete)
    instance_kwarg = "field"


#
# Identity namespaces
#


class IdentityNamespaceSerializer(SandboxedModelSerializer):
    sandbox = SandboxField()

    class Meta:
        model = IdentityNamespace
        fields = ["id", "sandbox", "code", "name", "description"]
        validators = []


class IdentityNamespaceViewSet(SandboxedModelViewSet):
    """Kinds of identity (ECID, Email, CRMID, …); codes are case-sensitive."""

    queryset = IdentityNamespace.objects.select_related("sandbox")
    serializer_class = IdentityNamespaceSerializer
    filterset_class = IdentityNamespaceFilterSet
    read_rule = CAN_VIEW_PROFILES
    write_rule = CAN_MANAGE_PROFILES
    create_service = staticmethod(identity_namespace_create)
    update_service = staticmethod(identity_namespace_update)
    delete_service = staticmethod(identity_namespace_delete)
    instance_kwarg = "namespace"
