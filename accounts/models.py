import hashlib
import secrets

from auditlog.models import AbstractLogEntry, LogEntryManager
from guardian.models import GroupObjectPermissionBase, UserObjectPermissionBase

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.constants import SANDBOX_PERMISSION_CODENAMES, SANDBOX_PERMISSIONS
from accounts.permissions import in_sandbox, restrict, sandbox_of

__all__ = [
    "AccessToken",
    "ApiCredential",
    "AuditEntry",
    "PersonalToken",
    "Role",
    "Sandbox",
    "SandboxGroupObjectPermission",
    "SandboxUserObjectPermission",
    "SandboxedModel",
    "SandboxedQuerySet",
]


class SandboxedQuerySet(models.QuerySet):
    """Rows that live in a sandbox: `Model.objects.restrict(user, rule)` is the one way to scope them."""

    def restrict(self, user, rule):
        return restrict(self, user, rule)

    def in_sandbox(self, sandbox):
        return in_sandbox(self, sandbox)


class SandboxedModel(models.Model):
    """
    Base of every model whose rows belong to a sandbox.

    `SANDBOX_LOOKUP` is the path from a row to its sandbox (`"sandbox"` unless a subclass says otherwise,
    e.g. `"destination__sandbox"` for a child row); `restrict()` and `sandbox_of()` follow it.
    """

    SANDBOX_LOOKUP = "sandbox"

    objects = SandboxedQuerySet.as_manager()

    class Meta:
        abstract = True


class Sandbox(models.Model):
    """A partition of the organisation's data; every domain row belongs to exactly one sandbox."""

    class Kind(models.TextChoices):
        PRODUCTION = "production", _("Production")
        DEVELOPMENT = "development", _("Development")

    name = models.SlugField(
        _("name"), max_length=64, unique=True, help_text=_("Short technical name, e.g. prod or dev.")
    )
    title = models.CharField(_("title"), max_length=200)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices, default=Kind.DEVELOPMENT)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        permissions = SANDBOX_PERMISSIONS
        verbose_name = _("sandbox")
        verbose_name_plural = _("sandboxes")

    def __str__(self):
        return self.title or self.name


class SandboxUserObjectPermission(UserObjectPermissionBase):
    """A guardian permission held by one user on one sandbox (direct foreign key, no generic join)."""

    content_object = models.ForeignKey(Sandbox, on_delete=models.CASCADE)

    class Meta(UserObjectPermissionBase.Meta):
        abstract = False


class SandboxGroupObjectPermission(GroupObjectPermissionBase):
    """A guardian permission held by a role's group on one sandbox."""

    content_object = models.ForeignKey(Sandbox, on_delete=models.CASCADE)

    class Meta(GroupObjectPermissionBase.Meta):
        abstract = False


def validate_permission_codenames(value):
    if not isinstance(value, list) or not all(isinstance(code, str) for code in value):
        raise ValidationError(_("Permissions must be a list of permission codenames."), code="not_a_list")
    unknown = sorted(set(value) - SANDBOX_PERMISSION_CODENAMES)
    if unknown:
        raise ValidationError(
            _("Unknown permission(s): %(unknown)s. Valid codenames: %(valid)s."),
            code="unknown_permission",
            params={"unknown": ", ".join(unknown), "valid": ", ".join(sorted(SANDBOX_PERMISSION_CODENAMES))},
        )


class Role(SandboxedModel):
    """
    A named set of sandbox permissions given to users on chosen sandboxes.

    The role owns one auth `Group`; `accounts.services.role_sync_grants` writes that group's guardian
    object permissions on each sandbox. Roles never grant global model permissions.
    """

    SANDBOX_LOOKUP = "sandboxes"
    SANDBOX_LOOKUP_MULTIVALUED = True

    name = models.CharField(_("name"), max_length=150, unique=True)
    description = models.TextField(_("description"), blank=True)
    permissions = models.JSONField(
        _("permissions"), default=list, blank=True, validators=[validate_permission_codenames]
    )
    users = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="roles", blank=True)
    sandboxes = models.ManyToManyField(Sandbox, related_name="roles", blank=True)
    group = models.OneToOneField(Group, on_delete=models.PROTECT, related_name="role", editable=False)

    class Meta:
        ordering = ["name"]
        verbose_name = _("role")
        verbose_name_plural = _("roles")

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("accounts:role_edit", args=[self.pk])  # a role's page is its form

    @property
    def permission_labels(self):
        labels = dict(SANDBOX_PERMISSIONS)
        return [labels[code] for code in self.permissions if code in labels]


