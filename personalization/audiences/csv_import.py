"""
CSV custom upload: read a file row by row, check every row, and write the valid ones as one transaction.

The file stays on disk (under MEDIA_ROOT) and is streamed with the csv module, so memory does not grow with
the file; only the identities already seen (to report duplicates) are kept. Everything is written inside a single
transaction: a failure anywhere leaves the database as it was. On PostgreSQL the valid rows are streamed with
`COPY` into a temporary table and merged with a few set-based statements; elsewhere (SQLite) they are written in
batches with `bulk_create`/`bulk_update`.

Rules, in the order they are checked:

- file: UTF-8 (a BOM is allowed), at most 1 GB, delimiter `,` `;` or tab (the one the header uses most);
  header: at most 25 columns, names without spaces or dashes, no duplicates, the identity column present;
- row: as many values as the header has columns, no value over 1,024 characters, an identity that is not empty,
  valid for its namespace (`IDENTITY_RULES`; other namespaces: no whitespace, at most 512 characters) and not a
  repeat of an earlier row's (the report names the first row).

The file is the audience's whole member list: rows present become (or stay) members with the other columns as
their payload; members missing from the file exit. Re-running the same file changes nothing.
"""

import codecs
import contextlib
import csv
import datetime
import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from personalization import changes
from personalization.audiences.models import Audience, AudienceImport, AudienceMembership
from personalization.profiles.models import Identity, Profile

logger = logging.getLogger("personalization.audiences.csv_import")

__all__ = [
    "DELIMITERS",
    "EXPIRY_REFRESH_WINDOW",
    "IDENTITY_RULES",
    "MAX_COLUMNS",
    "MAX_FILE_BYTES",
    "MAX_IDENTITY_LENGTH",
    "MAX_VALUE_LENGTH",
    "CsvLayout",
    "FileProblem",
    "ImportOutcome",
    "RowError",
    "audience_import_fail",
    "audience_import_release",
    "audience_import_run",
    "check_header",
    "check_identity",
    "error_report_path",
    "iter_rows",
    "live_progress",
    "read_layout",
    "read_preview",
]

MAX_FILE_BYTES = 1024**3
MAX_COLUMNS = 25
MAX_VALUE_LENGTH = 1024
MAX_IDENTITY_LENGTH = 512  # Identity.value's column size
# A physical line longer than this is not a CSV row (25 columns of 1,024 characters, quoted, fit easily); reading
# it whole could exhaust memory, so the file is refused instead.
MAX_LINE_BYTES = 1024**2
DELIMITERS = {",": _("comma"), ";": _("semicolon"), "\t": _("tab")}
EXPIRY_REFRESH_WINDOW = datetime.timedelta(days=7)
SAMPLE_BYTES = 64 * 1024
BOM = codecs.BOM_UTF8

