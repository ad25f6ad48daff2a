"""Rebuild the edge store from the database: every datastream's config and every identity's answer."""

import time
from collections import defaultdict

from personalization.audiences.models import AudienceMembership
from personalization.datastreams.models import Datastream
from personalization.edge import projection
from personalization.edge.lookup import CONFIG_TTL, PROJECTION_TTL
from personalization.edge.store import identity_key, store
from personalization.profiles.models import Identity, Profile

__all__ = ["edge_rebuild"]


def _answers_for_chunk(profile_ids, configs, now):
    attributes = dict(Profile.objects.filter(pk__in=profile_ids).values_list("pk", "attributes"))
    audiences = defaultdict(list)
    memberships = AudienceMembership.objects.filter(
        profile_id__in=profile_ids, status__in=AudienceMembership.ACTIVE_STATUSES
    ).values_list("profile_id", "audience_id")
    for profile_id, audience_id in memberships:
        audiences[profile_id].append(str(audience_id))
    identities = Identity.objects.filter(profile_id__in=profile_ids).values_list(
        "profile_id", "namespace__code", "value"
    )
    for profile_id, namespace, value in identities:
        found = {
            "profile": str(profile_id),
            "attributes": attributes.get(profile_id) or {},
            "audiences": sorted(audiences[profile_id]),
        }
        key = identity_key(namespace, value)
        for config in configs:
            yield config["id"], key, projection.build_projection(config, found, now)


def edge_rebuild(*, sandbox_id=None, chunk_size: int = 2000, clear: bool = True, progress=None) -> dict:
    """
    Drop the edge store and fill it again; return counts. Safe at any time: lookups that miss meanwhile
    compute their own answer from the database.
    """
    if clear:
        store.clear()
    datastreams = Datastream.objects.all()
    if sandbox_id is not None:
        datastreams = datastreams.filter(sandbox_id=sandbox_id)
    by_sandbox = defaultdict(list)
    for datastream_id in datastreams.values_list("pk", flat=True):
        config = projection.load_config(datastream_id)
        config["gen"] = store.get_generation(config["sandbox"])
        store.put_config(datastream_id, config, CONFIG_TTL)
        if config["destinations"]:
            by_sandbox[config["sandbox"]].append(config)
    answers = 0
    now = time.time()
    for sandbox, configs in by_sandbox.items():
        profile_ids = Profile.objects.filter(sandbox_id=sandbox).order_by("pk").values_list("pk", flat=True)
        chunk = []
        for profile_id in profile_ids.iterator(chunk_size=chunk_size):
            chunk.append(profile_id)
            if len(chunk) >= chunk_size:
                answers += _store_chunk(chunk, configs, now)
                chunk = []
                if progress:
                    progress(answers)
        answers += _store_chunk(chunk, configs, now)
    return {"datastreams": len(list(datastreams.values_list("pk", flat=True))), "answers": answers}


def _store_chunk(profile_ids, configs, now) -> int:
    if not profile_ids:
        return 0
    items = []
    for datastream_id, key, answer in _answers_for_chunk(profile_ids, configs, now):
        items.append((datastream_id, key, answer))
    ttl = PROJECTION_TTL
    store.put_projections(items, ttl)
    return len(items)
