"""
The PostgreSQL writer of a CSV import: `COPY` the valid rows into a temporary table, then merge them into the
profiles, identities and memberships tables in a few set-based statements.
"""

import contextlib

from django.conf import settings
from django.db import connection

from personalization.audiences.imports.writers import Writer, announce_limit, milliseconds
from personalization.audiences.models import Audience, AudienceMembership

__all__ = ["CopyWriter"]


def _work_mem() -> str:
    """PostgreSQL's work_mem for the merge statements of an import (SET LOCAL: that transaction only)."""
    return settings.AUDIENCE_IMPORT_WORK_MEM


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


class CopyWriter(Writer):
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
        room = announce_limit() - len(self.changed) + 1
        self._execute(phase, _RETURNING_CHANGED.format(statement=statement.strip()), {**params, "room": room})
        self._note_changed([profile_id for (profile_id,) in self.cursor.fetchall()])

    def finish(self) -> None:
        with connection.wrap_database_errors, self._timed("write"):
            self.copying.close()
        identity = "c%d" % self.identity_index
        payload_columns = self.payload_columns
        params = {
            "sandbox": self.sandbox_id,
            "namespace": self.namespace_id,
            "audience": self.audience.pk,
            "now": self.now,
            "ms": milliseconds(self.now),
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
        if created > announce_limit():
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
            if self.staged > announce_limit():
                # Every row becomes a membership, too many to name: no need to return them.
                self._note_changed(range(self.staged))
        if self.staged > created:
            # Known profiles' ids are in no particular order by identity: sorted, the membership indexes on the
            # profile are written left to right (at 200k known rows: 1.3 s instead of 2.0 s).
            insert += "ORDER BY n.profile_id"
        self._execute_changing("memberships", insert.format(**names), params)
        self.cursor.execute("DROP TABLE %s, %s" % (_STAGING, _NAMED))
        self.cursor.execute("SELECT set_config('work_mem', %s, true)", [saved_work_mem])