# Per-namespace identity formats; namespaces not listed only need a value without whitespace.
IDENTITY_RULES = {
    "ECID": (re.compile(r"\d{38}"), _("an ECID is exactly 38 digits")),
    "Email": (re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+"), _("an email address looks like name@example.com")),
    "Email_LC_SHA256": (
        re.compile(r"[0-9a-f]{64}"),
        _("a SHA-256 hash of a lowercased email is 64 lowercase hexadecimal characters"),
    ),
    "Phone": (re.compile(r"\+?[0-9]{7,15}"), _("a phone number is 7 to 15 digits, optionally after a +")),
}
_WHITESPACE = re.compile(r"\s")


class FileProblem(Exception):
    """The file as a whole cannot be imported; the message says where and what to do."""

    def __init__(self, message: str, *, row: int | None = None):
        super().__init__(message)
        self.message = message
        self.row = row


@dataclass(frozen=True)
class RowError:
    row: int
    column: str
    value: str
    message: str


@dataclass(frozen=True)
class CsvLayout:
    """What the first bytes of a file say: its delimiter, header and whether it starts with a BOM."""

    delimiter: str
    header: list[str]
    bom: bool


@dataclass
class ImportOutcome:
    rows_total: int = 0
    rows_valid: int = 0
    rows_invalid: int = 0
    profiles_created: int = 0
    changed_profiles: list = field(default_factory=list)


def _batch_size() -> int:
    return getattr(settings, "AUDIENCE_IMPORT_BATCH_SIZE", 2000)


def _announce_limit() -> int:
    return getattr(settings, "AUDIENCE_IMPORT_ANNOUNCE_LIMIT", 5000)


#
# Reading the file
#


def _encoding_problem(offset: int) -> FileProblem:
    return FileProblem(
        _(
            "The file is not UTF-8: the byte at offset %(offset)d cannot be decoded. Save the file as "
            '"CSV UTF-8" (with or without BOM) and upload it again.'
        )
        % {"offset": offset}
    )


@contextlib.contextmanager
def _binary(source):
    """Open `source` (a path, or a file object opened in binary mode) for reading from its start."""
    if hasattr(source, "read"):
        source.seek(0)
        yield source
        return
    with open(source, "rb") as handle:
        yield handle


def read_layout(source) -> CsvLayout:
    """Read the header of `source` (path or binary file), detect its delimiter; `FileProblem` for a bad start."""
    with _binary(source) as handle:
        sample = handle.read(SAMPLE_BYTES)
    bom = sample.startswith(BOM)
    start = len(BOM) if bom else 0
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        # Not final: the sample may end inside a multi-byte character.
        text = decoder.decode(sample[start:], final=False)
    except UnicodeDecodeError as exc:
        raise _encoding_problem(start + exc.start) from None
    first_line = text.splitlines()[0] if text.strip() else ""
    if not first_line.strip():
        raise FileProblem(_("The file is empty: the first line must be a header naming the columns."), row=1)
    # The header has no quoted delimiters in practice, so the delimiter it uses most is the file's.
    delimiter = max(DELIMITERS, key=lambda candidate: (first_line.count(candidate), candidate == ","))
    header = next(csv.reader([first_line], delimiter=delimiter))
    return CsvLayout(delimiter=delimiter, header=[name.strip() for name in header], bom=bom)


def check_header(header: list[str], identity_column: str | None = None) -> list[str]:
    """Return what is wrong with a header row (empty when nothing is), each message saying what to change."""
    problems = []
    if len(header) > MAX_COLUMNS:
        problems.append(
            _("The file has %(count)d columns; at most %(limit)d are allowed. Remove %(extra)d columns.")
            % {"count": len(header), "limit": MAX_COLUMNS, "extra": len(header) - MAX_COLUMNS}
        )
    seen = set()
    for number, name in enumerate(header, start=1):
        if not name:
            problems.append(_("Column %(number)d has no name; give every column a header.") % {"number": number})
        elif " " in name or "-" in name:
            problems.append(
                _(
                    'Column %(number)d, "%(name)s": header names cannot contain spaces or dashes; '
                    'use e.g. "%(suggestion)s".'
                )
                % {"number": number, "name": name, "suggestion": re.sub(r"[\s-]+", "_", name)}
            )
        if name and name in seen:
            problems.append(
                _('Column %(number)d, "%(name)s": the header names this column twice; rename one.')
                % {"number": number, "name": name}
            )
        seen.add(name)
    if identity_column is not None and identity_column not in header:
        problems.append(
            _('The identity column "%(column)s" is not in the header; pick one of: %(columns)s.')
            % {"column": identity_column, "columns": ", ".join(header)}
        )
    return problems


def _lines(handle, start: int, on_progress):
    """Yield decoded physical lines (line ends kept, for the csv module), failing on non-UTF-8 bytes."""
    offset = start
    handle.seek(start)
    while True:
        raw = handle.readline(MAX_LINE_BYTES + 1)
        if not raw:
            return
        if len(raw) > MAX_LINE_BYTES:
            raise FileProblem(
                _("The line starting at byte offset %(offset)d is longer than %(limit)d bytes; is this a CSV file?")
                % {"offset": offset, "limit": MAX_LINE_BYTES}
            )
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _encoding_problem(offset + exc.start) from None
        offset += len(raw)
        if on_progress is not None:
            on_progress(offset)
        yield text


def iter_rows(source, layout: CsvLayout, on_progress=None):
    """
    Yield `(row_number, values, problem)` for each data row of the file; the header is row 1.

    `problem` is a message for a row the csv module cannot parse (then `values` is empty). Blank lines are skipped
    but counted, so row numbers match a spreadsheet's.
    """
    with _binary(source) as handle:
        reader = csv.reader(
            _lines(handle, len(BOM) if layout.bom else 0, on_progress), delimiter=layout.delimiter, strict=True
        )
        row_number = 0
        while True:
            row_number += 1
            try:
                values = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                yield (
                    row_number,
                    [],
                    _("The row cannot be read as CSV (%(reason)s); check its quotes.") % {"reason": exc},
                )
                continue
            if row_number == 1 or not values:
                continue
            yield row_number, values, None


def read_preview(source, layout: CsvLayout, limit: int = 10) -> list[list[str]]:
    """Return the first `limit` data rows (values cut to 200 characters) for the sample data step."""
    rows = []
    for _row, values, problem in iter_rows(source, layout):
        if problem is None:
            rows.append([value[:200] for value in values])
        if len(rows) >= limit:
            break
    return rows


def check_identity(value: str, namespace_code: str) -> str | None:
    """Return why `value` is not a valid identity in `namespace_code`, or None."""
    if value == "":
        return _("The identity is empty; fill it in or remove the row.")
    if len(value) > MAX_IDENTITY_LENGTH:
        return _("The identity has %(length)d characters; at most %(limit)d are allowed.") % {
            "length": len(value),
            "limit": MAX_IDENTITY_LENGTH,
        }
    rule = IDENTITY_RULES.get(namespace_code)
    if rule is not None:
        pattern, description = rule
        if not pattern.fullmatch(value):
            return _("This is not a valid %(namespace)s identity: %(rule)s.") % {
                "namespace": namespace_code,
                "rule": description,
            }
    elif _WHITESPACE.search(value):
        return _("The identity contains whitespace; %(namespace)s identities cannot.") % {"namespace": namespace_code}
    return None


def _row_errors(row_number, values, header, identity_index, namespace_code, seen) -> list[RowError]:
    if len(values) != len(header):
        return [
            RowError(
                row_number,
                "",
                ",".join(values)[:MAX_VALUE_LENGTH],
                _(
                    "The row has %(count)d values but the header has %(columns)d columns; quote values that "
                    "contain the delimiter, or add the missing ones."
                )
                % {"count": len(values), "columns": len(header)},
            )
        ]
    errors = []
    for name, value in zip(header, values, strict=True):
        if len(value) > MAX_VALUE_LENGTH:
            errors.append(
                RowError(
                    row_number,
                    name,
                    value[:100] + "…",
                    _("The value has %(length)d characters; at most %(limit)d are allowed. Shorten it.")
                    % {"length": len(value), "limit": MAX_VALUE_LENGTH},
                )
            )
    identity = values[identity_index]
    problem = None if len(identity) > MAX_VALUE_LENGTH else check_identity(identity, namespace_code)
    if problem is not None:
        errors.append(RowError(row_number, header[identity_index], identity[:MAX_VALUE_LENGTH], problem))
    elif not errors:
        first = seen.get(hash(identity))
        if first is not None:
            errors.append(
                RowError(
                    row_number,
                    header[identity_index],
                    identity,
                    _("This identity already appears in row %(row)d; each identity may appear once.") % {"row": first},
                )
            )
    return errors


#
# The error report
#


def error_report_path(audience_import: AudienceImport) -> str:
    """Return the report's path relative to MEDIA_ROOT."""
    return "audience_imports/%s-errors.csv" % audience_import.pk


class _Report:
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


#
# Writing
#


class _Writer:
    """
    Write the valid rows batch by batch, then finish the member list (subclasses say how).

    After `finish`, `changed` holds the profiles to announce, or `changed_overflow` says there were too many.
    """

    def __init__(self, audience: Audience, namespace_id: int, now):
        self.audience = audience
        self.sandbox_id = audience.sandbox_id
        self.namespace_id = namespace_id
        self.now = now
        self.size = _batch_size()
        self.changed: list = []
        self.changed_overflow = False
        self.profiles_created = 0

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, traceback) -> None:
        return None

    def write(self, rows: list[tuple[str, dict]]) -> None:
        """Write one batch of valid `(identity, payload)` rows."""
        self._write(rows)

    def _write(self, rows: list[tuple[str, dict]]) -> None:
        raise NotImplementedError

    def finish(self) -> None:
        """Exit the members the file does not name and settle what changed."""
        raise NotImplementedError


