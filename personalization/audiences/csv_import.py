"""
CSV custom upload: read a file row by row, check every row, and write the valid ones as one transaction.

The file stays on disk (under MEDIA_ROOT) and is streamed with the csv module, so memory does not grow with
the file; only the identities already seen (to report duplicates) are kept. Everything is written inside a single
transaction: a failure anywhere leaves the database as it was. On PostgreSQL the valid rows are streamed with
`COPY` into a temporary table and merged with a few set-based statements; elsewhere (SQLite) they are written in
batches with `bulk_create`/`bulk_update`. Profiles an import creates get time-ordered ids (`time_ordered_uuid`).
The import logs the seconds each phase took (`audience.import.succeeded`).

Rules, in the order they are checked:

- file: UTF-8 (a BOM is allowed), at most 1 GB, delimiter `,` `;` or tab (the one the header uses most);
  header: at most 25 columns, names without spaces or dashes, no duplicates, the identity column present;
- row: as many values as the header has columns, no value over 1,024 characters, an identity that is not empty,
  valid for its namespace (`profiles.identities`: its format, no invisible or control characters, at most 512
  characters) and not a repeat of an earlier row's (the report names the first row); no NUL character in any value;
- the file: at least one valid row, and, unless the import says the exits are confirmed, no more than half of the
  audience's current members exiting.

The file is the audience's whole member list: rows present become (or stay) members with the other columns as
their payload; members missing from the file exit. Re-running the same file changes nothing.
"""

import codecs
import contextlib
import csv
import datetime
import logging
import os
import re
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, IntegrityError, OperationalError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from personalization import changes
from personalization.audiences.models import Audience, AudienceImport, AudienceMembership
from personalization.profiles.identities import (
    identity_checker,
    identity_problem,
    invisible_character,
)
from personalization.profiles.models import Identity, Profile

logger = logging.getLogger("personalization.audiences.csv_import")

__all__ = [
    "DELIMITERS",
    "EXPIRY_REFRESH_WINDOW",
    "MAX_COLUMNS",
    "MAX_FILE_BYTES",
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
    "time_ordered_uuid",
]

MAX_FILE_BYTES = 1024**3
MAX_COLUMNS = 25
MAX_VALUE_LENGTH = 1024
# A physical line longer than this is not a CSV row (25 columns of 1,024 characters, quoted, fit easily); reading
# it whole could exhaust memory, so the file is refused instead.
MAX_LINE_BYTES = 1024**2
DELIMITERS = {",": _("comma"), ";": _("semicolon"), "\t": _("tab")}
EXPIRY_REFRESH_WINDOW = datetime.timedelta(days=7)
SAMPLE_BYTES = 64 * 1024
BOM = codecs.BOM_UTF8


class FileProblem(Exception):
    """The file as a whole cannot be imported; the message says where and what to do."""

    def __init__(self, message: str, *, row: int | None = None):
        super().__init__(message)
        self.message = message
        self.row = row


class ExitsNeedConfirmation(FileProblem):
    """The file would make more than half of the audience's members exit, and nobody confirmed that."""

    def __init__(self, *, exits: int, members: int):
        super().__init__(exits_message(exits=exits, members=members))
        self.exits = exits
        self.members = members


def exits_message(*, exits: int, members: int) -> str:
    return _(
        "This file would make %(exits)d of the audience's %(members)d members exit (they are not in the file), "
        "more than half of them. Nothing was changed. If the file is the audience's new member list, confirm "
        "the exits and import it again; otherwise check the identity column and namespace."
    ) % {"exits": exits, "members": members}


def exceeds_exit_threshold(*, exits: int, members: int) -> bool:
    """Return whether `exits` is more than half of `members`, when an import needs an explicit confirmation."""
    return exits > 0 and exits * 2 > members


@dataclass(frozen=True)
class RowError:
    row: int
    column: str
    value: str
    message: str


