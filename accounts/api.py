"""Management API for sandboxes, roles (read-only), personal tokens and server-to-server API credentials."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import mixins, permissions, serializers, status, viewsets
from rest_framework.response import Response

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.filtersets import AuditEntryFilterSet
from accounts.models import ApiCredential, AuditEntry, PersonalToken, Role, Sandbox
from accounts.permissions import (
    CAN_MANAGE_API_CREDENTIALS,
    CAN_MANAGE_ROLES,
    CAN_VIEW_AUDIT_LOG,
    CAN_VIEW_DATASTREAMS,
    SIGNED_IN,
    RuleDeclaringViewSetMixin,
    SandboxObjectPermission,
    permission_map,
    restrict,
    sandboxes_visible_to,
)
from accounts.selectors import audit_entries
from accounts.services import (
    api_credential_create,
    api_credential_revoke,
    personal_token_create,
    personal_token_revoke,
)
from personalization.api_base import SandboxField

__all__ = [
    "ApiCredentialCreatedSerializer",
    "ApiCredentialSerializer",
    "ApiCredentialViewSet",
    "AuditEntrySerializer",
    "AuditEntryViewSet",
    "PersonalTokenCreatedSerializer",
    "PersonalTokenSerializer",
    "PersonalTokenViewSet",
    "RoleSerializer",
    "RoleViewSet",
    "SandboxSerializer",
    "SandboxViewSet",
]


class PersonalTokenScheme(OpenApiAuthenticationExtension):
    """Describe `Authorization: Token <plaintext>` in the OpenAPI document."""

    target_class = "accounts.authentication.PersonalTokenAuthentication"
    name = "personalToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "A personal token from POST /api/v1/tokens/, sent as `Token <prefix>.<secret>`.",
        }


#
# Sandboxes
#


class SandboxSerializer(serializers.ModelSerializer):
    permissions = serializers.SerializerMethodField(help_text=_("The permissions your roles grant you here."))

    class Meta:
        model = Sandbox
        fields = ["id", "name", "title", "kind", "permissions"]

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_permissions(self, sandbox) -> list[str]:
        return sorted(permission_map(self.context["request"].user).get(sandbox.pk, ()))


class SandboxViewSet(RuleDeclaringViewSetMixin, viewsets.ReadOnlyModelViewSet):
    """The sandboxes where your roles grant you any permission, with what they grant."""

    queryset = Sandbox.objects.all()
    serializer_class = SandboxSerializer
    permission_classes = [permissions.IsAuthenticated]
    read_rule = SIGNED_IN

    def get_queryset(self):
        return sandboxes_visible_to(self.request.user)


#
# Roles
#


class RolePermission(SandboxObjectPermission):
    """
    Let role managers read roles; a role spans several sandboxes, so `restrict()` alone scopes the objects.

    The queryset already holds only roles on a sandbox where the user holds Manage Roles.
    """

    def has_object_permission(self, request, view, obj) -> bool:
        return True


class RoleSerializer(serializers.ModelSerializer):
    permissions = serializers.ListField(child=serializers.CharField(), read_only=True)
    sandboxes = serializers.SlugRelatedField(many=True, read_only=True, slug_field="name")
    users = serializers.SlugRelatedField(many=True, read_only=True, slug_field="username")

    class Meta:
        model = Role
        fields = ["id", "name", "description", "permissions", "sandboxes", "users"]


class RoleViewSet(RuleDeclaringViewSetMixin, viewsets.ReadOnlyModelViewSet):
    """Roles on the sandboxes where you hold Manage Roles (read-only; manage roles in the UI)."""

    queryset = Role.objects.prefetch_related("sandboxes", "users")
    serializer_class = RoleSerializer
    permission_classes = [RolePermission]
    read_rule = CAN_MANAGE_ROLES

    def get_queryset(self):
        return restrict(super().get_queryset(), self.request.user, self.read_rule)


#
# Personal tokens
#


class TokensCannotCreateTokens(permissions.BasePermission):
    """A leaked token must not outlive its revocation, so new tokens come from a signed-in session only."""

    message = _("Create tokens while signed in (session); a personal token cannot create other tokens.")

    def has_permission(self, request, view) -> bool:
        return view.action != "create" or not isinstance(request.auth, PersonalToken)


class ExpiresInFutureMixin:
    """Refuse an `expires_at` in the past: a secret that is dead on arrival is always a mistake."""

    def validate_expires_at(self, value):
        if value is not None and value <= timezone.now():
            raise serializers.ValidationError(_("The expiry must be in the future."), code="expired")
        return value


class PersonalTokenSerializer(ExpiresInFutureMixin, serializers.ModelSerializer):
    active = serializers.BooleanField(source="is_active", read_only=True)

    class Meta:
        model = PersonalToken
        fields = ["id", "name", "prefix", "created_at", "expires_at", "last_used_at", "revoked_at", "active"]
        read_only_fields = ["prefix", "created_at", "last_used_at", "revoked_at"]


class PersonalTokenCreatedSerializer(PersonalTokenSerializer):
    token = serializers.CharField(
        source="plaintext",
        read_only=True,
        help_text=_("The token itself, shown only in this response; send it as `Authorization: Token <token>`."),
    )

    class Meta(PersonalTokenSerializer.Meta):
        fields = [*PersonalTokenSerializer.Meta.fields, "token"]


class PersonalTokenViewSet(
    RuleDeclaringViewSetMixin,
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Your personal API tokens; they act with your own permissions. DELETE revokes a token."""

    queryset = PersonalToken.objects.all()
    serializer_class = PersonalTokenSerializer
    permission_classes = [permissions.IsAuthenticated, TokensCannotCreateTokens]
    read_rule = SIGNED_IN  # every user's own tokens

    def get_queryset(self):
        user = self.request.user
        if not user.is_authenticated:
            return super().get_queryset().none()
        return super().get_queryset().filter(user=user)

    @extend_schema(request=PersonalTokenSerializer, responses={201: PersonalTokenCreatedSerializer})
    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        token, plaintext = personal_token_create(user=request.user, **serializer.validated_data)
        token.plaintext = plaintext
        return Response(PersonalTokenCreatedSerializer(token).data, status=status.HTTP_201_CREATED)

    @extend_schema(description="Revoke the token: it stops working at once and stays listed with `revoked_at`.")
    def destroy(self, request, *args, **kwargs):
        token = self.get_object()
        if token.revoked_at is None:
            personal_token_revoke(token=token)
        return Response(status=status.HTTP_204_NO_CONTENT)


