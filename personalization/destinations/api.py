"""Management API for destinations, their audience activations and attribute mappings."""

from rest_framework import serializers

from django.db.models import Prefetch
from django.utils.translation import gettext_lazy as _

from accounts.permissions import (
    CAN_ACTIVATE,
    CAN_CONNECT_DESTINATIONS,
    CAN_MAP_ATTRIBUTES,
    CAN_VIEW_DESTINATIONS,
    CAN_VIEW_PROFILES,
    CAN_VIEW_SEGMENTS,
)
from personalization.api_base import (
    SandboxedModelSerializer,
    SandboxedModelViewSet,
    SandboxField,
    ScopedReadOnlyField,
    VisibleRelatedField,
)
from personalization.audiences.models import Audience
from personalization.datastreams.models import Datastream
from personalization.destinations.filtersets import (
    AttributeMappingFilterSet,
    AudienceActivationFilterSet,
    DestinationFilterSet,
)
from personalization.destinations.models import AttributeMapping, AudienceActivation, Destination
from personalization.destinations.services import (
    activation_delete,
    activation_save,
    attribute_mapping_create,
    attribute_mapping_delete,
    attribute_mapping_update,
    destination_create,
    destination_delete,
    destination_update,
)
from personalization.governance.models import MarketingAction
from personalization.profiles.models import ProfileField

__all__ = [
    "ActivationSerializer",
    "ActivationViewSet",
    "AttributeMappingSerializer",
    "AttributeMappingViewSet",
    "DestinationDetailSerializer",
    "DestinationSerializer",
    "DestinationViewSet",
]


#
# Audience activations
#


class ActivationSerializer(SandboxedModelSerializer):
    create_only_fields = ("destination", "audience")

    destination = VisibleRelatedField(queryset=Destination.objects.all(), rule=CAN_VIEW_DESTINATIONS)
    audience = VisibleRelatedField(
        queryset=Audience.objects.all(),
        rule=CAN_VIEW_SEGMENTS,
        help_text=_("A published audience of the destination's sandbox; picking one needs View Segments."),
    )
    audience_name = ScopedReadOnlyField(
        source="audience.name",
        rule=CAN_VIEW_SEGMENTS,
        help_text=_("Null without View Segments."),
    )

    class Meta:
        model = AudienceActivation
        fields = ["id", "destination", "audience", "audience_name", "start_date", "end_date", "created_at"]
        validators = []


class ActivationViewSet(SandboxedModelViewSet):
    """Audiences activated to destinations, each served between its start and end dates."""

    queryset = AudienceActivation.objects.select_related("destination", "audience")
    serializer_class = ActivationSerializer
    filterset_class = AudienceActivationFilterSet
    read_rule = CAN_VIEW_DESTINATIONS
    write_rule = CAN_ACTIVATE

    def perform_create(self, serializer):
        serializer.instance = activation_save(
            user=self.request.user, activation=AudienceActivation(), **serializer.validated_data
        )

    def perform_update(self, serializer):
        serializer.instance = activation_save(
            user=self.request.user, activation=serializer.instance, **serializer.validated_data
        )

    def perform_destroy(self, instance):
        activation_delete(user=self.request.user, activation=instance)


#
# Attribute mappings
#


class AttributeMappingSerializer(SandboxedModelSerializer):
    create_only_fields = ("destination",)

    destination = VisibleRelatedField(
        queryset=Destination.objects.all(),
        rule=CAN_VIEW_DESTINATIONS,
        help_text=_("A Custom Personalization With Attributes destination."),
    )
    source = VisibleRelatedField(
        queryset=ProfileField.objects.all(),
        rule=CAN_VIEW_PROFILES,
        help_text=_("A scalar profile field of the destination's sandbox; picking one needs View Profiles."),
    )
    source_path = ScopedReadOnlyField(
        source="source.path", rule=CAN_VIEW_PROFILES, help_text=_("Null without View Profiles.")
    )

    class Meta:
        model = AttributeMapping
        fields = ["id", "destination", "source", "source_path", "target", "created_at"]
        validators = []