@dataclass(frozen=True)
class CsvLayout:
    """What the first bytes of a file say: its delimiter, header, whether it starts with a BOM, its line ends."""

    delimiter: str
    header: list[str]
    bom: bool
    # Lines end in a lone carriage return (classic Mac OS, some spreadsheet exports), not in \n or \r\n.
    cr_only: bool = False


@dataclass
class ImportOutcome:
    rows_total: int = 0
    rows_valid: int = 0
    rows_invalid: int = 0
    profiles_created: int = 0
    changed_profiles: list = field(default_factory=list)
    timings: dict = field(default_factory=dict)  # seconds per phase, for the log


def _batch_size() -> int:
    return settings.AUDIENCE_IMPORT_BATCH_SIZE


def _work_mem() -> str:
    """PostgreSQL's work_mem for the merge statements of an import (SET LOCAL: that transaction only)."""
    return settings.AUDIENCE_IMPORT_WORK_MEM


def _announce_limit() -> int:
    return settings.AUDIENCE_IMPORT_ANNOUNCE_LIMIT


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
    cr_only = b"\r" in sample and b"\n" not in sample
    return CsvLayout(delimiter=delimiter, header=[name.strip() for name in header], bom=bom, cr_only=cr_only)


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
        invisible = invisible_character(name) if name else None
        if invisible is not None:
            problems.append(
                _(
                    'Column %(number)d, "%(name)s": the header name contains an invisible or control character, '
                    "%(character)s; retype the name (a byte order mark inside a file often comes from joining two "
                    "files)."
                )
                % {"number": number, "name": name.encode("unicode_escape").decode(), "character": invisible}
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


def _cr_terminated(handle):
    """Yield the raw lines of a file whose lines end in a lone carriage return (the terminator kept)."""
    pending = b""
    while True:
        block = handle.read(1024 * 1024)
        if not block:
            if pending:
                yield pending
            return
        *complete, pending = (pending + block).split(b"\r")
        for line in complete:
            yield line + b"\r"
        if len(pending) > MAX_LINE_BYTES:
            yield pending  # too long for a line: the caller refuses the file without reading the rest


def _lines(handle, start: int, on_progress, cr_only: bool = False):
    """Yield decoded physical lines (line ends kept, for the csv module), failing on non-UTF-8 bytes."""
    offset = start
    handle.seek(start)
    # In UTF-8 no multi-byte character contains the byte \r, so splitting bytes on it never cuts a character.
    raw_lines = _cr_terminated(handle) if cr_only else iter(lambda: handle.readline(MAX_LINE_BYTES + 1), b"")
    for raw in raw_lines:
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
            _lines(handle, len(BOM) if layout.bom else 0, on_progress, layout.cr_only),
            delimiter=layout.delimiter,
            strict=True,
        )
        row_number = 0
        while True:
            row_number += 1
            try:
                values = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                yield row_number, [], _unreadable_row(str(exc), layout.delimiter)
                continue
            if row_number == 1 or not values:
                continue
            yield row_number, values, None