class _OrmWriter(_Writer):
    """Upsert each batch with the ORM: identities and profiles first, then memberships (any database)."""

    def __init__(self, audience: Audience, namespace_id: int, now):
        super().__init__(audience, namespace_id, now)
        # Members before this run; whoever the file does not name exits at the end.
        self.absent = set(
            AudienceMembership.objects.filter(
                audience=audience, status__in=AudienceMembership.ACTIVE_STATUSES
            ).values_list("profile_id", flat=True)
        )

    def _note_changed(self, profile_ids) -> None:
        if self.changed_overflow:
            return
        if len(self.changed) + len(profile_ids) > _announce_limit():
            self.changed_overflow = True
            self.changed = []
        else:
            self.changed.extend(profile_ids)

    def _write(self, rows: list[tuple[str, dict]]) -> None:
        values = [value for value, _payload in rows]
        known = dict(
            Identity.objects.filter(
                sandbox_id=self.sandbox_id, namespace_id=self.namespace_id, value__in=values
            ).values_list("value", "profile_id")
        )
        missing = [value for value in values if value not in known]
        if missing:
            profiles = [Profile(sandbox_id=self.sandbox_id) for _value in missing]
            Profile.objects.bulk_create(profiles, batch_size=self.size)
            Identity.objects.bulk_create(
                [
                    Identity(
                        sandbox_id=self.sandbox_id,
                        namespace_id=self.namespace_id,
                        value=value,
                        profile_id=profile.pk,
                        primary=True,
                    )
                    for value, profile in zip(missing, profiles, strict=True)
                ],
                batch_size=self.size,
            )
            known.update((value, profile.pk) for value, profile in zip(missing, profiles, strict=True))
            self.profiles_created += len(missing)
        wanted = {known[value]: payload for value, payload in rows}
        existing = {
            profile_id: (status, payload)
            for profile_id, status, payload in AudienceMembership.objects.filter(
                audience=self.audience, profile_id__in=list(wanted)
            ).values_list("profile_id", "status", "payload")
        }
        created, requalified, repaid = [], [], []
        for profile_id, payload in wanted.items():
            before = existing.get(profile_id)
            if before is None:
                created.append(
                    AudienceMembership(
                        audience=self.audience,
                        profile_id=profile_id,
                        status=AudienceMembership.Status.REALIZED,
                        qualified_at=self.now,
                        payload=payload,
                    )
                )
                continue
            status, old_payload = before
            self.absent.discard(profile_id)
            if status == AudienceMembership.Status.EXITED:
                requalified.append(profile_id)
            elif old_payload != payload:
                repaid.append(profile_id)
        if created:
            AudienceMembership.objects.bulk_create(created, batch_size=self.size)
        memberships = AudienceMembership.objects.filter(audience=self.audience)
        if requalified or repaid:
            updates = list(memberships.filter(profile_id__in=requalified + repaid))
            for membership in updates:
                membership.payload = wanted[membership.profile_id]
                if membership.status == AudienceMembership.Status.EXITED:
                    membership.status = AudienceMembership.Status.REALIZED
                    membership.qualified_at = self.now
                    membership.exited_at = None
            AudienceMembership.objects.bulk_update(
                updates, ["status", "qualified_at", "exited_at", "payload"], batch_size=self.size
            )
        self._note_changed([membership.profile_id for membership in created] + requalified + repaid)

    def finish(self) -> None:
        absent = sorted(self.absent)
        for start in range(0, len(absent), self.size):
            chunk = absent[start : start + self.size]
            AudienceMembership.objects.filter(audience=self.audience, profile_id__in=chunk).update(
                status=AudienceMembership.Status.EXITED, exited_at=self.now
            )
            self._note_changed(chunk)