#
# API credentials (server-to-server, for authenticated lookups)
#


class ApiCredentialSerializer(ExpiresInFutureMixin, serializers.ModelSerializer):
    sandbox = SandboxField()
    active = serializers.BooleanField(source="is_active", read_only=True)

    class Meta:
        model = ApiCredential
        fields = [
            "id",
            "sandbox",
            "name",
            "client_id",
            "created_at",
            "expires_at",
            "last_used_at",
            "revoked_at",
            "active",
        ]
        read_only_fields = ["client_id", "created_at", "last_used_at", "revoked_at"]


class ApiCredentialCreatedSerializer(ApiCredentialSerializer):
    client_secret = serializers.CharField(
        source="plaintext_secret",
        read_only=True,
        help_text=_("The secret, shown only in this response; exchange it at /oauth/token for bearer tokens."),
    )

    class Meta(ApiCredentialSerializer.Meta):
        fields = [*ApiCredentialSerializer.Meta.fields, "client_secret"]


class ApiCredentialViewSet(
    RuleDeclaringViewSetMixin,
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """
    Server-to-server credentials of the sandboxes you can see (View Datastreams); creating and revoking
    needs Manage Datastreams. DELETE revokes: the credential's bearer tokens stop working at once.
    """

    queryset = ApiCredential.objects.select_related("sandbox")
    serializer_class = ApiCredentialSerializer
    permission_classes = [SandboxObjectPermission]
    read_rule = CAN_VIEW_DATASTREAMS
    write_rule = CAN_MANAGE_API_CREDENTIALS

    def get_queryset(self):
        return restrict(super().get_queryset(), self.request.user, self.read_rule)

    @extend_schema(request=ApiCredentialSerializer, responses={201: ApiCredentialCreatedSerializer})
    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        credential, secret = api_credential_create(user=request.user, **serializer.validated_data)
        credential.plaintext_secret = secret
        return Response(ApiCredentialCreatedSerializer(credential).data, status=status.HTTP_201_CREATED)

    @extend_schema(description="Revoke the credential; it stays listed with `revoked_at`.")
    def destroy(self, request, *args, **kwargs):
        api_credential_revoke(user=request.user, credential=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


#
# Audit log (read-only)
#


class ScopedQuerysetPermission(SandboxObjectPermission):
    """For querysets scoped in full by a selector: the request needs the rule somewhere; the rows are already safe."""

    def has_object_permission(self, request, view, obj) -> bool:
        return True


class AuditEntrySerializer(serializers.ModelSerializer):
    action = serializers.SerializerMethodField(
        help_text=_("create, update, delete; or sign_in, sign_out, sign_in_failed, locked_out")
    )
    actor = serializers.SlugRelatedField(
        read_only=True, slug_field="username", allow_null=True, help_text=_("Empty for the system")
    )
    object_type = serializers.CharField(source="content_type.model", read_only=True)
    sandbox = serializers.SlugRelatedField(
        read_only=True, slug_field="name", allow_null=True, help_text=_("Empty for roles, users and sign-ins")
    )
    changes = serializers.JSONField(source="changes_dict", read_only=True, help_text=_("{field: [before, after]}"))
    via = serializers.SerializerMethodField(help_text=_("The personal token a change came through, if any"))

    class Meta:
        model = AuditEntry
        fields = [
            "id", "timestamp", "action", "actor", "via", "remote_addr", "sandbox",
            "object_type", "object_pk", "object_repr", "changes",
        ]  # fmt: skip

    @extend_schema_field(
        serializers.ChoiceField(
            choices=["create", "update", "delete", "access", *[event for event in AuditEntry.Event.values if event]]
        )
    )
    def get_action(self, entry) -> str:
        return entry.event or {0: "create", 1: "update", 2: "delete", 3: "access"}[entry.action]

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_via(self, entry) -> str | None:
        return (entry.additional_data or {}).get("via")


class AuditEntryViewSet(RuleDeclaringViewSetMixin, viewsets.ReadOnlyModelViewSet):
    """
    The audit log (View Audit Log): configuration changes with before and after values, and sign-in events.

    Filter with `?sandbox=<name>`, `?action=create|update|delete|sign_in|sign_out|sign_in_failed|locked_out`,
    `?object_type=<model>`, `?since=` / `?until=<ISO date>` and `?q=` (object or user); the page's filters.
    """

    queryset = AuditEntry.objects.none()
    serializer_class = AuditEntrySerializer
    permission_classes = [ScopedQuerysetPermission]
    read_rule = CAN_VIEW_AUDIT_LOG
    filterset_class = AuditEntryFilterSet

    def get_queryset(self):
        return audit_entries(user=self.request.user)
