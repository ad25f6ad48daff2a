"""Management API for datastreams."""

from rest_framework import serializers

from django.utils.translation import gettext_lazy as _

from accounts.permissions import CAN_MANAGE_DATASTREAMS, CAN_VIEW_DATASTREAMS
from personalization.api_base import SandboxedModelSerializer, SandboxedModelViewSet, SandboxField
from personalization.datastreams.filtersets import DatastreamFilterSet
from personalization.datastreams.models import Datastream
from personalization.datastreams.services import datastream_create, datastream_delete, datastream_update

__all__ = ["DatastreamSerializer", "DatastreamViewSet"]


class DatastreamSerializer(SandboxedModelSerializer):
    sandbox = SandboxField()
    allowed_origins = serializers.ListField(
        child=serializers.CharField(max_length=255),
        required=False,
        help_text=_("Origins allowed to call the lookup from a browser (CORS), e.g. https://www.example.com."),
    )

    class Meta:
        model = Datastream
        fields = [
            "id",
            "sandbox",
            "name",
            "description",
            "access_type",
            "platform_enabled",
            "edge_segmentation",
            "personalization_destinations",
            "allowed_origins",
            "enabled",
            "created_at",
            "updated_at",
        ]
        # Uniqueness is checked once, by the model, so the API and the UI word it the same way.
        validators = []


class DatastreamViewSet(SandboxedModelViewSet):
    """Datastreams: what a website or server names when it calls the lookup endpoint."""

    queryset = Datastream.objects.select_related("sandbox")
    serializer_class = DatastreamSerializer
    filterset_class = DatastreamFilterSet
    read_rule = CAN_VIEW_DATASTREAMS
    write_rule = CAN_MANAGE_DATASTREAMS
    create_service = staticmethod(datastream_create)
    update_service = staticmethod(datastream_update)
    delete_service = staticmethod(datastream_delete)
    instance_kwarg = "datastream"
