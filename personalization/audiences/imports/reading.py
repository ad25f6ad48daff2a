"""
CSV custom upload, reading and checks: read a file row by row and say what is wrong with a row, or the file.

The file stays on disk (under MEDIA_ROOT) and is streamed with the csv module, so memory does not grow with
the file. The import itself (`run`) writes the valid rows with a writer (`writers`, `copy_writer`) and lists the
invalid ones in the error report (`report`).

Rules, in the order they are checked:

- file: UTF-8 (a BOM is allowed), at most 1 GB, delimiter `,` `;` or tab (the one the header uses most);
  header: at most 25 columns, names without spaces or dashes, no duplicates, the identity column present;
- row: as many values as the header has columns, no value over 1,024 characters, an identity that is not empty,
  valid for its namespace (`profiles.identities`: its format, no invisible or control characters, at most 512
  characters) and not a repeat of an earlier row's (the report names the first row); no NUL character in any value;
- the file: at least one valid row, and, unless the import says the exits are confirmed, no more than half of the
  audience's current members exiting.
"""

import codecs
import contextlib
import csv
import re
from dataclasses import dataclass

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from personalization.profiles.identities import identity_problem, invisible_character

__all__ = [
    "DELIMITERS",
    "MAX_COLUMNS",
    "MAX_FILE_BYTES",
    "MAX_VALUE_LENGTH",
    "ROW_PROBLEM_KINDS",
    "CsvLayout",
    "ExitsNeedConfirmation",
    "FileProblem",
    "RowError",
    "check_header",
    "check_identity",
    "exceeds_exit_threshold",
    "iter_rows",
    "read_layout",
    "read_preview",
    "row_errors",
]

MAX_FILE_BYTES = 1024**3
MAX_COLUMNS = 25
MAX_VALUE_LENGTH = 1024
# A physical line longer than this is not a CSV row (25 columns of 1,024 characters, quoted, fit easily); reading
# it whole could exhaust memory, so the file is refused instead.
MAX_LINE_BYTES = 1024**2
DELIMITERS = {",": _("comma"), ";": _("semicolon"), "\t": _("tab")}
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


# What the import page counts rejected rows by, in the words it shows.
ROW_PROBLEM_KINDS = {
    "columns": gettext_lazy("Wrong number of values"),
    "nul": gettext_lazy("NUL character in a value"),
    "too_long": gettext_lazy("Value too long"),
    "identity": gettext_lazy("Not a valid identity"),
    "duplicate": gettext_lazy("Identity repeated"),
    "unreadable": gettext_lazy("Row could not be read"),
    "file": gettext_lazy("Problem with the whole file"),
}


@dataclass(frozen=True)
class RowError:
    row: int
    column: str
    value: str
    message: str
    kind: str = "identity"  # a key of ROW_PROBLEM_KINDS


@dataclass(frozen=True)
class CsvLayout:
    """What the first bytes of a file say: its delimiter, header, whether it starts with a BOM, its line ends."""

    delimiter: str
    header: list[str]
    bom: bool
    # Lines end in a lone carriage return (classic Mac OS, some spreadsheet exports), not in \n or \r\n.
    cr_only: bool = False


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


def row_errors(row_number, values, header, identity_index, namespace_code, seen) -> list[RowError]:
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
                kind="columns",
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
                    kind="nul",
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
                    kind="too_long",
                )
            )
    identity = values[identity_index]
    problem = None if len(identity) > MAX_VALUE_LENGTH else check_identity(identity, namespace_code)
    if problem is not None:
        # An invisible character is shown escaped (\u200b), or the report would look like a valid value.
        shown = identity[:MAX_VALUE_LENGTH]
        if invisible_character(shown) is not None:
            shown = shown.encode("unicode_escape").decode()[:MAX_VALUE_LENGTH]
        errors.append(RowError(row_number, header[identity_index], shown, problem, kind="identity"))
    elif not errors:
        first = seen.get(hash(identity))
        if first is not None:
            errors.append(
                RowError(
                    row_number,
                    header[identity_index],
                    identity,
                    _("This identity already appears in row %(row)d; each identity may appear once.") % {"row": first},
                    kind="duplicate",
                )
            )
    return errors
