import re
import uuid

from django.core.exceptions import ValidationError
from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from accounts.models import SandboxedModel

__all__ = ["Datastream"]


# What a browser sends in its Origin header: scheme, host (name or bracketed IPv6) and an optional port, nothing else.
_ORIGIN_RE = re.compile(
    r"https?://(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*)"
    r"(:[0-9]{1,5})?"
)


def validate_origins(value):
    if not isinstance(value, list):
        raise ValidationError(_("Allowed origins must be a list."), code="not_a_list")
    for origin in value:
        if not isinstance(origin, str) or not _ORIGIN_RE.fullmatch(origin):
            raise ValidationError(
                _("%(origin)s is not an origin; write scheme and host only, e.g. https://www.example.com."),
                code="invalid_origin",
                params={"origin": origin},
            )


class Datastream(SandboxedModel):
    """Server-side configuration a website or server names when it calls the lookup endpoint."""

    class AccessType(models.TextChoices):
        MIXED = "mixed", _("Mixed authentication")
        AUTHENTICATED = "authenticated", _("Authenticated only")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    sandbox = models.ForeignKey("accounts.Sandbox", on_delete=models.PROTECT, related_name="datastreams")
    name = models.CharField(_("name"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    access_type = models.CharField(
        _("access type"),
        max_length=16,
        choices=AccessType.choices,
        default=AccessType.MIXED,
        help_text=_("Authenticated only refuses calls without an API credential."),
    )
    platform_enabled = models.BooleanField(
        _("platform service enabled"), default=True, help_text=_("The Experience Platform service on this datastream.")
    )
    edge_segmentation = models.BooleanField(
        _("edge segmentation"),
        default=False,
        help_text=_("Evaluate edge audiences on each request so the same response carries new memberships."),
    )
    personalization_destinations = models.BooleanField(
        _("personalization destinations"),
        default=False,
        help_text=_("Allow Custom Personalization destinations to answer on this datastream."),
    )
    allowed_origins = models.JSONField(
        _("allowed browser origins"),
        default=list,
        blank=True,
        validators=[validate_origins],
        help_text=_("Origins allowed to call the lookup from a browser (CORS), e.g. https://www.example.com."),
    )
    enabled = models.BooleanField(_("enabled"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("datastream")
        verbose_name_plural = _("datastreams")
        constraints = [
            models.UniqueConstraint(
                fields=["sandbox", "name"],
                name="datastream_name_unique_per_sandbox",
                violation_error_message=_("A datastream with this name already exists in this sandbox."),
            )
        ]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("datastreams:datastream_detail", args=[self.pk])

    @property
    def accepts_personalization_destinations(self) -> bool:
        return self.platform_enabled and self.personalization_destinations
