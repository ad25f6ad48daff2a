import uuid

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import SandboxedModel

# The CSV upload history lives with the rest of the imports; Django finds the app's models here.
from personalization.audiences.imports.models import AudienceImport
from personalization.validators import field_error

__all__ = ["Audience", "AudienceEvaluation", "AudienceImport", "AudienceMembership", "StreamedChange"]


class Audience(SandboxedModel):
    """A set of profiles, defined by a rule (segmentation) or by an uploaded CSV (custom upload)."""

    class Origin(models.TextChoices):
        SEGMENTATION = "segmentation", _("Segmentation Service")
        CUSTOM_UPLOAD = "custom_upload", _("Custom upload")

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        PUBLISHED = "published", _("Published")
        INACTIVE = "inactive", _("Inactive")

    class Evaluation(models.TextChoices):
        BATCH = "batch", _("Batch")
        STREAMING = "streaming", _("Streaming")
        EDGE = "edge", _("Edge")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    sandbox = models.ForeignKey("accounts.Sandbox", on_delete=models.PROTECT, related_name="audiences")
    name = models.CharField(_("name"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    origin = models.CharField(_("origin"), max_length=16, choices=Origin.choices, default=Origin.SEGMENTATION)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.DRAFT)
    rule = models.JSONField(_("rule"), null=True, blank=True)
    evaluation = models.CharField(
        _("evaluation method"), max_length=16, choices=Evaluation.choices, default=Evaluation.BATCH
    )
    external_id = models.CharField(_("external audience id"), max_length=128, blank=True)
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True)
    profile_count = models.PositiveIntegerField(_("profiles"), default=0)
    last_evaluated_at = models.DateTimeField(_("last evaluated"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("audience")
        verbose_name_plural = _("audiences")
        constraints = [
            models.UniqueConstraint(
                fields=["sandbox", "name"],
                name="audience_name_unique_per_sandbox",
                violation_error_message=_("An audience with this name already exists in this sandbox."),
            )
        ]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("audiences:audience_detail", args=[self.pk])

    @property
    def is_expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()

    def clean(self):
        super().clean()
        if self.origin == self.Origin.SEGMENTATION and self.expires_at is not None:
            raise field_error(
                "expires_at",
                _("Only custom upload audiences expire; segmentation audiences follow their rule."),
                "expiry_not_allowed",
            )
        if self.origin == self.Origin.CUSTOM_UPLOAD and self.rule:
            raise field_error(
                "rule",
                _("Custom upload audiences take their members from a file, not from a rule."),
                "rule_not_allowed",
            )
        if self.rule is not None and not isinstance(self.rule, dict):
            raise field_error("rule", _("The rule must be a JSON object (a condition tree)."), "invalid")
        if self.origin == self.Origin.SEGMENTATION:
            self._clean_rule()

    def _clean_rule(self):
        """Validate the rule against this sandbox's schema and audiences (see `audiences.rules`)."""
        # The rules package reads audiences (included ones, their names), so it imports this module; on use here.
        from personalization.audiences.rules import check_rule

        if self.rule is not None and self.sandbox_id:
            check_rule(self.rule, sandbox_id=self.sandbox_id, evaluation=self.evaluation, audience_id=self.pk)

    @property
    def rule_text(self) -> str:
        """The rule as one readable line, naming included audiences."""
        # See `_clean_rule`: the rules package imports this module.
        from personalization.audiences.rules import describe_rule

        return describe_rule(self.rule, sandbox_id=self.sandbox_id)


class AudienceMembership(SandboxedModel):
    """Whether a profile is in an audience: `realized` on entry, `existing` while kept, `exited` on leaving."""

    SANDBOX_LOOKUP = "audience__sandbox"

    class Status(models.TextChoices):
        REALIZED = "realized", _("Realized")
        EXISTING = "existing", _("Existing")
        EXITED = "exited", _("Exited")

    ACTIVE_STATUSES = (Status.REALIZED, Status.EXISTING)

    audience = models.ForeignKey(Audience, on_delete=models.CASCADE, related_name="memberships")
    profile = models.ForeignKey("profiles.Profile", on_delete=models.CASCADE, related_name="memberships")
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.REALIZED)
    qualified_at = models.DateTimeField(_("qualified at"), default=timezone.now)
    exited_at = models.DateTimeField(_("exited at"), null=True, blank=True)
    payload = models.JSONField(_("payload"), default=dict, blank=True)

    class Meta:
        verbose_name = _("audience membership")
        verbose_name_plural = _("audience memberships")
        constraints = [
            models.UniqueConstraint(
                fields=["audience", "profile"],
                name="membership_unique_per_audience_profile",
                violation_error_message=_("This profile already has a membership in this audience."),
            ),
            models.CheckConstraint(
                condition=models.Q(status="exited", exited_at__isnull=False)
                | (~models.Q(status="exited") & models.Q(exited_at__isnull=True)),
                name="membership_exited_at_iff_exited",
                violation_error_message=_("Exited memberships need an exit time, and only they have one."),
            ),
        ]
        indexes = [models.Index(fields=["profile", "status"], name="membership_profile_status")]

    def __str__(self):
        return "%s in %s (%s)" % (self.profile_id, self.audience, self.status)

    def clean(self):
        super().clean()
        if self.audience_id and self.profile_id and self.audience.sandbox_id != self.profile.sandbox_id:
            raise field_error(
                "profile", _("The profile belongs to another sandbox than the audience."), "cross_sandbox"
            )


class AudienceEvaluation(SandboxedModel):
    """
    One batch evaluation of an audience's rule over its sandbox: progress (`processed` of `total` profiles,
    `cursor` = last profile id done, so a retried run resumes), what changed, and how it ended.

    At most one evaluation per audience is queued or running; asking again returns that one.
    """

    SANDBOX_LOOKUP = "audience__sandbox"

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")

    class Trigger(models.TextChoices):
        PUBLISH = "publish", _("Published")
        SCHEDULE = "schedule", _("Scheduled")
        MANUAL = "manual", _("Requested")

    ACTIVE_STATUSES = (Status.QUEUED, Status.RUNNING)

    audience = models.ForeignKey(Audience, on_delete=models.CASCADE, related_name="evaluations")
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.QUEUED)
    trigger = models.CharField(_("trigger"), max_length=16, choices=Trigger.choices, default=Trigger.MANUAL)
    total = models.PositiveIntegerField(_("profiles to evaluate"), default=0)
    processed = models.PositiveIntegerField(_("profiles evaluated"), default=0)
    cursor = models.UUIDField(_("last profile evaluated"), null=True, blank=True)
    entered = models.PositiveIntegerField(_("profiles entered"), default=0)
    exited = models.PositiveIntegerField(_("profiles exited"), default=0)
    error = models.TextField(_("error"), blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("audience evaluation")
        verbose_name_plural = _("audience evaluations")
        constraints = [
            models.UniqueConstraint(
                fields=["audience"],
                condition=models.Q(status__in=["queued", "running"]),
                name="audience_evaluation_one_active",
                violation_error_message=_("This audience already has an evaluation queued or running."),
            )
        ]

    def __str__(self):
        return "%s evaluation %s (%s)" % (self.audience, self.pk, self.status)

    @property
    def progress(self) -> float:
        """Return the share of profiles evaluated, from 0 to 1."""
        if self.status == self.Status.SUCCEEDED:
            return 1.0
        return min(1.0, self.processed / self.total) if self.total else 0.0


class StreamedChange(models.Model):
    """
    One profile's memberships moved by streaming or same-page evaluation, written in the same transaction, until
    the dataflow runs count it (`edge.runs`): counting stays off the write path and no change goes uncounted.
    """

    sandbox = models.ForeignKey("accounts.Sandbox", on_delete=models.CASCADE, related_name="+")
    profile = models.ForeignKey("profiles.Profile", on_delete=models.CASCADE, related_name="+")
    audience_ids = models.JSONField(default=list)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["at"], name="streamed_change_at")]

    def __str__(self):
        return "%s at %s" % (self.profile_id, self.at)
