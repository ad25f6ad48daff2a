"""What the review step of a CSV import can say before anything is written: how many members the file makes exit."""

from dataclasses import dataclass

from personalization.audiences.imports.reading import CsvLayout, exceeds_exit_threshold, iter_rows
from personalization.audiences.models import Audience, AudienceMembership
from personalization.profiles.identities import identity_checker
from personalization.profiles.models import Identity

__all__ = ["EXIT_COUNT_MAX_BYTES", "ExitEstimate", "estimate_exits"]

# Counting reads the whole file in the request; above this, the import itself stops and asks (see `run`).
EXIT_COUNT_MAX_BYTES = 20 * 1024 * 1024


@dataclass(frozen=True)
class ExitEstimate:
    """The audience's active members, and how many of them the file does not name (None when not counted)."""

    members: int
    exits: int | None

    @property
    def counted(self) -> bool:
        return self.exits is not None

    @property
    def needs_confirmation(self) -> bool:
        return self.counted and exceeds_exit_threshold(exits=self.exits, members=self.members)


def estimate_exits(*, audience: Audience, source, size: int, layout: CsvLayout, identity_column: str, namespace):
    """
    Return how many of `audience`'s active members the file `source` leaves out, as the import would count them.

    Only the file's valid identities count (an invalid row names nobody). Files over EXIT_COUNT_MAX_BYTES are
    not read here (`exits` is None): the import checks the same rule before it writes.
    """
    active = AudienceMembership.objects.filter(audience=audience, status__in=AudienceMembership.ACTIVE_STATUSES)
    members = active.count()
    if not members:
        return ExitEstimate(members=0, exits=0)
    if size > EXIT_COUNT_MAX_BYTES or identity_column not in layout.header:
        return ExitEstimate(members=members, exits=None)
    index = layout.header.index(identity_column)
    valid = identity_checker(namespace.code)
    named = {
        values[index]
        for _row, values, problem in iter_rows(source, layout)
        if problem is None and len(values) == len(layout.header) and valid(values[index])
    }
    kept = (
        Identity.objects.filter(namespace=namespace, profile__in=active.values("profile_id"))
        .values_list("profile_id", "value")
        .iterator(chunk_size=5000)
    )
    staying = {profile_id for profile_id, value in kept if value in named}
    return ExitEstimate(members=members, exits=members - len(staying))
