"""Management API for audiences: CRUD, publishing, and batch evaluations with their progress."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from django.utils.translation import gettext as _

from accounts.permissions import CAN_IMPORT_AUDIENCES, CAN_MANAGE_SEGMENTS, CAN_VIEW_SEGMENTS
from personalization.api_base import SandboxedModelSerializer, SandboxedModelViewSet, SandboxField
from personalization.audiences.evaluation import is_batch_evaluable
from personalization.audiences.filtersets import AudienceFilterSet
from personalization.audiences.imports.forms import CsvUploadForm
from personalization.audiences.imports.models import AudienceImport
from personalization.audiences.imports.services import (
    EXPIRATION_DAYS_DEFAULT,
    EXPIRATION_DAYS_MAX,
    EXPIRATION_DAYS_MIN,
    audience_import_start,
)
from personalization.audiences.models import Audience, AudienceEvaluation
from personalization.audiences.rules import edge_eligibility
from personalization.audiences.services import (
    audience_create,
    audience_delete,
    audience_evaluation_enqueue,
    audience_publish,
    audience_update,
)
from personalization.profiles.models import IdentityNamespace
from personalization.profiles.services import unknown_namespace_message

__all__ = [
    "AudienceEvaluationSerializer",
    "AudienceImportRequestSerializer",
    "AudienceImportSerializer",
    "AudienceSerializer",
    "AudienceViewSet",
]


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


class AudienceImportSerializer(serializers.ModelSerializer):
    namespace = serializers.SlugRelatedField(slug_field="code", read_only=True)
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = AudienceImport
        fields = [
            "id",
            "audience",
            "namespace",
            "identity_column",
            "expiration_days",
            "file_name",
            "file_size",
            "confirm_exits",
            "exits_refused",
            "status",
            "progress",
            "rows_total",
            "rows_valid",
            "rows_invalid",
            "profiles_created",
            "error",
            "created_by",
            "created_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields


class AudienceImportRequestSerializer(serializers.Serializer):
    """A new member list for a custom upload audience: the file, its identity column and namespace."""

    file = serializers.FileField(help_text=CsvUploadForm.base_fields["file"].help_text)
    namespace = serializers.CharField(
        help_text=_("Code of an identity namespace of the audience's sandbox, e.g. ECID.")
    )
    identity_column = serializers.CharField(help_text=_("The header name of the column that holds the identities."))
    expiration_days = serializers.IntegerField(
        min_value=EXPIRATION_DAYS_MIN, max_value=EXPIRATION_DAYS_MAX, default=EXPIRATION_DAYS_DEFAULT
    )
    confirm_exits = serializers.BooleanField(
        default=False,
        help_text=_(
            "Needed when the file would make more than half of the current members exit; without it such an "
            "import stops, changes nothing, and reports the count in exits_refused."
        ),
    )

    def validate_file(self, upload):
        form = CsvUploadForm(files={"file": upload})
        if not form.is_valid():
            raise serializers.ValidationError(form.errors["file"])
        self.layout = form.layout
        return upload

    def validate(self, attrs):
        audience = self.context["audience"]
        errors = {}
        namespaces = IdentityNamespace.objects.restrict(self.context["request"].user, CAN_IMPORT_AUDIENCES)
        namespace = namespaces.in_sandbox(audience.sandbox).filter(code=attrs["namespace"]).first()
        if namespace is None:
            errors["namespace"] = unknown_namespace_message(audience.sandbox, attrs["namespace"])
        if attrs["identity_column"] not in self.layout.header:
            errors["identity_column"] = _("The file has no column %(column)s; its columns are %(columns)s.") % {
                "column": attrs["identity_column"],
                "columns": ", ".join(self.layout.header),
            }
        if errors:
            raise serializers.ValidationError(errors)
        return {**attrs, "namespace": namespace, "delimiter": self.layout.delimiter}


class AudienceViewSet(SandboxedModelViewSet):
    """Audiences: rule-based (segmentation) or uploaded (custom upload)."""

    queryset = Audience.objects.select_related("sandbox", "created_by")
    serializer_class = AudienceSerializer
    filterset_class = AudienceFilterSet
    read_rule = CAN_VIEW_SEGMENTS
    write_rule = CAN_MANAGE_SEGMENTS
    action_rules = {
        "publish": CAN_MANAGE_SEGMENTS,
        "evaluate": CAN_MANAGE_SEGMENTS,
        "evaluations": CAN_VIEW_SEGMENTS,
        "imports": CAN_VIEW_SEGMENTS,
        "import_file": CAN_IMPORT_AUDIENCES,
    }
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

    @extend_schema(responses=AudienceImportSerializer(many=True))
    @action(detail=True, methods=["get"], filter_backends=[])
    def imports(self, request, pk=None):
        """The audience's CSV imports, newest first, a page at a time; poll a started import here."""
        audience = self.get_object()
        page = self.paginate_queryset(audience.imports.select_related("namespace", "created_by"))
        return self.get_paginated_response(AudienceImportSerializer(page, many=True).data)

    @extend_schema(
        request={"multipart/form-data": AudienceImportRequestSerializer}, responses={202: AudienceImportSerializer}
    )
    @imports.mapping.post
    def import_file(self, request, pk=None):
        """Import a new member list for a custom upload audience (multipart); it runs in the background."""
        audience = self.get_object()
        body = AudienceImportRequestSerializer(data=request.data, context={"audience": audience, "request": request})
        body.is_valid(raise_exception=True)
        audience_import = audience_import_start(
            user=request.user, audience=audience, upload=body.validated_data.pop("file"), **body.validated_data
        )
        audience_import.refresh_from_db()
        return Response(AudienceImportSerializer(audience_import).data, status=status.HTTP_202_ACCEPTED)