# Temporary tables live only in this session and transaction; fixed names are fine because one connection runs
# one import at a time. Staging holds the file's rows, named their profiles, changed the profiles to announce.
_STAGING = "audience_import_staging"
_NAMED = "audience_import_named"
_CHANGED = "audience_import_changed"

_CREATE_PROFILES = """
WITH created AS (
    INSERT INTO profiles_identity (sandbox_id, namespace_id, value, profile_id, "primary", created_at)
    SELECT %(sandbox)s, %(namespace)s, s.value, gen_random_uuid(), true, %(now)s
    FROM {staging} s
    WHERE NOT EXISTS (
        SELECT 1 FROM profiles_identity i
        WHERE i.sandbox_id = %(sandbox)s AND i.namespace_id = %(namespace)s AND i.value = s.value
    )
    ON CONFLICT (sandbox_id, namespace_id, value) DO NOTHING
    RETURNING profile_id
)
INSERT INTO profiles_profile (id, sandbox_id, attributes, created_at, updated_at)
SELECT profile_id, %(sandbox)s, '{{}}'::jsonb, %(now)s, %(now)s FROM created
"""

_NAME_PROFILES = """
CREATE TEMPORARY TABLE {named} ON COMMIT DROP AS
SELECT i.profile_id, s.payload
FROM {staging} s
JOIN profiles_identity i ON i.sandbox_id = %(sandbox)s AND i.namespace_id = %(namespace)s AND i.value = s.value
"""

