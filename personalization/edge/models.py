import uuid

from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

__all__ = ["DataflowRun", "EdgeInvalidation"]


class DataflowRun(models.Model):
    """A window of activation work for one destination, with the counts the alert rules read."""

    SANDBOX_LOOKUP = "destination__sandbox"

    class Status(models.TextChoices):
        RUNNING = "running", _("Running")
        SUCCESS = "success", _("Success")
        FAILED = "failed", _("Failed")

    class SkipReason(models.TextChoices):
        NO_IDENTITY = "no_identity", _("No identity a lookup could find the profile by")
        MISSING_ATTRIBUTE = "missing_attribute", _("A mapped attribute is missing")
        POLICY_VIOLATION = "policy_violation", _("A data usage policy forbids the activation")
        AUDIENCE_EXPIRED = "audience_expired", _("The audience or its activation has expired")

    class Kind(models.TextChoices):
        BATCH = "batch", _("Batch evaluation")
        IMPORT = "import", _("CSV import")
        STREAMING = "streaming", _("Streaming and same-page changes")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    destination = models.ForeignKey("destinations.Destination", on_delete=models.CASCADE, related_name="runs")
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices, default=Kind.STREAMING)
    # What the run accounts for, unique per destination and kind: "evaluation:<id>", "import:<id>", or the
    # start of a streaming window; recording the same work twice finds the same run.
    source = models.CharField(_("source"), max_length=64, blank=True)
    audience = models.ForeignKey(
        "audiences.Audience", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    started_at = models.DateTimeField(_("started"))
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    window_end = models.DateTimeField(_("window ends"), null=True, blank=True)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.RUNNING)
    profiles_received = models.PositiveIntegerField(default=0)
    profiles_activated = models.PositiveIntegerField(default=0)
    profiles_skipped = models.PositiveIntegerField(default=0)
    profiles_failed = models.PositiveIntegerField(default=0)
    skip_reasons = models.JSONField(default=dict, blank=True, help_text=_("Skipped profiles counted by reason."))
    errors = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-started_at"]
        verbose_name = _("dataflow run")
        verbose_name_plural = _("dataflow runs")
        indexes = [
            models.Index(fields=["destination", "-started_at"], name="run_destination_started"),
            models.Index(fields=["status", "started_at"], name="run_status_started"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["destination", "kind", "source"],
                condition=~models.Q(source=""),
                name="run_once_per_destination_source",
            ),
            models.CheckConstraint(
                condition=models.Q(finished_at__isnull=True) | models.Q(finished_at__gte=models.F("started_at")),
                name="run_finishes_after_start",
                violation_error_message=_("A run cannot finish before it started."),
            ),
        ]

    def __str__(self):
        return "%s run at %s" % (self.destination, self.started_at)

    def get_absolute_url(self):
        return reverse("runs:dataflowrun_detail", kwargs={"pk": self.pk})

    @property
    def skipped_rate(self) -> float:
        """Return the share of received profiles that were skipped (0 for a run that received none)."""
        return self.profiles_skipped / self.profiles_received if self.profiles_received else 0.0

    @property
    def skipped_percent(self) -> float:
        return 100.0 * self.skipped_rate


class EdgeInvalidation(models.Model):
    """
    What a committed write made stale in the edge store, kept until Redis has applied it.

    Written in the same transaction as the change, so a change that commits while Redis is unreachable still
    reaches the store: every process applies the pending rows before it serves from Redis again.
    """

    id = models.BigAutoField(primary_key=True)
    created_at = models.DateTimeField(auto_now_add=True)
    keys = models.JSONField(help_text=_("The edge store entries to refresh or drop, as [kind, id, ...] lists."))

    class Meta:
        verbose_name = _("edge invalidation")
        verbose_name_plural = _("edge invalidations")

    def __str__(self):
        return "invalidation %s (%d keys)" % (self.pk, len(self.keys or []))


class ConfigVersion(models.Model):
    """
    How many times a datastream's lookup configuration has changed, counted in the writer's transaction.

    While Redis is unreachable, each process keeps the configurations it loaded with the count it read first,
    and serves a copy only while the count still matches: one indexed read instead of rebuilding the
    configuration per lookup, and never a configuration older than the last committed change.
    """

    datastream_id = models.UUIDField(primary_key=True)  # no foreign key: a deleted datastream's count must stay
    version = models.BigIntegerField(default=0)

    class Meta:
        verbose_name = _("configuration version")
        verbose_name_plural = _("configuration versions")

    def __str__(self):
        return "%s v%d" % (self.datastream_id, self.version)
