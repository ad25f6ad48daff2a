"""Rebuild the edge store from the database: every datastream's config and every identity's profile facts."""

from collections import defaultdict

from personalization.audiences.models import AudienceMembership
from personalization.datastreams.models import Datastream
from personalization.edge import invalidation
from personalization.edge.lookup import FACTS_TTL
from personalization.edge.store import encode_facts, identity_key, store
from personalization.profiles.models import Identity, Profile

__all__ = ["edge_rebuild"]


def _facts_for_chunk(sandbox_id, generation: str, profile_ids):
    """Yield `(sandbox, identity hash, encoded facts)` for every identity of these profiles (three queries)."""
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
    encoded = {}
    for profile_id, namespace, value in identities:
        facts = encoded.get(profile_id)
        if facts is None:
            found = {
                "profile": str(profile_id),
                "attributes": attributes.get(profile_id) or {},
                "audiences": sorted(audiences[profile_id]),
            }
            facts = encoded[profile_id] = encode_facts(generation, found)
        yield sandbox_id, identity_key(namespace, value), facts


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
    datastream_ids = [str(pk) for pk in datastreams.values_list("pk", flat=True)]
    invalidation.refresh_configs(datastream_ids)
    sandboxes = sorted({str(pk) for pk in datastreams.values_list("sandbox_id", flat=True)})
    answers = 0
    for sandbox in sandboxes:
        generation = store.generation(sandbox)
        profile_ids = Profile.objects.filter(sandbox_id=sandbox).order_by("pk").values_list("pk", flat=True)
        chunk = []
        for profile_id in profile_ids.iterator(chunk_size=chunk_size):
            chunk.append(profile_id)
            if len(chunk) >= chunk_size:
                answers += _store_chunk(sandbox, generation, chunk)
                chunk = []
                if progress:
                    progress(answers)
        answers += _store_chunk(sandbox, generation, chunk)
    return {"datastreams": len(datastream_ids), "answers": answers}


def _store_chunk(sandbox_id, generation: str, profile_ids) -> int:
    if not profile_ids:
        return 0
    items = list(_facts_for_chunk(sandbox_id, generation, profile_ids))
    store.put_many_facts(items, FACTS_TTL, strict=True)
    return len(items)
