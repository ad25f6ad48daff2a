"""Management API for audiences."""

from rest_framework import serializers

from accounts.constants import MANAGE_SEGMENTS, VIEW_SEGMENTS
from personalization.api_base import SandboxedModelSerializer, SandboxedModelViewSet, SandboxField
from personalization.audiences.filtersets import AudienceFilterSet
from personalization.audiences.models import Audience
from personalization.audiences.services import audience_create, audience_delete, audience_update

__all__ = ["AudienceSerializer", "AudienceViewSet"]


class AudienceSerializer(SandboxedModelSerializer):
    sandbox = SandboxField()
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = Audience
        fields = [
            "id",
            "sandbox",
            "name",
            "description",
            "origin",
            "status",
            "rule",
            "evaluation",
            "external_id",
            "expires_at",
            "profile_count",
            "last_evaluated_at",
            "created_by",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["profile_count", "last_evaluated_at"]
        validators = []


class AudienceViewSet(SandboxedModelViewSet):
    """Audiences: rule-based (segmentation) or uploaded (custom upload)."""

    queryset = Audience.objects.select_related("sandbox", "created_by")
    serializer_class = AudienceSerializer
    filterset_class = AudienceFilterSet
    view_permission = VIEW_SEGMENTS
    change_permission = MANAGE_SEGMENTS
    create_service = staticmethod(audience_create)
    update_service = staticmethod(audience_update)
    delete_service = staticmethod(audience_delete)
    instance_kwarg = "audience"