def _token_digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class PersonalToken(models.Model):
    """
    A user's token for the management API; it acts with the user's own sandbox permissions.

    Only a lookup prefix and a SHA-256 digest are stored; the plaintext is shown once at creation.
    """

    PREFIX_LENGTH = 8

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="personal_tokens")
    name = models.CharField(_("name"), max_length=100)
    prefix = models.CharField(
        max_length=PREFIX_LENGTH, unique=True, editable=False, validators=[RegexValidator(r"^[0-9a-f]+$")]
    )
    digest = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("personal API token")
        verbose_name_plural = _("personal API tokens")

    def __str__(self):
        return "%s (%s…)" % (self.name, self.prefix)

    @classmethod
    def generate(cls) -> tuple[str, str, str]:
        """Return a new `(plaintext, prefix, digest)`; the plaintext is `<prefix>.<secret>`."""
        prefix = secrets.token_hex(cls.PREFIX_LENGTH // 2)
        plaintext = "%s.%s" % (prefix, secrets.token_urlsafe(32))
        return plaintext, prefix, _token_digest(plaintext)

    def matches(self, plaintext: str) -> bool:
        return secrets.compare_digest(self.digest, _token_digest(plaintext))

    @property
    def is_active(self) -> bool:
        now = timezone.now()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)


class ApiCredential(SandboxedModel):
    """
    A server-to-server credential scoped to one sandbox (OAuth2 client credentials).

    The client id travels as `x-api-key`; the secret is shown once and stored as a SHA-256 digest. Callers
    exchange id and secret for short-lived bearer tokens; only authenticated lookups receive attributes.
    """

    sandbox = models.ForeignKey(Sandbox, on_delete=models.CASCADE, related_name="api_credentials")
    name = models.CharField(_("name"), max_length=200)
    client_id = models.CharField(_("client ID"), max_length=64, unique=True, editable=False)
    secret_digest = models.CharField(max_length=64, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("API credential")
        verbose_name_plural = _("API credentials")
        constraints = [
            models.UniqueConstraint(
                fields=["sandbox", "name"],
                name="api_credential_name_unique_per_sandbox",
                violation_error_message=_("This sandbox already has an API credential with this name."),
            )
        ]

    def __str__(self):
        return "%s (%s)" % (self.name, self.client_id)

    @staticmethod
    def generate() -> tuple[str, str, str]:
        """Return a new `(client_id, secret, secret_digest)`."""
        secret = "cpcs_" + secrets.token_urlsafe(32)
        return "cpc_" + secrets.token_hex(12), secret, _token_digest(secret)

    def matches(self, secret: str) -> bool:
        return secrets.compare_digest(self.secret_digest, _token_digest(secret))

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > timezone.now())


class AccessToken(SandboxedModel):
    """A bearer token issued to an API credential; stored as a digest, valid until `expires_at`."""

    SANDBOX_LOOKUP = "credential__sandbox"

    credential = models.ForeignKey(ApiCredential, on_delete=models.CASCADE, related_name="tokens")
    digest = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["credential", "expires_at"], name="token_credential_expiry")]

    def __str__(self):
        return "token for %s" % self.credential

    @staticmethod
    def digest_of(token: str) -> str:
        return _token_digest(token)


class AuditEntryManager(LogEntryManager):
    """django-auditlog's manager, also noting the sandbox each logged object belongs to."""

    def log_create(self, instance, force_log: bool = False, **kwargs):
        kwargs.setdefault("sandbox_id", _sandbox_id_of(instance))
        return super().log_create(instance, force_log=force_log, **kwargs)

    def log_m2m_changes(self, changed_queryset, instance, operation, field_name, **kwargs):
        kwargs.setdefault("sandbox_id", _sandbox_id_of(instance))
        return super().log_m2m_changes(changed_queryset, instance, operation, field_name, **kwargs)


def _sandbox_id_of(instance):
    """Return the sandbox of a logged object, or None for what spans sandboxes (roles, users, personal tokens)."""
    if isinstance(instance, Sandbox) or getattr(type(instance), "SANDBOX_LOOKUP_MULTIVALUED", False):
        return None
    if getattr(type(instance), "SANDBOX_LOOKUP", None) is None:
        return None
    try:
        return sandbox_of(instance)
    except ObjectDoesNotExist:
        return None  # a parent deleted in the same cascade


class AuditEntry(AbstractLogEntry):
    """
    One audit log line: a configuration change (django-auditlog's entry) or a sign-in event.

    `sandbox` is where the changed object lives (empty for roles, users and sign-ins, which span sandboxes);
    `event` names sign-in events, which have no object change.
    """

    class Event(models.TextChoices):
        CHANGE = "", _("Configuration change")
        SIGN_IN = "sign_in", _("Signed in")
        SIGN_OUT = "sign_out", _("Signed out")
        SIGN_IN_FAILED = "sign_in_failed", _("Sign-in failed")
        LOCKED_OUT = "locked_out", _("Locked out")

    sandbox = models.ForeignKey(Sandbox, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    event = models.CharField(_("event"), max_length=16, choices=Event.choices, blank=True, default="")

    objects = AuditEntryManager()

    class Meta(AbstractLogEntry.Meta):
        verbose_name = _("audit log entry")
        verbose_name_plural = _("audit log entries")
        indexes = [
            models.Index(fields=["sandbox", "-timestamp"], name="audit_sandbox_time"),
            models.Index(fields=["event", "-timestamp"], name="audit_event_time"),
        ]
