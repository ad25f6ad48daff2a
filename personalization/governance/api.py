"""
Management API for data governance: labels, marketing actions, policies, the labels on profile fields, and the
constraints endpoint (which policies a set of labels would break for a marketing action).
"""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers
from rest_framework.decorators import action
from rest_framework.response import Response

from django.db import transaction
from django.utils.translation import gettext_lazy as _

from accounts.permissions import CAN_APPLY_LABELS, CAN_MANAGE_POLICIES, CAN_VIEW_POLICIES, CAN_VIEW_PROFILES
from personalization.api_base import (
    SandboxedModelSerializer,
    SandboxedModelViewSet,
    SandboxedReadOnlyModelViewSet,
    SandboxField,
    VisibleRelatedField,
)
from personalization.governance.filtersets import LabelFilterSet, MarketingActionFilterSet, PolicyFilterSet
from personalization.governance.models import Label, MarketingAction, Policy
from personalization.governance.selectors import policies_violated_by_labels, policy_impact
from personalization.governance.services import (
    field_labels_set,
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
    "FieldLabelsViewSet",
    "LabelViewSet",
    "MarketingActionViewSet",
    "PolicyViewSet",
]


class LabelSerializer(SandboxedModelSerializer):
    sandbox = SandboxField()
    create_only_fields = ("sandbox", "code")
    field_paths = serializers.SlugRelatedField(
        source="fields",
        many=True,
        read_only=True,
        slug_field="path",
        help_text=_("Paths of the profile fields carrying the label."),
    )
    is_core = serializers.BooleanField(read_only=True)

    class Meta:
        model = Label
        fields = ["id", "sandbox", "code", "name", "description", "category", "is_core", "field_paths"]
        read_only_fields = ["category"]
        validators = []


class LabelViewSet(SandboxedModelViewSet):
    """Data usage labels: the core ones (C1–C12, I1, I2, S1, S2) in every sandbox, and custom ones."""

    queryset = Label.objects.select_related("sandbox").prefetch_related("fields")
    serializer_class = LabelSerializer
    filterset_class = LabelFilterSet
    read_rule = CAN_VIEW_POLICIES
    write_rule = CAN_MANAGE_POLICIES
    create_service = staticmethod(label_create)
    update_service = staticmethod(label_update)
    delete_service = staticmethod(label_delete)
    instance_kwarg = "label"


class MarketingActionSerializer(SandboxedModelSerializer):
    sandbox = SandboxField()
    is_core = serializers.BooleanField(read_only=True)

    class Meta:
        model = MarketingAction
        fields = ["id", "sandbox", "key", "name", "description", "is_core"]
        validators = []


class ConstraintsQuerySerializer(serializers.Serializer):
    duleLabels = serializers.CharField(  # noqa: N815 (the product's parameter name)
        help_text=_("Comma-separated label codes, e.g. C1,C2."), max_length=2000
    )
    includeDraft = serializers.BooleanField(  # noqa: N815
        default=False, help_text=_("Also evaluate draft policies.")
    )


class ViolatedPolicySerializer(serializers.ModelSerializer):
    status = serializers.SerializerMethodField()
    reading = serializers.CharField(read_only=True)
    marketingActionRefs = serializers.SerializerMethodField()  # noqa: N815
    matchedLabels = serializers.SerializerMethodField()  # noqa: N815

    class Meta:
        model = Policy
        fields = ["id", "name", "description", "status", "deny", "reading", "marketingActionRefs", "matchedLabels"]

    def get_status(self, policy) -> str:
        return policy.status.upper()

    def get_marketingActionRefs(self, policy) -> list[str]:  # noqa: N802
        return [policy.marketing_action.key]

    def get_matchedLabels(self, policy) -> list[str]:  # noqa: N802
        return sorted(self.context["matched"][policy.pk])


class ConstraintsSerializer(serializers.Serializer):
    duleLabels = serializers.ListField(child=serializers.CharField())  # noqa: N815
    violatedPolicies = ViolatedPolicySerializer(many=True)  # noqa: N815


class MarketingActionViewSet(mixins.CreateModelMixin, mixins.DestroyModelMixin, SandboxedReadOnlyModelViewSet):
    """What destinations do with data; custom ones can be added and (unused) deleted."""

    queryset = MarketingAction.objects.select_related("sandbox")
    serializer_class = MarketingActionSerializer
    filterset_class = MarketingActionFilterSet
    read_rule = CAN_VIEW_POLICIES
    write_rule = CAN_MANAGE_POLICIES
    action_rules = {"constraints": CAN_VIEW_POLICIES}

    def perform_create(self, serializer):
        with transaction.atomic():
            serializer.instance = marketing_action_create(user=self.request.user, **serializer.validated_data)

    def perform_destroy(self, instance):
        with transaction.atomic():
            marketing_action_delete(user=self.request.user, action=instance)

    @extend_schema(
        parameters=[
            OpenApiParameter("duleLabels", str, required=True, description=_("Comma-separated label codes.")),
            OpenApiParameter("includeDraft", bool, description=_("Also evaluate draft policies.")),
        ],
        responses=ConstraintsSerializer,
    )
    @action(detail=True, methods=["get"], filter_backends=[])
    def constraints(self, request, pk=None):
        """The policies on this marketing action that data with these labels would violate (enabled ones only,
        unless `includeDraft=true`), as the product's `marketingActions/{name}/constraints?duleLabels=`."""
        marketing_action = self.get_object()
        query = ConstraintsQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        codes = [code.strip() for code in query.validated_data["duleLabels"].split(",") if code.strip()]
        known = set(Label.objects.filter(sandbox_id=marketing_action.sandbox_id).values_list("code", flat=True))
        unknown = sorted(set(codes) - known)
        if not codes or unknown:
            raise serializers.ValidationError(
                {
                    "duleLabels": _("No label %(codes)s in this sandbox; its labels are %(known)s.")
                    % {"codes": ", ".join(unknown), "known": ", ".join(sorted(known))}
                    if unknown
                    else _("Name at least one label code, e.g. duleLabels=C1,C2.")
                }
            )
        found = policies_violated_by_labels(
            marketing_action=marketing_action, labels=codes, include_draft=query.validated_data["includeDraft"]
        )
        context = {**self.get_serializer_context(), "matched": {policy.pk: hits for policy, hits in found}}
        policies = ViolatedPolicySerializer([policy for policy, _hits in found], many=True, context=context)
        return Response({"duleLabels": codes, "violatedPolicies": policies.data})