class AttributeMappingViewSet(SandboxedModelViewSet):
    """Profile fields sent under friendly names to authenticated callers (at most 30 per destination)."""

    queryset = AttributeMapping.objects.select_related("destination", "source")
    serializer_class = AttributeMappingSerializer
    filterset_class = AttributeMappingFilterSet
    read_rule = CAN_VIEW_DESTINATIONS
    write_rule = CAN_MAP_ATTRIBUTES
    error_fields = {"too_many_mappings": "destination", "attributes_not_supported": "destination"}
    create_service = staticmethod(attribute_mapping_create)
    update_service = staticmethod(attribute_mapping_update)
    delete_service = staticmethod(attribute_mapping_delete)
    instance_kwarg = "mapping"


#
# Destinations
#


class DestinationSerializer(SandboxedModelSerializer):
    sandbox = SandboxField()
    datastream = VisibleRelatedField(
        queryset=Datastream.objects.all(),
        rule=CAN_VIEW_DESTINATIONS,
        help_text=_("A datastream of the same sandbox with the platform service and Personalization Destinations on."),
    )
    marketing_actions = VisibleRelatedField(
        queryset=MarketingAction.objects.all(),
        rule=CAN_VIEW_DESTINATIONS,
        many=True,
        required=False,
        help_text=_("Ids of the marketing actions this destination performs; data usage policies check them."),
    )
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = Destination
        fields = [
            "id",
            "sandbox",
            "kind",
            "name",
            "description",
            "alias",
            "datastream",
            "enabled",
            "marketing_actions",
            "created_by",
            "created_at",
            "updated_at",
        ]
        validators = []


class NestedActivationSerializer(serializers.ModelSerializer):
    audience_name = ScopedReadOnlyField(
        source="audience.name",
        rule=CAN_VIEW_SEGMENTS,
        help_text=_("Null without View Segments."),
    )

    class Meta:
        model = AudienceActivation
        fields = ["id", "audience", "audience_name", "start_date", "end_date"]
        read_only_fields = fields


class NestedAttributeMappingSerializer(serializers.ModelSerializer):
    source_path = ScopedReadOnlyField(
        source="source.path", rule=CAN_VIEW_PROFILES, help_text=_("Null without View Profiles.")
    )

    class Meta:
        model = AttributeMapping
        fields = ["id", "source", "source_path", "target"]
        read_only_fields = fields


class DestinationDetailSerializer(DestinationSerializer):
    """A destination with its activations and attribute mappings (change those through their own endpoints)."""

    activations = NestedActivationSerializer(many=True, read_only=True)
    mappings = NestedAttributeMappingSerializer(many=True, read_only=True)

    class Meta(DestinationSerializer.Meta):
        fields = [*DestinationSerializer.Meta.fields, "activations", "mappings"]


class DestinationViewSet(SandboxedModelViewSet):
    """Custom Personalization destinations; the detail includes their activations and attribute mappings."""

    queryset = Destination.objects.select_related("sandbox", "created_by").prefetch_related("marketing_actions")
    serializer_class = DestinationSerializer
    filterset_class = DestinationFilterSet
    read_rule = CAN_VIEW_DESTINATIONS
    write_rule = CAN_CONNECT_DESTINATIONS
    error_fields = {"too_many_destinations": "sandbox"}
    create_service = staticmethod(destination_create)
    update_service = staticmethod(destination_update)
    delete_service = staticmethod(destination_delete)
    instance_kwarg = "destination"

    def get_queryset(self):
        queryset = super().get_queryset()
        if self.action == "retrieve":
            queryset = queryset.prefetch_related(
                Prefetch("activations", queryset=AudienceActivation.objects.select_related("audience")),
                Prefetch("mappings", queryset=AttributeMapping.objects.select_related("source")),
            )
        return queryset

    def get_serializer_class(self):
        return DestinationDetailSerializer if self.action == "retrieve" else DestinationSerializer
