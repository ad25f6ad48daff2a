"""
Writers of a CSV import's valid rows: the base (`Writer`) and the ORM writer for any database (SQLite).

A writer takes the valid rows batch by batch, then, in `finish`, exits the members the file does not name. The
PostgreSQL writer (`copy_writer.CopyWriter`) writes the same memberships set-based (see
tests/audiences/test_write_paths_equal.py). Profiles an import creates get time-ordered ids (`time_ordered_uuid`).
"""

import contextlib
import datetime
import os
import time
import uuid

from django.conf import settings

from personalization.audiences.imports.reading import ExitsNeedConfirmation, exceeds_exit_threshold
from personalization.audiences.models import Audience, AudienceMembership
from personalization.profiles.models import Identity, Profile

__all__ = ["OrmWriter", "Writer", "announce_limit", "batch_size", "milliseconds", "time_ordered_uuid"]


def batch_size() -> int:
    return settings.AUDIENCE_IMPORT_BATCH_SIZE


def announce_limit() -> int:
    return settings.AUDIENCE_IMPORT_ANNOUNCE_LIMIT


_COUNTER_LIMIT = 1 << 32
_RANDOM_BITS = 42


def time_ordered_uuid(milliseconds: int, counter: int) -> uuid.UUID:
    """
    Return a version-7 UUID (RFC 9562): `milliseconds` since the epoch, a 32-bit `counter` (the 12 bits of rand_a
    and the top 20 of rand_b: the RFC's fixed-length dedicated counter), then 42 random bits.

    Ids with one timestamp sort by counter, and after every id of an earlier millisecond, so the profiles an import
    creates go to the right-hand end of every index on a profile id instead of to random pages. `copy_writer`
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


def milliseconds(moment: datetime.datetime) -> int:
    return int(moment.timestamp() * 1000)


class Writer:
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
        # `(position, name)` of every column but the identity: what a member's payload holds.
        self.payload_columns = [(position, name) for position, name in enumerate(header) if position != identity_index]
        self.size = batch_size()
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
        if len(self.changed) + len(profile_ids) > announce_limit():
            self.changed_overflow = True
            self.changed = []
        else:
            self.changed.extend(profile_ids)


class OrmWriter(Writer):
    """Upsert each batch with the ORM: identities and profiles first, then memberships (any database)."""

    def __init__(self, audience: Audience, namespace_id: int, now, header: list[str], identity_index: int, **options):
        super().__init__(audience, namespace_id, now, header, identity_index, **options)
        self.milliseconds = milliseconds(now)
        # Members before this run; whoever the file does not name exits at the end.
        self.absent = set(
            AudienceMembership.objects.filter(
                audience=audience, status__in=AudienceMembership.ACTIVE_STATUSES
            ).values_list("profile_id", flat=True)
        )
        self.members_before = len(self.absent)

    def _write(self, rows: list[list[str]]) -> None:
        identity_index = self.identity_index
        payload_columns = self.payload_columns
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