def _unreadable_row(reason: str, delimiter: str) -> str:
    """Say in the user's words why the csv module could not read a row (its own messages speak Python)."""
    name = DELIMITERS[delimiter]
    if "expected after" in reason:
        why = _(
            "a quoted value must end with a quote followed by a %(delimiter)s or the end of the line; text follows "
            "its closing quote"
        ) % {"delimiter": name}
    elif "unexpected end of data" in reason:
        why = _("the file ends inside a quoted value: a closing quote is missing")
    elif "field larger than field limit" in reason:
        why = _(
            "a value is longer than %(limit)d characters, far over the %(allowed)d allowed; an opening quote "
            "without its closing quote makes the rest of the file one value"
        ) % {"limit": csv.field_size_limit(), "allowed": MAX_VALUE_LENGTH}
    elif "new-line character" in reason:
        why = _(
            "a line break (carriage return) stands inside a value that is not in quotes; put the value in quotes, "
            "or save the file with one kind of line ending"
        )
    else:
        why = _("its quoting is malformed")
    return _("The row cannot be read as CSV: %(why)s. Check this row's quotes.") % {"why": why}


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
    return identity_problem(value, namespace_code)


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
    for position, (name, value) in enumerate(zip(header, values, strict=True)):
        if position != identity_index and "\x00" in value:
            errors.append(
                RowError(
                    row_number,
                    name,
                    value[:100].replace("\x00", "\\x00"),
                    _("The value contains the NUL character (U+0000) at position %(position)d; remove it.")
                    % {"position": value.index("\x00") + 1},
                )
            )
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
        # An invisible character is shown escaped (\u200b), or the report would look like a valid value.
        shown = identity[:MAX_VALUE_LENGTH]
        if invisible_character(shown) is not None:
            shown = shown.encode("unicode_escape").decode()[:MAX_VALUE_LENGTH]
        errors.append(RowError(row_number, header[identity_index], shown, problem))
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

_COUNTER_LIMIT = 1 << 32
_RANDOM_BITS = 42


def time_ordered_uuid(milliseconds: int, counter: int) -> uuid.UUID:
    """
    Return a version-7 UUID (RFC 9562): `milliseconds` since the epoch, a 32-bit `counter` (the 12 bits of rand_a
    and the top 20 of rand_b: the RFC's fixed-length dedicated counter), then 42 random bits.

    Ids with one timestamp sort by counter, and after every id of an earlier millisecond, so the profiles an import
    creates go to the right-hand end of every index on a profile id instead of to random pages. `_NEW_PROFILE_ID`
    builds the same layout in SQL.
    """
    if not 0 <= counter < _COUNTER_LIMIT:
        raise ValueError("the counter of a time-ordered UUID is 32 bits")
    value = (
        (milliseconds << 80)
        | (0x7 << 76)
        | ((counter >> 20) << 64)
        | (0b10 << 62)
        | ((counter & 0xFFFFF) << _RANDOM_BITS)
        | (int.from_bytes(os.urandom(6), "big") >> (48 - _RANDOM_BITS))
    )
    return uuid.UUID(int=value)


def _milliseconds(moment: datetime.datetime) -> int:
    return int(moment.timestamp() * 1000)


class _Writer:
    """
    Write the valid rows (lists of values, in header order) batch by batch, then finish the member list
    (subclasses say how).

    After `finish`, `changed` holds the profiles to announce, or `changed_overflow` says there were too many;
    `timings` holds the seconds spent in each phase (`write` for the batches).
    """

    def __init__(self, audience: Audience, namespace_id: int, now, header: list[str], identity_index: int, **options):
        self.audience = audience
        self.confirm_exits = options.get("confirm_exits", False)
        self.members_before = 0  # active members when the import started (subclasses count them)
        self.sandbox_id = audience.sandbox_id
        self.namespace_id = namespace_id
        self.now = now
        self.header = header
        self.identity_index = identity_index
        self.size = _batch_size()
        self.changed: list = []
        self.changed_overflow = False
        self.profiles_created = 0
        self.timings: dict[str, float] = {}

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, traceback) -> None:
        return None

    @contextlib.contextmanager
    def _timed(self, phase: str):
        started = time.perf_counter()
        try:
            yield
        finally:
            self.timings[phase] = self.timings.get(phase, 0.0) + time.perf_counter() - started

    def write(self, rows: list[list[str]]) -> None:
        """Write one batch of valid rows."""
        with self._timed("write"):
            self._write(rows)

    def _write(self, rows: list[list[str]]) -> None:
        raise NotImplementedError

    def finish(self) -> None:
        """Exit the members the file does not name and settle what changed."""
        raise NotImplementedError

    def _check_exits(self, exits: int) -> None:
        """Refuse, before anything is written, a file that makes more than half the members exit unconfirmed."""
        if not self.confirm_exits and exceeds_exit_threshold(exits=exits, members=self.members_before):
            raise ExitsNeedConfirmation(exits=exits, members=self.members_before)

    def _note_changed(self, profile_ids) -> None:
        if self.changed_overflow:
            return
        if len(self.changed) + len(profile_ids) > _announce_limit():
            self.changed_overflow = True
            self.changed = []
        else:
            self.changed.extend(profile_ids)