# Runs before the upsert, so a first import has no members to check; the index keeps the anti-join cheap even
# when the planner misjudges the memberships written earlier in this transaction.
_EXIT_ABSENT = """
WITH exited AS (
    UPDATE audiences_audiencemembership m SET status = %(exited)s, exited_at = %(now)s
    WHERE m.audience_id = %(audience)s AND m.status = ANY(%(active)s)
    AND NOT EXISTS (SELECT 1 FROM {named} n WHERE n.profile_id = m.profile_id)
    RETURNING m.profile_id
)
INSERT INTO {changed} (profile_id) SELECT profile_id FROM exited
"""

# Only rows whose status or payload actually change are written (and announced): re-running a file is a no-op.
_UPSERT_MEMBERSHIPS = """
WITH upserted AS (
    INSERT INTO audiences_audiencemembership AS m (audience_id, profile_id, status, qualified_at, exited_at, payload)
    SELECT %(audience)s, n.profile_id, %(realized)s, %(now)s, NULL, n.payload
    FROM {named} n
    ON CONFLICT (audience_id, profile_id) DO UPDATE SET
        payload = EXCLUDED.payload,
        status = CASE WHEN m.status = %(exited)s THEN EXCLUDED.status ELSE m.status END,
        qualified_at = CASE WHEN m.status = %(exited)s THEN EXCLUDED.qualified_at ELSE m.qualified_at END,
        exited_at = CASE WHEN m.status = %(exited)s THEN NULL ELSE m.exited_at END
    WHERE m.status = %(exited)s OR m.payload IS DISTINCT FROM EXCLUDED.payload
    RETURNING m.profile_id
)
INSERT INTO {changed} (profile_id) SELECT profile_id FROM upserted
"""


class _CopyWriter(_Writer):
    """
    Stream the rows into a temporary table with `COPY`, then upsert everything in a few set-based statements.

    PostgreSQL only; about as fast as the validation pass that feeds it, with memory independent of the file.
    """

    def __init__(self, audience: Audience, namespace_id: int, now):
        super().__init__(audience, namespace_id, now)
        self.cursor = connection.cursor()
        self.cursor.execute("DROP TABLE IF EXISTS %s, %s, %s" % (_STAGING, _NAMED, _CHANGED))
        self.cursor.execute("CREATE TEMPORARY TABLE %s (value text, payload jsonb) ON COMMIT DROP" % _STAGING)
        self.cursor.execute("CREATE TEMPORARY TABLE %s (profile_id uuid) ON COMMIT DROP" % _CHANGED)
        self.copying = contextlib.ExitStack()
        with connection.wrap_database_errors:
            # The raw psycopg cursor: Django's wrapper has no COPY; errors are still turned into Django's.
            self.copy = self.copying.enter_context(
                self.cursor.cursor.copy("COPY %s (value, payload) FROM STDIN" % _STAGING)
            )

    def __exit__(self, exc_type, exc, traceback) -> None:
        # An error before `finish` must end the COPY (psycopg sends CopyFail) so the rollback can run.
        with connection.wrap_database_errors:
            self.copying.__exit__(exc_type, exc, traceback)
        self.cursor.close()

    def _write(self, rows: list[tuple[str, dict]]) -> None:
        write_row = self.copy.write_row
        with connection.wrap_database_errors:
            for value, payload in rows:
                write_row((value, json.dumps(payload)))

    def finish(self) -> None:
        with connection.wrap_database_errors:
            self.copying.close()
        params = {
            "sandbox": self.sandbox_id,
            "namespace": self.namespace_id,
            "audience": self.audience.pk,
            "now": self.now,
            "realized": AudienceMembership.Status.REALIZED.value,
            "exited": AudienceMembership.Status.EXITED.value,
            "active": [status.value for status in AudienceMembership.ACTIVE_STATUSES],
        }
        names = {"staging": _STAGING, "named": _NAMED, "changed": _CHANGED}
        cursor = self.cursor
        # Temporary tables are never analyzed automatically; without statistics the joins below are planned badly.
        cursor.execute("ANALYZE %s" % _STAGING)
        cursor.execute(_CREATE_PROFILES.format(**names), params)
        self.profiles_created = cursor.rowcount
        cursor.execute(_NAME_PROFILES.format(**names), params)
        cursor.execute("CREATE INDEX ON %s (profile_id)" % _NAMED)
        cursor.execute("ANALYZE %s" % _NAMED)
        cursor.execute(_EXIT_ABSENT.format(**names), params)
        cursor.execute(_UPSERT_MEMBERSHIPS.format(**names), params)
        cursor.execute("SELECT count(*) FROM audience_import_changed")
        (count,) = cursor.fetchone()
        if count > _announce_limit():
            self.changed_overflow = True
        else:
            cursor.execute("SELECT profile_id FROM audience_import_changed")
            self.changed = [profile_id for (profile_id,) in cursor.fetchall()]
        cursor.execute("DROP TABLE %s, %s, %s" % (_STAGING, _NAMED, _CHANGED))


