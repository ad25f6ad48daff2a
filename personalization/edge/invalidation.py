"""
Durable invalidation of the edge store: what a write makes stale is recorded in its own transaction.

`record(keys)` runs inside the writer's transaction. On Redis it adds an `EdgeInvalidation` row and counts a
change of each datastream config named (`ConfigVersion`), so the record commits or rolls back with the change;
after the commit the entries are applied to the store and the row is deleted. When Redis does not take them
(it is unreachable), the row stays, and every process applies the rows left before it serves from Redis again
(`apply_pending`, the store's recovery step). On the embedded store (local memory, which cannot be unreachable)
the entries are applied after the commit, without a row.

Keys are `[kind, *ids]` lists:
- `["ds", datastream]`: the datastream's config is read again and stored if it changed (an edit no answer
  depends on, such as a name, then writes nothing);
- `["pgen", sandbox]`: the sandbox's profiles changed too broadly to name (a large evaluation or import): a
  new profile generation, and the sandbox's configs stored again under it;
- `["pf", sandbox, identity hash]`, `["tok", digest]`: the entry is dropped.
"""

import logging

from django.db import transaction
from django.db.models import F

from personalization.datastreams.models import Datastream
from personalization.edge import metrics, projection
from personalization.edge.models import ConfigVersion, EdgeInvalidation
from personalization.edge.store import StoreUnavailable, store

__all__ = ["apply", "apply_pending", "record", "refresh_configs"]

logger = logging.getLogger(__name__)

CONFIG_TTL = 3600
_BATCH = 500


def record(keys) -> None:
    """Record entries the current transaction makes stale; they are applied to the store once it commits."""
    keys = sorted({tuple(str(part) for part in key) for key in keys})
    if not keys:
        return
    if not store.on_redis:
        transaction.on_commit(lambda: apply(keys))
        return

    row = EdgeInvalidation.objects.create(keys=[list(key) for key in keys])
    _count_config_changes(sorted({key[1] for key in keys if key[0] == "ds"}))
    transaction.on_commit(lambda: _apply_rows([row.pk], keys))


def _count_config_changes(datastream_ids) -> None:
    """Count a change of these datastreams' configs, visible when the writer commits (see `ConfigVersion`)."""
    if not datastream_ids:
        return
    ConfigVersion.objects.bulk_create([ConfigVersion(datastream_id=pk) for pk in datastream_ids], ignore_conflicts=True)
    # Rows locked in one order, so two writers counting overlapping datastreams wait instead of deadlocking.
    counted = ConfigVersion.objects.filter(pk__in=datastream_ids)
    list(counted.select_for_update().order_by("pk").values_list("pk", flat=True))
    counted.update(version=F("version") + 1)


def _apply_rows(row_ids, keys) -> None:
    try:
        apply(keys)
    except StoreUnavailable as error:
        # The rows stay; whichever process sees Redis again first applies them before serving from it.
        logger.warning("edge.invalidation.deferred", extra={"rows": row_ids, "error": str(error)})
        return
    EdgeInvalidation.objects.filter(pk__in=row_ids).delete()


def apply(keys) -> None:
    """Apply `[kind, *ids]` entries to the store; raise `StoreUnavailable` when Redis did not take them."""
    keys = [tuple(key) for key in keys]
    regenerated = {key[1] for key in keys if key[0] == "pgen"}
    for sandbox_id in sorted(regenerated):
        store.new_generation(sandbox_id)
    datastreams = {key[1] for key in keys if key[0] == "ds"}
    if regenerated:
        datastreams |= {
            str(pk) for pk in Datastream.objects.filter(sandbox_id__in=regenerated).values_list("pk", flat=True)
        }
    refresh_configs(sorted(datastreams), only_stored=True)
    store.forget([key for key in keys if key[0] in ("pf", "tok")])
    metrics.invalidations_applied(len(keys))


def refresh_configs(datastream_ids, *, only_stored: bool = False) -> int:
    """
    Read these datastreams' configs from the database and store the ones that changed; return how many did.
    With `only_stored`, only configs the store holds are read (one that is not there cannot be stale). Raise
    `StoreUnavailable` when Redis does not take them.
    """
    changed = 0
    for datastream_id in datastream_ids:
        if only_stored and not store.holds_config(datastream_id):
            continue
        config = projection.load_config(datastream_id)
        if config is None:
            store.forget([("dsv", datastream_id), ("ds", datastream_id)])
            continue
        config["pgen"] = store.generation(config["sandbox"])
        if not config["pgen"]:
            raise StoreUnavailable("the profile generation could not be read")
        changed += store.put_config(config, CONFIG_TTL, strict=True)
    return changed


def apply_pending() -> int:
    """Apply every recorded invalidation still pending (the store's recovery step); return how many rows."""
    applied = 0
    while True:
        rows = list(EdgeInvalidation.objects.order_by("pk").values_list("pk", "keys")[:_BATCH])
        if not rows:
            return applied
        apply([key for _pk, keys in rows for key in keys])
        EdgeInvalidation.objects.filter(pk__in=[pk for pk, _keys in rows]).delete()
        applied += len(rows)


store.recover = apply_pending