class _OrmWriter(_Writer):
    """Upsert each batch with the ORM: identities and profiles first, then memberships (any database)."""

    def __init__(self, audience: Audience, namespace_id: int, now, header: list[str], identity_index: int, **options):
        super().__init__(audience, namespace_id, now, header, identity_index, **options)
        self.milliseconds = _milliseconds(now)
        # Members before this run; whoever the file does not name exits at the end.
        self.absent = set(
            AudienceMembership.objects.filter(
                audience=audience, status__in=AudienceMembership.ACTIVE_STATUSES
            ).values_list("profile_id", flat=True)
        )
        self.members_before = len(self.absent)

    def _write(self, rows: list[list[str]]) -> None:
        identity_index = self.identity_index
        payload_columns = [(position, name) for position, name in enumerate(self.header) if position != identity_index]
        rows = [
            (values[identity_index], {name: values[position] for position, name in payload_columns}) for values in rows
        ]
        values = [value for value, _payload in rows]
        known = dict(
            Identity.objects.filter(
                sandbox_id=self.sandbox_id, namespace_id=self.namespace_id, value__in=values
            ).values_list("value", "profile_id")
        )
        missing = [value for value in values if value not in known]
        if missing:
            profiles = [
                Profile(sandbox_id=self.sandbox_id, id=time_ordered_uuid(self.milliseconds, self.profiles_created + n))
                for n in range(len(missing))
            ]
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
        self._check_exits(len(self.absent))
        with self._timed("exit"):
            absent = sorted(self.absent)
            for start in range(0, len(absent), self.size):
                chunk = absent[start : start + self.size]
                AudienceMembership.objects.filter(audience=self.audience, profile_id__in=chunk).update(
                    status=AudienceMembership.Status.EXITED, exited_at=self.now
                )
                self._note_changed(chunk)


# Temporary tables live only in this session and transaction; fixed names are fine because one connection runs
# one import at a time. Staging holds the file's valid rows as text (column cN is the header's Nth), named the
# same rows with their profile (found, or new) and payload, in identity order.
_STAGING = "audience_import_staging"
_NAMED = "audience_import_named"

# The SQL twin of `time_ordered_uuid`: the import's millisecond, then {counter} (a bigint below 2^32), then 42
# random bits. 28672 is 0x7000 (the version); bit 63 set and bit 62 clear make the RFC variant.
_NEW_PROFILE_ID = (
    "encode(int8send((%(ms)s::bigint << 16) | 28672 | ({counter} >> 20)) || "
    "int8send((1::bigint << 63) | (({counter} & 1048575) << 42) | floor(random() * 4398046511104)::bigint), "
    "'hex')::uuid"
)

# One pass over the file's rows: the profile an identity already has, or a new time-ordered id (counted in identity
# order, so new profiles, their identities and memberships are all inserted in the order of every index they
# go into); the payload built from the text columns. Sorted by identity, which is also the order of the new ids.
_NAME_PROFILES = """
CREATE TEMPORARY TABLE {named} ON COMMIT DROP AS
SELECT s.{identity} AS value, i.profile_id IS NULL AS created,
    coalesce(i.profile_id, {new_id}) AS profile_id,
    jsonb_object(%(keys)s::text[], {values}) AS payload
FROM {staging} s
LEFT JOIN profiles_identity i
    ON i.sandbox_id = %(sandbox)s AND i.namespace_id = %(namespace)s AND i.value = s.{identity}
WINDOW by_identity AS (ORDER BY s.{identity})
ORDER BY s.{identity}
"""

