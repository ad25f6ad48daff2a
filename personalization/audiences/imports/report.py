"""The error report of a CSV import: one CSV row per problem (row, column, value, message) under MEDIA_ROOT."""

import csv
from collections import Counter
from pathlib import Path

from django.conf import settings

from personalization.audiences.imports.models import UPLOAD_DIR, AudienceImport
from personalization.audiences.imports.reading import RowError

__all__ = ["FIRST_PROBLEMS_SHOWN", "ErrorReport", "error_report_path"]

# How many problems the import page lists; the report file holds them all.
FIRST_PROBLEMS_SHOWN = 10


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
        self.by_kind = Counter()
        self.first = []

    def add(self, error: RowError) -> None:
        self.writer.writerow((error.row or "", error.column, error.value, error.message))
        self.count += 1
        self.by_kind[error.kind] += 1
        if len(self.first) < FIRST_PROBLEMS_SHOWN:
            self.first.append(
                {"row": error.row, "column": error.column, "value": error.value, "message": error.message}
            )

    def summary(self) -> dict:
        """Return what the import page shows without opening the file: problems counted by kind, and the first few."""
        return {"by_kind": dict(self.by_kind), "first": self.first} if self.count else {}

    def close(self) -> None:
        self.handle.close()
