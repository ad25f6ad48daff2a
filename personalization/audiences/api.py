"""Management API for audiences: CRUD, publishing, and batch evaluations with their progress."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from django.utils.translation import gettext as _

from accounts.permissions import CAN_MANAGE_SEGMENTS, CAN_VIEW_SEGMENTS
from personalization.api_base import SandboxedModelSerializer, SandboxedModelViewSet, SandboxField
from personalization.audiences.filtersets import AudienceFilterSet
from personalization.audiences.models import Audience, AudienceEvaluation
from personalization.audiences.rules import edge_eligibility
from personalization.audiences.services import (
    audience_create,
    audience_delete,
    audience_evaluation_enqueue,
    audience_publish,
    audience_update,
)

__all__ = ["AudienceEvaluationSerializer", "AudienceSerializer", "AudienceViewSet"]


class AudienceSerializer(SandboxedModelSerializer):
    sandbox = SandboxField()
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    rule_text = serializers.SerializerMethodField(help_text=_("The rule as one readable line."))
    edge = serializers.SerializerMethodField(
        help_text=_("Whether the edge can evaluate the rule on a lookup (`eligible`), and why (`reason`).")
    )

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
            "rule_text",
            "edge",
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

    def get_rule_text(self, audience) -> str | None:
        return audience.rule_text if audience.rule is not None else None

    def get_edge(self, audience) -> dict | None:
        if not isinstance(audience.rule, dict):
            return None
        verdict = edge_eligibility(audience.rule, sandbox_id=audience.sandbox_id)
        return {"eligible": verdict.eligible, "reason": verdict.reason}


class AudienceEvaluationSerializer(serializers.ModelSerializer):
    progress = serializers.FloatField(read_only=True, help_text=_("Share of the sandbox's profiles done, 0 to 1."))

    class Meta:
        model = AudienceEvaluation
        fields = [
            "id",
            "audience",
            "status",
            "trigger",
            "total",
            "processed",
            "progress",
            "entered",
            "exited",
            "error",
            "created_at",
            "started_at",
            "finished_at",
        ]


class AudienceViewSet(SandboxedModelViewSet):
    """Audiences: rule-based (segmentation) or uploaded (custom upload)."""

    queryset = Audience.objects.select_related("sandbox", "created_by")
    serializer_class = AudienceSerializer
    filterset_class = AudienceFilterSet
    read_rule = CAN_VIEW_SEGMENTS
    write_rule = CAN_MANAGE_SEGMENTS
    action_rules = {"publish": CAN_MANAGE_SEGMENTS, "evaluate": CAN_MANAGE_SEGMENTS, "evaluations": CAN_VIEW_SEGMENTS}
    create_service = staticmethod(audience_create)
    update_service = staticmethod(audience_update)
    delete_service = staticmethod(audience_delete)
    instance_kwarg = "audience"

    @extend_schema(request=None, responses=AudienceSerializer)
    @action(detail=True, methods=["post"])
    def publish(self, request, pk=None):
        """Publish the audience; a segmentation audience's first batch evaluation is queued."""
        audience = audience_publish(user=request.user, audience=self.get_object())
        return Response(self.get_serializer(audience).data)

    @extend_schema(request=None, responses={202: AudienceEvaluationSerializer})
    @action(detail=True, methods=["post"])
    def evaluate(self, request, pk=None):
        """Queue a batch evaluation now (or return the one already queued or running)."""
        from personalization.audiences.evaluation import is_batch_evaluable

        audience = self.get_object()
        if not is_batch_evaluable(audience):
            raise serializers.ValidationError(
                {
                    "status": [
                        _(
                            "Only published segmentation audiences whose rule has no event conditions are "
                            "evaluated in batch."
                        )
                    ]
                },
                code="not_evaluable",
            )
        evaluation = audience_evaluation_enqueue(
            audience=audience, trigger=AudienceEvaluation.Trigger.MANUAL, user=request.user
        )
        evaluation.refresh_from_db()
        return Response(AudienceEvaluationSerializer(evaluation).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(responses=AudienceEvaluationSerializer(many=True))
    @action(detail=True, methods=["get"], filter_backends=[])
    def evaluations(self, request, pk=None):
        """The audience's batch evaluations, newest first, a page at a time (`?limit=` and `?offset=`)."""
        audience = self.get_object()
        page = self.paginate_queryset(audience.evaluations.all())
        return self.get_paginated_response(AudienceEvaluationSerializer(page, many=True).data)
