"""
The profiles endpoint of the management API: read profiles with their memberships, write one by identity.

It lives in audiences, not profiles, because both halves reach audiences: a profile's answer lists the audiences
it is in, and a write re-evaluates streaming and edge audiences (`services.profile_ingest`).
"""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from django.db.models import Prefetch
from django.utils.translation import gettext_lazy as _

from accounts.models import Sandbox
from accounts.permissions import CAN_INGEST_PROFILES, CAN_VIEW_PROFILES, CAN_VIEW_SEGMENTS, restrict, sandbox_ids_with
from personalization.api_base import SandboxedReadOnlyModelViewSet
from personalization.audiences.models import AudienceMembership
from personalization.audiences.services import profile_ingest
from personalization.profiles.filtersets import ProfileFilterSet
from personalization.profiles.models import Identity, IdentityNamespace, Profile

__all__ = ["IdentityInputSerializer", "ProfileSerializer", "ProfileUpsertSerializer", "ProfileViewSet"]


#
# Profiles
#


class IdentitySerializer(serializers.ModelSerializer):
    namespace = serializers.SlugRelatedField(slug_field="code", read_only=True)

    class Meta:
        model = Identity
        fields = ["namespace", "value", "primary"]


class MembershipSerializer(serializers.ModelSerializer):
    audience_name = serializers.CharField(source="audience.name", read_only=True)

    class Meta:
        model = AudienceMembership
        fields = ["audience", "audience_name", "status", "qualified_at"]


class ProfileSerializer(serializers.ModelSerializer):
    sandbox = serializers.SlugRelatedField(slug_field="name", read_only=True)
    identities = IdentitySerializer(many=True, read_only=True)
    memberships = MembershipSerializer(
        source="active_memberships",
        many=True,
        read_only=True,
        help_text=_(
            "Audiences the profile is in now (realized or existing); exited memberships are left out. Empty unless "
            "you may see audiences (View Segments)."
        ),
    )

    class Meta:
        model = Profile
        fields = ["id", "sandbox", "identities", "attributes", "memberships", "created_at", "updated_at"]


class TransitionSerializer(serializers.Serializer):
    audience = serializers.UUIDField(help_text=_("The audience whose membership changed."))
    name = serializers.CharField(allow_null=True, help_text=_("The audience's name; null without View Segments."))
    # `from` is a Python keyword: declared under another name, renamed in get_fields.
    from_ = serializers.CharField(allow_null=True, help_text=_("The status before; null for a first membership."))
    to = serializers.CharField(help_text=_("The status after: realized, existing or exited."))

    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = fields.pop("from_")
        return fields


class ProfileWriteResultSerializer(ProfileSerializer):
    transitions = TransitionSerializer(
        many=True, read_only=True, help_text=_("Membership changes this write caused, audience by audience.")
    )

    class Meta(ProfileSerializer.Meta):
        fields = [*ProfileSerializer.Meta.fields, "transitions"]


class IdentityInputSerializer(serializers.Serializer):
    namespace = serializers.CharField(help_text=_("Identity namespace code, e.g. Email (case-sensitive)."))
    id = serializers.CharField(trim_whitespace=False, allow_blank=True, help_text=_("The identity value."))
    primary = serializers.BooleanField(default=False)


class ProfileUpsertSerializer(serializers.Serializer):
    """The body of `PUT`/`PATCH /api/v1/profiles/{namespace}/{id}/`."""

    sandbox = serializers.CharField(
        required=False, help_text=_("Name of the sandbox, e.g. prod; or give it as the ?sandbox= query parameter.")
    )
    attributes = serializers.JSONField(
        required=False,
        help_text=_("PUT: the profile's new attributes. PATCH: a JSON Merge Patch (null removes a key)."),
    )
    identities = IdentityInputSerializer(many=True, required=False, help_text=_("Identities to add."))


