"""The error report of a CSV import: one CSV row per problem (row, column, value, message) under MEDIA_ROOT."""

import csv
from pathlib import Path

from django.conf import settings

from personalization.audiences.imports.models import UPLOAD_DIR, AudienceImport
from personalization.audiences.imports.reading import RowError

__all__ = ["ErrorReport", "error_report_path"]


def error_report_path(audience_import: AudienceImport) -> str:
    """Return the report's path relative to MEDIA_ROOT."""
    return "%s/%s-errors.csv" % (UPLOAD_DIR, audience_import.pk)


class ErrorReport:
    """Write row errors to a CSV file under MEDIA_ROOT as they are found."""

    HEADER = ("row", "column", "value", "message")

    def __init__(self, relative: str):
        self.relative = relative
        self.path = Path(settings.MEDIA_ROOT) / relative
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.handle = open(self.path, "w", newline="", encoding="utf-8")  # noqa: SIM115 (closed in close())
        self.writer = csv.writer(self.handle)
        self.writer.writerow(self.HEADER)
        self.count = 0

    def add(self, error: RowError) -> None:
        self.writer.writerow((error.row or "", error.column, error.value, error.message))
        self.count += 1

    def close(self) -> None:
        self.handle.close()