# The rows marked `created` are new to the sandbox: plain inserts. A concurrent writer that adds one of these
# identities first makes the identity insert fail on its unique constraint; the import then rolls back whole and
# its task retries, when the identity is found.
_INSERT_PROFILES = """
INSERT INTO profiles_profile (id, sandbox_id, attributes, created_at, updated_at)
SELECT profile_id, %(sandbox)s, '{{}}'::jsonb, %(now)s, %(now)s FROM {named} WHERE created
"""

_INSERT_IDENTITIES = """
INSERT INTO profiles_identity (sandbox_id, namespace_id, value, profile_id, "primary", created_at)
SELECT %(sandbox)s, %(namespace)s, value, profile_id, true, %(now)s FROM {named} WHERE created
"""

_HAS_MEMBERSHIPS = "SELECT EXISTS (SELECT 1 FROM audiences_audiencemembership WHERE audience_id = %(audience)s)"

# The next three run only when the audience has memberships (of any status), in this order; the index on the
# named rows keeps their joins cheap even when the planner misjudges memberships written earlier in this
# transaction. Members the file does not name exit:
_EXIT_ABSENT = """
UPDATE audiences_audiencemembership m SET status = %(exited)s, exited_at = %(now)s
WHERE m.audience_id = %(audience)s AND m.status = ANY(%(active)s)
AND NOT EXISTS (SELECT 1 FROM {named} n WHERE n.profile_id = m.profile_id)
"""

# Before the exits, when they need checking: the active members, and how many of them the file does not name.
_COUNT_EXITS = """
SELECT count(*), count(*) FILTER (WHERE NOT EXISTS (SELECT 1 FROM {named} n WHERE n.profile_id = m.profile_id))
FROM audiences_audiencemembership m WHERE m.audience_id = %(audience)s AND m.status = ANY(%(active)s)
"""

# Members the file names again: only those whose status or payload actually change are written (and announced),
# so re-running a file is a no-op.
_UPDATE_MEMBERSHIPS = """
UPDATE audiences_audiencemembership m SET
    payload = n.payload,
    status = CASE WHEN m.status = %(exited)s THEN %(realized)s ELSE m.status END,
    qualified_at = CASE WHEN m.status = %(exited)s THEN %(now)s ELSE m.qualified_at END,
    exited_at = NULL
FROM {named} n
WHERE m.audience_id = %(audience)s AND m.profile_id = n.profile_id
AND (m.status = %(exited)s OR m.payload IS DISTINCT FROM n.payload)
"""

# The rest have no membership yet: plain inserts, all of them when the audience had none. (An import running at
# the same time into the same audience makes one of the two fail on the unique constraint, roll back and retry.)
_INSERT_MEMBERSHIPS = """
INSERT INTO audiences_audiencemembership AS m (audience_id, profile_id, status, qualified_at, exited_at, payload)
SELECT %(audience)s, n.profile_id, %(realized)s, %(now)s, NULL, n.payload FROM {named} n
"""
_WITHOUT_MEMBERSHIP = """
WHERE n.created OR NOT EXISTS (
    SELECT 1 FROM audiences_audiencemembership e WHERE e.audience_id = %(audience)s AND e.profile_id = n.profile_id
)
"""

# Wraps a statement to return at most %(room)s of the profiles it changed (the statement itself always runs to
# completion): one more than still fits under the announce limit tells that the limit is passed.
_RETURNING_CHANGED = """
WITH written AS ({statement} RETURNING m.profile_id) SELECT profile_id FROM written LIMIT %(room)s
"""


