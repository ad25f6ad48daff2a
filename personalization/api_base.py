"""
Shared pieces of the management API: sandboxed viewsets whose writes go through the domain services.

Every queryset is `restrict()`-ed with the viewset's `read_rule`, so objects in other sandboxes are 404; each
action asks the rule the viewset declares for it (`rule_for`), which the permission matrix test reads too.
Writes call the app's service functions, which run `full_clean()` and re-check the rule on the object's
sandbox; their `ValidationError`s become 400s naming the field (`personalization.api_errors`).
"""

from collections.abc import Callable

from rest_framework import exceptions, serializers, viewsets
from rest_framework.views import APIView

from django.contrib.auth.models import AnonymousUser
from django.db import transaction
from django.urls import resolve
from django.utils.translation import gettext_lazy as _

from accounts.models import Sandbox
from accounts.permissions import (
    SIGNED_IN,
    RuleDeclaringViewSetMixin,
    SandboxObjectPermission,
    restrict,
    sandbox_ids_with,
    sandbox_of,
)

__all__ = [
    "ApiNotFoundView",
    "SandboxField",
    "SandboxedModelSerializer",
    "SandboxedModelViewSet",
    "SandboxedReadOnlyModelViewSet",
    "ScopedReadOnlyField",
    "VisibleRelatedField",
]


def _request_user(context):
    request = context.get("request")
    return getattr(request, "user", None) or AnonymousUser()


#
# Fields
#


class SandboxField(serializers.SlugRelatedField):
    """
    The object's sandbox, given by name; only sandboxes where the user holds the view's `read_rule`.

    A sandbox the user cannot see is answered like one that does not exist (400), never with a 403 that
    would confirm it exists.
    """

    def __init__(self, **kwargs):
        kwargs.setdefault("help_text", _("Name of the sandbox, e.g. prod. Set on creation; it cannot change later."))
        super().__init__(slug_field="name", queryset=Sandbox.objects.all(), **kwargs)

    def get_queryset(self):
        rule = getattr(self.context.get("view"), "read_rule", None)
        if rule is None:
            return Sandbox.objects.none()
        return super().get_queryset().filter(pk__in=sandbox_ids_with(_request_user(self.context), rule))


class VisibleRelatedField(serializers.PrimaryKeyRelatedField):
    """A related object by id, offered only from sandboxes where the user satisfies `rule`."""

    def __init__(self, *, rule, **kwargs):
        self.rule = rule
        super().__init__(**kwargs)

    def get_queryset(self):
        return restrict(super().get_queryset(), _request_user(self.context), self.rule)


class ScopedReadOnlyField(serializers.CharField):
    """
    A value from another domain (an audience's name on an activation), shown only when the user satisfies `rule`
    on the object's sandbox; otherwise null. Cross-domain reads never widen what a role lets one see.
    """

    def __init__(self, *, rule, **kwargs):
        self.rule = rule
        super().__init__(read_only=True, allow_null=True, **kwargs)

    def get_attribute(self, instance):
        if not self.rule.allows(_request_user(self.context), sandbox_of(instance)):
            return None
        return super().get_attribute(instance)


#
# Serializers
#


class SandboxedModelSerializer(serializers.ModelSerializer):
    """
    A model serializer whose `create_only_fields` are writable on creation and fixed afterwards.

    Sending a different value for such a field on update is refused with a 400 naming it, rather than
    silently ignored: moving an object to another sandbox (or destination) is not an update.
    """

    create_only_fields: tuple[str, ...] = ("sandbox",)

    def get_fields(self):
        fields = super().get_fields()
        if self.instance is not None and not isinstance(self.instance, list | tuple):
            for name in self.create_only_fields:
                if name in fields:
                    fields[name].read_only = True
        return fields

    def validate(self, attrs):
        attrs = super().validate(attrs)
        if self.instance is None or not hasattr(self, "initial_data"):
            return attrs
        errors = {}
        for name in self.create_only_fields:
            if name not in self.initial_data:
                continue
            current = self.fields[name].to_representation(getattr(self.instance, name))
            if str(self.initial_data[name]) != str(current):
                errors[name] = _("%(field)s is set when the object is created and cannot change; it is %(value)s.") % {
                    "field": name,
                    "value": current,
                }
        if errors:
            raise serializers.ValidationError(errors, code="immutable")
        return attrs


#
# Viewsets
#


class _SandboxedQuerysetMixin(RuleDeclaringViewSetMixin):
    permission_classes = [SandboxObjectPermission]
    # Codes of errors a model raises for the whole object, and the request field the 400 should name.
    error_fields: dict[str, str] = {}

    def get_queryset(self):
        return restrict(super().get_queryset(), self.request.user, self.read_rule)


class SandboxedReadOnlyModelViewSet(_SandboxedQuerysetMixin, viewsets.ReadOnlyModelViewSet):
    """List and retrieve objects of the sandboxes where the user holds `read_rule`."""


class SandboxedModelViewSet(_SandboxedQuerysetMixin, viewsets.ModelViewSet):
    """
    CRUD over sandboxed objects, writing through the app's services.

    Subclasses name the services as `staticmethod`s: `create_service(user=, **data)`,
    `update_service(user=, <instance_kwarg>=obj, **data)` and `delete_service(user=, <instance_kwarg>=obj)`.
    """

    create_service: Callable
    update_service: Callable
    delete_service: Callable
    instance_kwarg: str = ""

    def perform_create(self, serializer):
        with transaction.atomic():
            serializer.instance = self.create_service(user=self.request.user, **serializer.validated_data)

    def perform_update(self, serializer):
        with transaction.atomic():
            serializer.instance = self.update_service(
                user=self.request.user, **{self.instance_kwarg: serializer.instance}, **serializer.validated_data
            )

    def perform_destroy(self, instance):
        with transaction.atomic():
            self.delete_service(user=self.request.user, **{self.instance_kwarg: instance})


class ApiNotFoundView(APIView):
    """
    Answer a path under /api/ that no route matches with a JSON 404, never an HTML page.

    Like every endpoint, it first asks for credentials (401): it tells nothing about the API to anonymous callers.
    """

    rule = SIGNED_IN

    schema = None  # not an operation of the API

    def _not_found(self, request, *args, **kwargs):
        detail = _("No API endpoint at %(path)s; the operations are listed at /api/docs/.") % {"path": request.path}
        with_slash = resolve(request.path_info + "/") if not request.path_info.endswith("/") else None
        if with_slash is not None and getattr(with_slash.func, "view_class", None) is not ApiNotFoundView:
            detail = _("No API endpoint at %(path)s; did you mean %(path)s/ (every path ends with a slash)?") % {
                "path": request.path
            }
        raise exceptions.NotFound(detail)

    get = post = put = patch = delete = head = options = _not_found
