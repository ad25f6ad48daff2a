import uuid

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from accounts.models import SandboxedModel
from personalization.profiles.identities import identity_problem
from personalization.validators import (
    dotted_path_validator,
    field_error,
    namespace_code_validator,
    require_same_sandbox,
)

__all__ = ["Identity", "IdentityNamespace", "Profile", "ProfileField"]


class ProfileField(SandboxedModel):
    """One attribute of the profile schema, addressed by its dotted path in the profile's JSON."""

    class FieldType(models.TextChoices):
        STRING = "string", _("String")
        NUMBER = "number", _("Number")
        BOOLEAN = "boolean", _("Boolean")
        DATE = "date", _("Date")
        ARRAY = "array", _("Array")
        MAP = "map", _("Map")

    SCALAR_TYPES = (FieldType.STRING, FieldType.NUMBER, FieldType.BOOLEAN, FieldType.DATE)

    sandbox = models.ForeignKey("accounts.Sandbox", on_delete=models.PROTECT, related_name="profile_fields")
    path = models.CharField(
        _("path"),
        max_length=255,
        validators=[dotted_path_validator],
        help_text=_("Dotted path in the profile, e.g. homeAddress.countryCode."),
    )
    field_type = models.CharField(_("type"), max_length=16, choices=FieldType.choices, default=FieldType.STRING)
    description = models.TextField(_("description"), blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["path"]
        verbose_name = _("profile field")
        verbose_name_plural = _("profile fields")
        constraints = [
            models.UniqueConstraint(
                fields=["sandbox", "path"],
                name="profile_field_path_unique_per_sandbox",
                violation_error_message=_("This sandbox already has a profile field with this path."),
            )
        ]

    def __str__(self):
        return self.path

    def get_absolute_url(self):
        return reverse("profiles:profilefield_detail", args=[self.pk])

    @property
    def is_scalar(self) -> bool:
        return self.field_type in self.SCALAR_TYPES

    @property
    def leaf_name(self) -> str:
        return self.path.rsplit(".", 1)[-1]

    def clean(self):
        super().clean()
        if not self.sandbox_id or not self.path:
            return
        # A path cannot be both a value and a container of other values (loyalty vs loyalty.status).
        prefixes = [self.path[:i] for i, ch in enumerate(self.path) if ch == "."]
        clash = (
            ProfileField.objects.filter(sandbox_id=self.sandbox_id)
            .filter(Q(path__in=prefixes) | Q(path__startswith=self.path + "."))
            .exclude(pk=self.pk)
            .first()
        )
        if clash is not None:
            raise ValidationError(
                {
                    "path": ValidationError(
                        _("%(path)s overlaps the existing field %(other)s; a path cannot hold a value and children."),
                        code="path_overlap",
                        params={"path": self.path, "other": clash.path},
                    )
                }
            )


class IdentityNamespace(SandboxedModel):
    """A kind of identity (ECID, Email, CRMID, …); codes are case-sensitive, as in the Edge API's identityMap."""

    sandbox = models.ForeignKey("accounts.Sandbox", on_delete=models.PROTECT, related_name="identity_namespaces")
    code = models.CharField(
        _("code"),
        max_length=64,
        validators=[namespace_code_validator],
        help_text=_("Case-sensitive key used in identityMap, e.g. ECID or Email."),
    )
    name = models.CharField(_("name"), max_length=200)
    description = models.TextField(_("description"), blank=True)

    class Meta:
        ordering = ["code"]
        verbose_name = _("identity namespace")
        verbose_name_plural = _("identity namespaces")
        constraints = [
            models.UniqueConstraint(
                fields=["sandbox", "code"],
                name="identity_namespace_code_unique_per_sandbox",
                violation_error_message=_("This sandbox already has an identity namespace with this code."),
            )
        ]

    def __str__(self):
        return self.code


class Profile(SandboxedModel):
    """A person's merged profile: nested JSON attributes plus the identities that point at it."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    sandbox = models.ForeignKey("accounts.Sandbox", on_delete=models.PROTECT, related_name="profiles")
    attributes = models.JSONField(_("attributes"), default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)

    class Meta:
        ordering = ["-updated_at"]
        verbose_name = _("profile")
        verbose_name_plural = _("profiles")

    def __str__(self):
        return str(self.pk)

    def get_absolute_url(self):
        return reverse("profiles:profile_detail", args=[self.pk])

    def clean(self):
        super().clean()
        if not isinstance(self.attributes, dict):
            raise field_error("attributes", _("Attributes must be a JSON object."), "invalid")

    def attribute(self, path: str, default=None):
        """Return the value at dotted `path` in the attributes, or `default` when any part is missing."""
        value = self.attributes
        for part in path.split("."):
            if not isinstance(value, dict) or part not in value:
                return default
            value = value[part]
        return value


class Identity(SandboxedModel):
    """An identity value in a namespace, pointing at exactly one profile of the same sandbox."""

    sandbox = models.ForeignKey("accounts.Sandbox", on_delete=models.PROTECT, related_name="identities")
    namespace = models.ForeignKey(IdentityNamespace, on_delete=models.PROTECT, related_name="identities")
    value = models.CharField(_("value"), max_length=512)
    profile = models.ForeignKey(Profile, on_delete=models.CASCADE, related_name="identities")
    primary = models.BooleanField(_("primary"), default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["namespace__code", "value"]
        verbose_name = _("identity")
        verbose_name_plural = _("identities")
        constraints = [
            models.UniqueConstraint(
                fields=["sandbox", "namespace", "value"],
                name="identity_unique_per_sandbox_namespace",
                violation_error_message=_("This identity already belongs to a profile in this sandbox."),
            ),
            models.UniqueConstraint(
                fields=["profile"],
                condition=Q(primary=True),
                name="identity_one_primary_per_profile",
                violation_error_message=_("A profile can have only one primary identity."),
            ),
        ]

    def __str__(self):
        return "%s:%s" % (self.namespace.code, self.value)

    def clean(self):
        super().clean()
        require_same_sandbox(
            self,
            namespace=getattr(self, "namespace", None) if self.namespace_id else None,
            profile=getattr(self, "profile", None) if self.profile_id else None,
        )
        if self.value is not None and self.namespace_id:
            problem = identity_problem(self.value, self.namespace.code)
            if problem is not None:
                raise field_error("value", problem, "invalid")