class _CopyWriter(_Writer):
    """
    Stream the rows into a temporary table with `COPY`, then merge them in a few set-based statements.

    PostgreSQL only; memory does not depend on the file. The payload is built in SQL from text columns, the new
    profiles get time-ordered ids (see `time_ordered_uuid`), and each table is written once, in index order.
    """

    def __init__(self, audience: Audience, namespace_id: int, now, header: list[str], identity_index: int, **options):
        super().__init__(audience, namespace_id, now, header, identity_index, **options)
        self.staged = 0
        self.cursor = connection.cursor()
        columns = ", ".join("c%d text" % position for position in range(len(header)))
        self.cursor.execute("DROP TABLE IF EXISTS %s, %s" % (_STAGING, _NAMED))
        self.cursor.execute("CREATE TEMPORARY TABLE %s (%s) ON COMMIT DROP" % (_STAGING, columns))
        self.copying = contextlib.ExitStack()
        with connection.wrap_database_errors:
            # The raw psycopg cursor: Django's wrapper has no COPY; errors are still turned into Django's.
            self.copy = self.copying.enter_context(self.cursor.cursor.copy("COPY %s FROM STDIN" % _STAGING))

    def __exit__(self, exc_type, exc, traceback) -> None:
        # An error before `finish` must end the COPY (psycopg sends CopyFail) so the rollback can run.
        with connection.wrap_database_errors:
            self.copying.__exit__(exc_type, exc, traceback)
        self.cursor.close()

    def _write(self, rows: list[list[str]]) -> None:
        write_row = self.copy.write_row
        with connection.wrap_database_errors:
            for values in rows:
                write_row(values)
        self.staged += len(rows)

    def _execute(self, phase: str, sql: str, params: dict) -> int:
        with self._timed(phase):
            self.cursor.execute(sql, params)
        return self.cursor.rowcount

    def _execute_changing(self, phase: str, statement: str, params: dict) -> None:
        """Run a statement aliasing audiences_audiencemembership as `m`, noting the profiles it changed."""
        if self.changed_overflow:
            self._execute(phase, statement, params)
            return
        room = _announce_limit() - len(self.changed) + 1
        self._execute(phase, _RETURNING_CHANGED.format(statement=statement.strip()), {**params, "room": room})
        self._note_changed([profile_id for (profile_id,) in self.cursor.fetchall()])

    def finish(self) -> None:
        with connection.wrap_database_errors, self._timed("write"):
            self.copying.close()
        identity = "c%d" % self.identity_index
        payload_columns = [
            (position, name) for position, name in enumerate(self.header) if position != self.identity_index
        ]
        params = {
            "sandbox": self.sandbox_id,
            "namespace": self.namespace_id,
            "audience": self.audience.pk,
            "now": self.now,
            "ms": _milliseconds(self.now),
            "realized": AudienceMembership.Status.REALIZED.value,
            "exited": AudienceMembership.Status.EXITED.value,
            "active": [status.value for status in AudienceMembership.ACTIVE_STATUSES],
            "keys": [name for _position, name in payload_columns],
        }
        names = {
            "staging": _STAGING,
            "named": _NAMED,
            "identity": identity,
            "new_id": _NEW_PROFILE_ID.format(counter="row_number() OVER by_identity"),
            "values": "ARRAY[%s]::text[]" % ", ".join("s.c%d" % position for position, _name in payload_columns),
        }
        # The sorts and the hash join below are as large as the file; with the server's default work_mem (4 MB)
        # they spill to disk (at 1M rows: 15% of the merge statements' time). For this transaction only.
        self.cursor.execute("SELECT current_setting('work_mem')")
        (saved_work_mem,) = self.cursor.fetchone()
        self.cursor.execute("SELECT set_config('work_mem', %s, true)", [_work_mem()])
        # Temporary tables are never analyzed automatically; without statistics the join is planned badly.
        self._execute("analyze", "ANALYZE %s" % _STAGING, params)
        self._execute("name", _NAME_PROFILES.format(**names), params)
        created = self._execute("profiles", _INSERT_PROFILES.format(**names), params)
        self.profiles_created = created
        if created:
            self._execute("identities", _INSERT_IDENTITIES.format(**names), params)
        if created > _announce_limit():
            self._note_changed(range(created))  # too many to name: the whole sandbox is refreshed
        self._execute("memberships", _HAS_MEMBERSHIPS, params)
        (has_memberships,) = self.cursor.fetchone()
        if has_memberships:
            self._execute("memberships", "CREATE INDEX ON %s (profile_id)" % _NAMED, params)
            self._execute("memberships", "ANALYZE %s" % _NAMED, params)
            if not self.confirm_exits:
                self._execute("memberships", _COUNT_EXITS.format(**names), params)
                self.members_before, exits = self.cursor.fetchone()
                self._check_exits(exits)
            self._execute_changing("memberships", _EXIT_ABSENT.format(**names), params)
            self._execute_changing("memberships", _UPDATE_MEMBERSHIPS.format(**names), params)
            insert = _INSERT_MEMBERSHIPS + _WITHOUT_MEMBERSHIP
        else:
            insert = _INSERT_MEMBERSHIPS
            if self.staged > _announce_limit():
                # Every row becomes a membership, too many to name: no need to return them.
                self._note_changed(range(self.staged))
        if self.staged > created:
            # Known profiles' ids are in no particular order by identity: sorted, the membership indexes on the
            # profile are written left to right (at 200k known rows: 1.3 s instead of 2.0 s).
            insert += "ORDER BY n.profile_id"
        self._execute_changing("memberships", insert.format(**names), params)
        self.cursor.execute("DROP TABLE %s, %s" % (_STAGING, _NAMED))
        self.cursor.execute("SELECT set_config('work_mem', %s, true)", [saved_work_mem])