class ProfileViewSet(SandboxedReadOnlyModelViewSet):
    """
    Profiles; find one by identity with `?identity=<value>&namespace=<code>`, write one through `upsert`.

    Identity values and namespace codes are matched exactly (case-sensitive), as the lookup does.
    """

    queryset = Profile.objects.select_related("sandbox").prefetch_related(
        Prefetch("identities", queryset=Identity.objects.select_related("namespace"))
    )
    serializer_class = ProfileSerializer
    filterset_class = ProfileFilterSet
    read_rule = CAN_VIEW_PROFILES
    action_rules = {"upsert": CAN_INGEST_PROFILES}

    def _with_memberships(self, queryset):
        """Prefetch the active memberships, but only of audiences the user may see (View Segments)."""
        memberships = AudienceMembership.objects.filter(status__in=AudienceMembership.ACTIVE_STATUSES)
        visible = restrict(memberships, self.request.user, CAN_VIEW_SEGMENTS)
        return queryset.prefetch_related(
            Prefetch(
                "memberships",
                queryset=visible.select_related("audience").order_by("audience__name"),
                to_attr="active_memberships",
            )
        )

    def get_queryset(self):
        return self._with_memberships(super().get_queryset())

    def filter_queryset(self, queryset):
        self._check_namespace()
        return super().filter_queryset(queryset)

    def _check_namespace(self) -> None:
        """Refuse an unknown namespace code instead of answering "no such profile", which would mislead."""
        code = self.request.query_params.get("namespace")
        if not code:
            return
        known = restrict(IdentityNamespace.objects.all(), self.request.user, CAN_VIEW_PROFILES)
        if not known.filter(code=code).exists():
            codes = sorted(set(known.values_list("code", flat=True)))
            raise serializers.ValidationError(
                {
                    "namespace": [
                        _("No identity namespace has the code %(code)s; codes are case-sensitive. Known: %(known)s.")
                        % {"code": code, "known": ", ".join(codes) or "-"}
                    ]
                },
                code="unknown_namespace",
            )

    @extend_schema(
        responses={
            200: OpenApiResponse(ProfileWriteResultSerializer, description=_("The profile existed; it is updated.")),
            201: OpenApiResponse(
                ProfileWriteResultSerializer, description=_("No profile had the identity; one is created.")
            ),
        }
    )
    @action(
        detail=False,
        methods=["put", "patch"],
        url_path=r"(?P<namespace>[A-Za-z][A-Za-z0-9_]{0,63})/(?P<identity>.+)",
        serializer_class=ProfileUpsertSerializer,
    )
    def upsert(self, request, namespace: str, identity: str):
        """
        `PUT|PATCH /api/v1/profiles/{namespace}/{id}/`: create or update the profile the identity points at.

        PUT replaces the attributes, PATCH merges them (JSON Merge Patch); `identities` are added. Needs Manage
        Profiles on the sandbox named in the body or `?sandbox=`. Streaming and edge audiences are re-evaluated
        before the answer, which lists the membership `transitions`; the next lookup already reflects them.
        """
        body = ProfileUpsertSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        if request.method == "PUT" and "attributes" not in body.validated_data:
            raise serializers.ValidationError(
                {"attributes": [_("PUT replaces the attributes, so send them (use PATCH to change a few).")]}
            )
        result = profile_ingest(
            user=request.user,
            sandbox=self._ingestion_sandbox(body.validated_data.get("sandbox")),
            namespace=namespace,
            value=identity,
            attributes=body.validated_data.get("attributes"),
            identities=body.validated_data.get("identities", []),
            merge=request.method == "PATCH",
        )
        written = restrict(self.queryset, request.user, CAN_INGEST_PROFILES)
        profile = self._with_memberships(written).get(pk=result.profile.pk)
        data = {**ProfileSerializer(profile, context=self.get_serializer_context()).data}
        names_visible = CAN_VIEW_SEGMENTS.allows(request.user, profile.sandbox_id)
        data["transitions"] = [
            {**transition.as_dict(), **({} if names_visible else {"name": None})} for transition in result.transitions
        ]
        return Response(data, status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK)

    def _ingestion_sandbox(self, name: str | None) -> Sandbox:
        """Return the sandbox named in the body or query, answering unseen ones like unknown ones (400)."""
        name = name or self.request.query_params.get("sandbox")
        if not name:
            raise serializers.ValidationError(
                {"sandbox": [_('Name the sandbox in the body ("sandbox": "prod") or as ?sandbox=prod.')]}
            )
        user = self.request.user
        visible = sandbox_ids_with(user, CAN_VIEW_PROFILES) | sandbox_ids_with(user, CAN_INGEST_PROFILES)
        sandbox = Sandbox.objects.filter(name=name, pk__in=visible).first()
        if sandbox is None:
            raise serializers.ValidationError(
                {"sandbox": [_("No sandbox named %(name)s is visible to you.") % {"name": name}]}
            )
        return sandbox
