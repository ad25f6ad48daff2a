import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from accounts.models import SandboxedModel
from personalization.validators import field_error, json_key_validator, require_same_sandbox

__all__ = ["AttributeMapping", "AudienceActivation", "Destination"]

MAX_DESTINATIONS_PER_SANDBOX = 100
MAX_ATTRIBUTE_MAPPINGS = 30
WARN_PERSONALIZATION_DESTINATIONS = 10
WARN_AUDIENCES_PER_DESTINATION = 250


class Destination(SandboxedModel):
    """A Custom Personalization connection: which datastream answers with which audiences, under which alias."""

    class Kind(models.TextChoices):
        CUSTOM_PERSONALIZATION = "custom_personalization", _("Custom Personalization")
        WITH_ATTRIBUTES = "custom_personalization_with_attributes", _("Custom Personalization With Attributes")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    sandbox = models.ForeignKey("accounts.Sandbox", on_delete=models.PROTECT, related_name="destinations")
    kind = models.CharField(_("destination"), max_length=48, choices=Kind.choices)
    name = models.CharField(_("name"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    alias = models.CharField(
        _("integration alias"),
        max_length=64,
        validators=[json_key_validator],
        help_text=_("Sent to the page as the destination's alias; callers filter result.destinations by it."),
    )
    datastream = models.ForeignKey(
        "datastreams.Datastream",
        on_delete=models.PROTECT,
        related_name="destinations",
        verbose_name=_("datastream"),
    )
    enabled = models.BooleanField(_("enabled"), default=True)
    marketing_actions = models.ManyToManyField(
        "governance.MarketingAction", related_name="destinations", blank=True, verbose_name=_("marketing actions")
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("destination")
        verbose_name_plural = _("destinations")
        constraints = [
            models.UniqueConstraint(
                fields=["datastream", "alias"],
                name="destination_alias_unique_per_datastream",
                violation_error_message=_(
                    "Another destination on this datastream already uses this integration alias; "
                    "callers tell destinations apart by alias, so pick a different one."
                ),
            )
        ]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("destinations:destination_detail", args=[self.pk])

    @property
    def returns_attributes(self) -> bool:
        return self.kind == self.Kind.WITH_ATTRIBUTES

    def clean(self):
        super().clean()
        datastream = self.datastream if self.datastream_id else None
        require_same_sandbox(self, datastream=datastream)
        if datastream is not None and not datastream.accepts_personalization_destinations:
            raise ValidationError(
                {
                    "datastream": ValidationError(
                        _(
                            "The datastream %(name)s does not have personalization destinations enabled; "
                            "turn on the platform service and Personalization Destinations on it first."
                        ),
                        code="datastream_not_eligible",
                        params={"name": datastream.name},
                    )
                }
            )
        if self._state.adding and self.sandbox_id:
            count = Destination.objects.filter(sandbox_id=self.sandbox_id).count()
            if count >= MAX_DESTINATIONS_PER_SANDBOX:
                raise ValidationError(
                    _(
                        "This sandbox already has %(count)d destinations, the maximum is %(limit)d; "
                        "delete a destination you no longer need first."
                    ),
                    code="too_many_destinations",
                    params={"count": count, "limit": MAX_DESTINATIONS_PER_SANDBOX},
                )


class AudienceActivation(SandboxedModel):
    """An audience activated to a destination, served at lookup time between its start and end dates."""

    SANDBOX_LOOKUP = "destination__sandbox"

    destination = models.ForeignKey(Destination, on_delete=models.CASCADE, related_name="activations")
    audience = models.ForeignKey("audiences.Audience", on_delete=models.PROTECT, related_name="activations")
    start_date = models.DateField(_("start date"), null=True, blank=True)
    end_date = models.DateField(_("end date"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["audience__name"]
        verbose_name = _("audience activation")
        verbose_name_plural = _("audience activations")
        constraints = [
            models.UniqueConstraint(
                fields=["destination", "audience"],
                name="activation_unique_per_destination_audience",
                violation_error_message=_("This audience is already activated to this destination."),
            ),
            models.CheckConstraint(
                condition=models.Q(start_date__isnull=True)
                | models.Q(end_date__isnull=True)
                | models.Q(end_date__gte=models.F("start_date")),
                name="activation_end_not_before_start",
                violation_error_message=_("The end date cannot be before the start date."),
            ),
        ]

    def __str__(self):
        return "%s → %s" % (self.audience_id, self.destination_id)

    def clean(self):
        super().clean()
        if not (self.destination_id and self.audience_id):
            return
        if self.audience.sandbox_id != self.destination.sandbox_id:
            raise field_error(
                "audience", _("The audience belongs to another sandbox than the destination."), "cross_sandbox"
            )
        if self._state.adding and self.audience.status != self.audience.Status.PUBLISHED:
            raise field_error(
                "audience",
                _("Only published audiences can be activated; %(name)s is %(status)s."),
                "audience_not_published",
                name=self.audience.name,
                status=self.audience.get_status_display().lower(),
            )
        if self.start_date and self.end_date and self.end_date < self.start_date:
            raise field_error("end_date", _("The end date cannot be before the start date."), "end_before_start")


class AttributeMapping(SandboxedModel):
    """A profile field sent under a friendly name in the lookup's `attributes` (authenticated callers only)."""

    SANDBOX_LOOKUP = "destination__sandbox"

    destination = models.ForeignKey(Destination, on_delete=models.CASCADE, related_name="mappings")
    source = models.ForeignKey(
        "profiles.ProfileField", on_delete=models.PROTECT, related_name="mappings", verbose_name=_("source field")
    )
    target = models.CharField(_("target field"), max_length=64, validators=[json_key_validator])
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["target"]
        verbose_name = _("attribute mapping")
        verbose_name_plural = _("attribute mappings")
        constraints = [
            models.UniqueConstraint(
                fields=["destination", "target"],
                name="mapping_target_unique_per_destination",
                violation_error_message=_("This destination already maps a field to this target name."),
            )
        ]

    def __str__(self):
        return "%s → %s" % (self.source, self.target)

    def clean(self):
        super().clean()
        if not self.destination_id:
            return
        destination = self.destination
        if not destination.returns_attributes:
            raise ValidationError(
                _("%(name)s is a Custom Personalization destination; only the With Attributes kind maps attributes."),
                code="attributes_not_supported",
                params={"name": destination.name},
            )
        if self.source_id:
            require_same_sandbox(destination, source=self.source)
            if not self.source.is_scalar:
                raise field_error(
                    "source",
                    _("%(path)s is a field of type %(type)s; only scalar fields can be mapped."),
                    "not_scalar",
                    path=self.source.path,
                    type=self.source.get_field_type_display().lower(),
                )
        if self._state.adding:
            count = AttributeMapping.objects.filter(destination_id=self.destination_id).count()
            if count >= MAX_ATTRIBUTE_MAPPINGS:
                raise ValidationError(
                    _(
                        "%(name)s already maps %(count)d attributes, the maximum is %(limit)d; "
                        "remove a mapping before adding another."
                    ),
                    code="too_many_mappings",
                    params={"name": destination.name, "count": count, "limit": MAX_ATTRIBUTE_MAPPINGS},
                )