def _writer(audience: Audience, namespace_id: int, now) -> _Writer:
    """Return the writer for the database in use: `COPY` on PostgreSQL, the ORM elsewhere (SQLite)."""
    writer_class = _CopyWriter if connection.vendor == "postgresql" else _OrmWriter
    return writer_class(audience, namespace_id, now)


#
# Progress
#


def _progress_key(import_id) -> str:
    return "audience-import-progress:%s" % import_id


def live_progress(audience_import: AudienceImport) -> float:
    """
    Return the progress of `audience_import`, from 0 to 1.

    A running import writes inside one transaction, which other connections cannot see, so its progress
    travels through the cache (shared between web and workers when the cache is Redis).
    """
    if audience_import.status == AudienceImport.Status.RUNNING:
        return max(audience_import.progress, cache.get(_progress_key(audience_import.pk), 0.0))
    return audience_import.progress


#
# Services
#


def _expiry(audience: Audience, days: int, now):
    """
    Return the audience's expiry after a successful import.

    The first import sets it to now + `days`. Later imports refresh it only when fewer than 7 days remain
    (the product's rule), so uploading often cannot keep an audience alive without notice.
    """
    if audience.expires_at is None:
        return now + datetime.timedelta(days=days)
    if audience.expires_at - now < EXPIRY_REFRESH_WINDOW:
        return now + datetime.timedelta(days=days)
    return audience.expires_at


def _import(audience_import: AudienceImport, report: _Report) -> ImportOutcome:
    audience = audience_import.audience
    path = Path(settings.MEDIA_ROOT) / audience_import.file_path
    layout = read_layout(path)
    problems = check_header(layout.header, audience_import.identity_column)
    if problems:
        raise FileProblem(" ".join(problems), row=1)
    header = layout.header
    identity_index = header.index(audience_import.identity_column)
    namespace_code = audience_import.namespace.code
    size = max(audience_import.file_size, 1)
    now = timezone.now()
    outcome = ImportOutcome()
    seen: dict[int, int] = {}
    batch: list[tuple[str, dict]] = []
    position = {"offset": 0}

    def on_progress(offset):
        position["offset"] = offset

    with _writer(audience, audience_import.namespace_id, now) as writer:
        for row_number, values, problem in iter_rows(path, layout, on_progress):
            outcome.rows_total += 1
            if problem is not None:
                errors = [RowError(row_number, "", "", problem)]
            else:
                errors = _row_errors(row_number, values, header, identity_index, namespace_code, seen)
            if errors:
                outcome.rows_invalid += 1
                for error in errors:
                    report.add(error)
                continue
            identity = values[identity_index]
            # Keyed by the value's 64-bit hash, not the value: a third of the memory on large files. Two different
            # identities share a hash with a chance of about 1 in 10^7 per million-row file.
            seen[hash(identity)] = row_number
            payload = dict(zip(header, values, strict=True))
            del payload[header[identity_index]]
            batch.append((identity, payload))
            outcome.rows_valid += 1
            if len(batch) >= writer.size:
                writer.write(batch)
                batch = []
                cache.set(_progress_key(audience_import.pk), min(0.99, position["offset"] / size), timeout=24 * 3600)
        if batch:
            writer.write(batch)
        writer.finish()
    outcome.profiles_created = writer.profiles_created
    audience.expires_at = _expiry(audience, audience_import.expiration_days, now)
    if audience.status == Audience.Status.DRAFT:
        audience.status = Audience.Status.PUBLISHED
    audience.profile_count = AudienceMembership.objects.filter(
        audience=audience, status__in=AudienceMembership.ACTIVE_STATUSES
    ).count()
    audience.save(update_fields=["expires_at", "status", "profile_count", "updated_at"])
    if writer.changed_overflow:
        # Too many profiles to name one by one; the sandbox's whole edge store is refreshed instead.
        changes.announce_configuration_changed(audience.sandbox_id)
    elif writer.changed:
        changes.announce_profiles_changed(audience.sandbox_id, writer.changed)
    return outcome