class PolicySerializer(SandboxedModelSerializer):
    sandbox = SandboxField()
    marketing_action = VisibleRelatedField(
        queryset=MarketingAction.objects.all(),
        rule=CAN_VIEW_POLICIES,
        help_text=_("Id of the marketing action the policy denies (same sandbox)."),
    )
    deny = serializers.JSONField(
        help_text=_('When it denies: {"label": "C2"} or {"operator": "AND"|"OR", "operands": [...]}, nested.')
    )
    reading = serializers.CharField(read_only=True)
    is_core = serializers.BooleanField(read_only=True)

    class Meta:
        model = Policy
        fields = [
            "id",
            "sandbox",
            "name",
            "description",
            "marketing_action",
            "deny",
            "reading",
            "status",
            "is_core",
            "created_at",
        ]
        read_only_fields = ["status"]
        validators = []


class PolicyImpactSerializer(serializers.Serializer):
    destination = serializers.UUIDField()
    destination_name = serializers.CharField()
    audience = serializers.CharField(allow_null=True)
    labels = serializers.ListField(child=serializers.CharField())
    fields = serializers.ListField(child=serializers.CharField())


class PolicyViewSet(SandboxedModelViewSet):
    """Data usage policies: written as drafts, enabled (checked against current activations) or disabled."""

    queryset = Policy.objects.select_related("sandbox", "marketing_action")
    serializer_class = PolicySerializer
    filterset_class = PolicyFilterSet
    read_rule = CAN_VIEW_POLICIES
    write_rule = CAN_MANAGE_POLICIES
    action_rules = {"enable": CAN_MANAGE_POLICIES, "disable": CAN_MANAGE_POLICIES, "impact": CAN_VIEW_POLICIES}
    create_service = staticmethod(policy_create)
    update_service = staticmethod(policy_update)
    delete_service = staticmethod(policy_delete)
    instance_kwarg = "policy"

    def _set_enabled(self, enabled):
        with transaction.atomic():
            policy = policy_set_enabled(user=self.request.user, policy=self.get_object(), enabled=enabled)
        return Response(self.get_serializer(policy).data)

    @extend_schema(request=None, responses=PolicySerializer)
    @action(detail=True, methods=["post"])
    def enable(self, request, pk=None):
        """Enable the policy; refused (400, each violation explained) while current activations break it."""
        return self._set_enabled(True)

    @extend_schema(request=None, responses=PolicySerializer)
    @action(detail=True, methods=["post"])
    def disable(self, request, pk=None):
        """Disable the policy: it restricts nothing any more."""
        return self._set_enabled(False)

    @extend_schema(responses=PolicyImpactSerializer(many=True))
    @action(detail=True, methods=["get"], filter_backends=[])
    def impact(self, request, pk=None):
        """The current activations the policy blocks (enabled) or would block (draft): field → audience or
        mapping → destination."""
        rows = [
            {
                "destination": destination.pk,
                "destination_name": destination.name,
                "audience": violation.audience.name if violation.audience is not None else None,
                "labels": list(violation.labels),
                "fields": list(violation.fields),
            }
            for destination, check in policy_impact(self.get_object())
            for violation in check.violations
        ]
        return Response(PolicyImpactSerializer(rows, many=True).data)


class FieldLabelsSerializer(serializers.ModelSerializer):
    labels = serializers.SlugRelatedField(
        many=True,
        slug_field="code",
        queryset=Label.objects.all(),
        help_text=_("Codes of the field's labels; a PUT replaces them all."),
    )

    class Meta:
        model = ProfileField
        fields = ["id", "path", "labels"]
        read_only_fields = ["path"]

    def get_fields(self):
        fields = super().get_fields()
        if isinstance(self.instance, ProfileField):
            fields["labels"].child_relation.queryset = Label.objects.filter(sandbox_id=self.instance.sandbox_id)
        return fields


class FieldLabelsViewSet(mixins.UpdateModelMixin, SandboxedReadOnlyModelViewSet):
    """The data usage labels on each profile field; PUT a field's `labels` to change them."""

    queryset = ProfileField.objects.select_related("sandbox").prefetch_related("labels").order_by("path")
    serializer_class = FieldLabelsSerializer
    read_rule = CAN_VIEW_PROFILES
    write_rule = CAN_APPLY_LABELS

    def perform_update(self, serializer):
        if "labels" not in serializer.validated_data:
            return  # a PATCH without labels changes nothing
        with transaction.atomic():
            field_labels_set(
                user=self.request.user, field=serializer.instance, labels=serializer.validated_data["labels"]
            )