def _writer(audience: Audience, namespace_id: int, now, header: list[str], identity_index: int, **options) -> _Writer:
    """Return the writer for the database in use: `COPY` on PostgreSQL, the ORM elsewhere (SQLite)."""
    writer_class = _CopyWriter if connection.vendor == "postgresql" else _OrmWriter
    return writer_class(audience, namespace_id, now, header, identity_index, **options)


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
    batch: list[list[str]] = []
    position = {"offset": 0}
    width = len(header)
    valid_identity = identity_checker(namespace_code)
    valid = invalid = 0
    started = time.perf_counter()

    def on_progress(offset):
        position["offset"] = offset

    with _writer(
        audience, audience_import.namespace_id, now, header, identity_index, confirm_exits=audience_import.confirm_exits
    ) as writer:
        for row_number, values, problem in iter_rows(path, layout, on_progress):
            # The common case in one expression; a row failing any check is looked at again to say why. The
            # identity is remembered by its 64-bit hash, not its value: a third of the memory on large files. Two
            # different identities share a hash with a chance of about 1 in 10^7 per million-row file.
            if not (
                problem is None
                and len(values) == width
                and max(map(len, values)) <= MAX_VALUE_LENGTH
                and "\x00" not in "".join(values)
                and valid_identity(values[identity_index])
                and seen.setdefault(hash(values[identity_index]), row_number) == row_number
            ):
                if problem is not None:
                    errors = [RowError(row_number, "", "", problem)]
                else:
                    errors = _row_errors(row_number, values, header, identity_index, namespace_code, seen)
                if errors:
                    invalid += 1
                    for error in errors:
                        report.add(error)
                    continue
                seen.setdefault(hash(values[identity_index]), row_number)  # not reached while the checks agree
            valid += 1
            batch.append(values)
            if len(batch) >= writer.size:
                writer.write(batch)
                batch = []
                cache.set(_progress_key(audience_import.pk), min(0.99, position["offset"] / size), timeout=24 * 3600)
        if not valid:
            raise FileProblem(_no_valid_rows(invalid))
        if batch:
            writer.write(batch)
        outcome.timings["read"] = time.perf_counter() - started - writer.timings.get("write", 0.0)
        writer.finish()
    outcome.rows_valid, outcome.rows_invalid, outcome.rows_total = valid, invalid, valid + invalid
    outcome.timings.update(writer.timings)
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