def _refuse_expired(audience: Audience) -> None:
    if audience.is_expired:
        raise FileProblem(
            _(
                "%(name)s expired on %(date)s; an expired upload cannot be refreshed. Import the file into a new "
                "audience instead."
            )
            % {"name": audience.name, "date": audience.expires_at.date().isoformat()}
        )


def audience_import_run(*, import_id) -> AudienceImport | None:
    """
    Run a pending import: claim it, read and check every row, write the valid ones in one transaction.

    Returns None when the import is gone or already claimed (a duplicate task). A file-level problem or an
    unexpected error fails the import with a message and writes nothing; database errors propagate so the
    task can retry (the import is released back to pending first).
    """
    claimed = AudienceImport.objects.filter(pk=import_id, status=AudienceImport.Status.PENDING).update(
        status=AudienceImport.Status.RUNNING, started_at=timezone.now(), progress=0.0
    )
    if not claimed:
        return None
    audience_import = AudienceImport.objects.select_related("audience", "namespace").get(pk=import_id)
    report = _Report(error_report_path(audience_import))
    try:
        _refuse_expired(audience_import.audience)
        with transaction.atomic():
            outcome = _import(audience_import, report)
    except FileProblem as problem:
        report.add(RowError(problem.row or 0, "", "", problem.message))
        report.close()
        return audience_import_fail(import_id=import_id, message=problem.message, report=report.relative)
    except DatabaseError:
        report.close()
        raise
    except Exception:
        report.close()
        logger.exception("audience.import.crashed", extra={"import_id": import_id})
        return audience_import_fail(
            import_id=import_id,
            message=_("The import stopped on an unexpected error and wrote nothing; try again or contact an admin."),
            report=report.relative,
        )
    report.close()
    AudienceImport.objects.filter(pk=import_id).update(
        status=AudienceImport.Status.SUCCEEDED,
        progress=1.0,
        rows_total=outcome.rows_total,
        rows_valid=outcome.rows_valid,
        rows_invalid=outcome.rows_invalid,
        profiles_created=outcome.profiles_created,
        error_report_path=report.relative if report.count else "",
        finished_at=timezone.now(),
        error="",
    )
    cache.delete(_progress_key(import_id))
    return AudienceImport.objects.get(pk=import_id)


def audience_import_fail(*, import_id, message: str, report: str = "") -> AudienceImport | None:
    """Mark an unfinished import failed with `message` (nothing it read was written)."""
    AudienceImport.objects.filter(
        pk=import_id, status__in=(AudienceImport.Status.PENDING, AudienceImport.Status.RUNNING)
    ).update(
        status=AudienceImport.Status.FAILED,
        error=message[:4000],
        error_report_path=report,
        finished_at=timezone.now(),
    )
    cache.delete(_progress_key(import_id))
    return AudienceImport.objects.filter(pk=import_id).first()


def audience_import_release(*, import_id) -> None:
    """Put a running import back to pending so a retried task can claim it again."""
    AudienceImport.objects.filter(pk=import_id, status=AudienceImport.Status.RUNNING).update(
        status=AudienceImport.Status.PENDING, progress=0.0
    )
