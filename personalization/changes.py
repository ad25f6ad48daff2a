"""
Change notifications that keep derived stores (the edge projection) correct.

Domain code announces *what* changed, inside the transaction that changes it. Each announcement is sent twice:
at once as `changing` (the signal the edge app records what becomes stale on, in that same transaction, so a
change that rolls back invalidates nothing and one that commits is never lost), and after the commit as its own
signal, for listeners that only care about committed changes. Model saves and deletes announce
themselves through receivers in the edge app; bulk writes (batch evaluation, CSV imports) call these helpers
explicitly because bulk operations bypass model signals.
"""

from django.db import transaction
from django.dispatch import Signal

__all__ = [
    "announce_audience_work_finished",
    "announce_configuration_changed",
    "announce_identities_changed",
    "announce_profiles_changed",
    "announce_tokens_revoked",
    "audience_work_finished",
    "changing",
    "configuration_changed",
    "identities_changed",
    "profiles_changed",
    "tokens_revoked",
]

# Sent inside the writer's transaction, with one of the signals below as `sender` and its arguments.
changing = Signal()
# sandbox_id: the sandbox whose datastreams, destinations, activations, mappings or audiences changed.
configuration_changed = Signal()
# sandbox_id, profile_ids: profiles whose attributes, identities or memberships changed.
profiles_changed = Signal()
# sandbox_id, identities: (namespace code, value) pairs that appeared, moved or disappeared.
identities_changed = Signal()
# digests: bearer token digests that must stop working.
tokens_revoked = Signal()
# After the commit only (what it reports is done): the activation work the dataflow runs account for.
# audience_id, kind ("batch" or "import"), source ("evaluation:<id>"), started_at, finished_at, error ("" if none).
audience_work_finished = Signal()


def _announce(signal: Signal, **kwargs) -> None:
    changing.send(sender=signal, **kwargs)
    transaction.on_commit(lambda: signal.send(sender=None, **kwargs))


def announce_configuration_changed(sandbox_id) -> None:
    _announce(configuration_changed, sandbox_id=sandbox_id)


def announce_profiles_changed(sandbox_id, profile_ids) -> None:
    _announce(profiles_changed, sandbox_id=sandbox_id, profile_ids=list(profile_ids))


def announce_identities_changed(sandbox_id, identities) -> None:
    _announce(identities_changed, sandbox_id=sandbox_id, identities=list(identities))


def announce_tokens_revoked(digests) -> None:
    _announce(tokens_revoked, digests=list(digests))


def announce_audience_work_finished(*, audience_id, kind: str, source: str, started_at, finished_at, error="") -> None:
    transaction.on_commit(
        lambda: audience_work_finished.send(
            sender=None,
            audience_id=audience_id,
            kind=kind,
            source=source,
            started_at=started_at,
            finished_at=finished_at,
            error=error,
        )
    )