def _no_valid_rows(invalid: int) -> str:
    """The message for a file that names nobody: importing it would make every member exit by accident."""
    if not invalid:
        return _(
            "The file has a header but no data rows, so nothing was imported and no member exits. Add one row "
            "per member of the audience."
        )
    return _(
        "None of the file's %(count)d data rows is valid (the error report lists why), so nothing was imported "
        "and no member exits. Fix the rows, or check that the identity column and namespace are the right ones."
    ) % {"count": invalid}


def _refuse_expired(audience: Audience) -> None:
    if audience.is_expired:
        raise FileProblem(
            _(
                "%(name)s expired on %(date)s; an expired upload cannot be refreshed. Import the file into a new "
                "audience instead."
            )
            % {"name": audience.name, "date": audience.expires_at.date().isoformat()}
        )


# Faults that pass: the connection dropped, a deadlock or serialization failure, or another writer added the same
# identity or membership first (a unique constraint). The task retries these; any other database error is final.
TRANSIENT_DATABASE_ERRORS = (OperationalError, IntegrityError)


def audience_import_run(*, import_id) -> AudienceImport | None:
    """
    Run a pending import: claim it, read and check every row, write the valid ones in one transaction.

    Returns None when the import is gone or already claimed (a duplicate task). A file-level problem, a database
    error that is not transient or an unexpected error fails the import with a message and writes nothing;
    transient database errors (`TRANSIENT_DATABASE_ERRORS`) propagate so the task can retry (the import is
    released back to pending first).
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
            committing = time.perf_counter()
        # Deferred foreign key checks run here: on PostgreSQL a large share of a big import's time.
        outcome.timings["commit"] = time.perf_counter() - committing
    except FileProblem as problem:
        report.add(RowError(problem.row or 0, "", "", problem.message))
        report.close()
        return audience_import_fail(
            import_id=import_id,
            message=problem.message,
            report=report.relative,
            exits_refused=getattr(problem, "exits", 0),
        )
    except TRANSIENT_DATABASE_ERRORS:
        report.close()
        raise
    except DatabaseError:
        # Not a passing fault: the same file would fail the same way, so it is not retried. The rows are checked
        # for everything the database refuses; reaching this is a bug, logged with its cause, not shown raw.
        report.close()
        logger.exception("audience.import.database_refused", extra={"import_id": import_id})
        return audience_import_fail(
            import_id=import_id,
            message=_(
                "The database refused to store this file's rows, so nothing was written. Check the file for unusual "
                "characters and try again; if it happens again, an admin can find the cause in the server log."
            ),
            report=report.relative,
        )
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
    logger.info(
        "audience.import.succeeded",
        extra={
            "import_id": import_id,
            "rows_valid": outcome.rows_valid,
            "seconds": {phase: round(seconds, 3) for phase, seconds in outcome.timings.items()},
        },
    )
    return AudienceImport.objects.get(pk=import_id)


def audience_import_fail(*, import_id, message: str, report: str = "", exits_refused: int = 0) -> AudienceImport | None:
    """Mark an unfinished import failed with `message` (nothing it read was written)."""
    AudienceImport.objects.filter(
        pk=import_id, status__in=(AudienceImport.Status.PENDING, AudienceImport.Status.RUNNING)
    ).update(
        status=AudienceImport.Status.FAILED,
        error=message[:4000],
        error_report_path=report,
        exits_refused=exits_refused,
        finished_at=timezone.now(),
    )
    cache.delete(_progress_key(import_id))
    return AudienceImport.objects.filter(pk=import_id).first()


def audience_import_release(*, import_id) -> None:
    """Put a running import back to pending so a retried task can claim it again."""
    AudienceImport.objects.filter(pk=import_id, status=AudienceImport.Status.RUNNING).update(
        status=AudienceImport.Status.PENDING, progress=0.0
    )
