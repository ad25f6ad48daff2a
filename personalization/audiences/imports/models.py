"""The history of CSV uploads into custom upload audiences (`AudienceImport`)."""

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from accounts.models import SandboxedModel
from personalization.audiences.imports.reading import ROW_PROBLEM_KINDS

__all__ = ["UPLOAD_DIR", "AudienceImport"]

# The folder under MEDIA_ROOT that holds the imported files, their error reports and the wizard's waiting uploads.
UPLOAD_DIR = "audience_imports"


class AudienceImport(SandboxedModel):
    """
    One run of a CSV file into a custom upload audience: the file, its counts, its progress and how it ended.

    Rows are written all or nothing, so `rows_valid` is what landed and `rows_invalid` what the error report lists.
    """

    SANDBOX_LOOKUP = "audience__sandbox"

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        RUNNING = "running", _("Running")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")

    FINISHED_STATUSES = (Status.SUCCEEDED, Status.FAILED)

    audience = models.ForeignKey("audiences.Audience", on_delete=models.CASCADE, related_name="imports")
    namespace = models.ForeignKey("profiles.IdentityNamespace", on_delete=models.PROTECT, related_name="+")
    identity_column = models.CharField(_("identity column"), max_length=255)
    expiration_days = models.PositiveSmallIntegerField(_("data expiration (days)"), default=30)
    file_name = models.CharField(_("file name"), max_length=255)
    file_path = models.CharField(_("stored file"), max_length=500, help_text=_("Relative to MEDIA_ROOT."))
    file_size = models.PositiveBigIntegerField(_("file size (bytes)"), default=0)
    delimiter = models.CharField(_("delimiter"), max_length=1, default=",")
    confirm_exits = models.BooleanField(
        _("exits confirmed"),
        default=False,
        help_text=_("The importer confirmed that more than half of the audience's members may exit."),
    )
    exits_refused = models.PositiveIntegerField(
        _("exits refused"),
        default=0,
        help_text=_("How many members the file would have made exit when it stopped to ask for a confirmation."),
    )
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.PENDING)
    progress = models.FloatField(_("progress"), default=0.0)
    rows_total = models.PositiveIntegerField(_("rows"), default=0)
    rows_valid = models.PositiveIntegerField(_("valid rows"), default=0)
    rows_invalid = models.PositiveIntegerField(_("invalid rows"), default=0)
    profiles_created = models.PositiveIntegerField(_("profiles created"), default=0)
    error = models.TextField(_("error"), blank=True)
    error_report_path = models.CharField(_("error report"), max_length=500, blank=True)
    error_summary = models.JSONField(
        _("error summary"),
        default=dict,
        blank=True,
        help_text=_("The report's problems counted by kind and the first few of them, for the import page."),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        app_label = "audiences"
        ordering = ["-created_at", "-pk"]
        verbose_name = _("audience import")
        verbose_name_plural = _("audience imports")

    def __str__(self):
        return "%s ← %s (%s)" % (self.audience, self.file_name, self.status)

    def get_absolute_url(self):
        return reverse("audiences:audience_import_detail", args=[self.pk])

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED_STATUSES

    @property
    def awaits_exit_confirmation(self) -> bool:
        """Return whether this import stopped, writing nothing, because too many members would exit."""
        return self.status == self.Status.FAILED and self.exits_refused > 0

    @property
    def problem_counts(self) -> list[tuple[str, int]]:
        """Return `(what went wrong, how many)` for the report's problems, the most frequent first."""
        counts = (self.error_summary or {}).get("by_kind", {})
        return sorted(
            ((str(ROW_PROBLEM_KINDS.get(kind, kind)), count) for kind, count in counts.items()),
            key=lambda item: (-item[1], item[0]),
        )

    @property
    def first_problems(self) -> list[dict]:
        return (self.error_summary or {}).get("first", [])

    @property
    def problem_count(self) -> int:
        return sum(count for _kind, count in self.problem_counts)

    @property
    def percent(self) -> int:
        """Return the progress as a whole percentage."""
        if self.status == self.Status.SUCCEEDED:
            return 100
        return int(max(0.0, min(1.0, self.progress)) * 100)
