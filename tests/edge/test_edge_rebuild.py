"""
`edge_rebuild` fills the store with the entries lookups would fill, in the compact layout, without dropping
what lookups are using, and never puts back an older copy of a profile that changed while it ran.
"""

import json

import pytest

from personalization.edge.store import decode_facts, encode_facts, identity_key, key_of, pack_attributes
from tests.integration.conftest import require_services

pytestmark = [pytest.mark.django_db, pytest.mark.services]


def stored_facts(store, scenario, namespace="ECID", value=None):
    raw = store._get(key_of("pf", scenario.sandbox.pk, identity_key(namespace, value or scenario.ecid.value)))
    return decode_facts(raw) if raw is not None else None


def test_edge_rebuild_writes_the_facts_a_lookup_would_have_filled(redis_store, scenario):
    from personalization.edge.rebuild import edge_rebuild

    scenario.lookup()
    filled = stored_facts(redis_store, scenario)
    redis_store.clear()

    result = edge_rebuild(sandbox_id=scenario.sandbox.pk)

    rebuilt = stored_facts(redis_store, scenario)
    assert result["answers"] == 2  # the profile's ECID and its email
    assert rebuilt.as_identity() == filled.as_identity()
    assert rebuilt.generation == redis_store.generation(scenario.sandbox.pk)  # the store's, started afresh
    assert stored_facts(redis_store, scenario, "Email", scenario.email.value).as_identity() == filled.as_identity()


def test_edge_rebuild_in_many_chunks_writes_every_entry_and_reports_its_progress(redis_store, scenario):
    from personalization.edge.rebuild import edge_rebuild

    scenario.lookup()
    filled = stored_facts(redis_store, scenario)
    redis_store.clear()
    reported = []

    result = edge_rebuild(sandbox_id=scenario.sandbox.pk, chunk_size=1, progress=reported.append)

    assert result["answers"] == 2
    assert reported[-1] == 2 and reported == sorted(reported)
    for namespace, value in (("ECID", scenario.ecid.value), ("Email", scenario.email.value)):
        assert stored_facts(redis_store, scenario, namespace, value).as_identity() == filled.as_identity()


def test_edge_rebuild_leaves_the_entries_in_place_while_it_refills_them(redis_store, scenario):
    from personalization.edge.rebuild import edge_rebuild

    scenario.lookup()
    before = stored_facts(redis_store, scenario)

    edge_rebuild(sandbox_id=scenario.sandbox.pk)

    assert stored_facts(redis_store, scenario).as_identity() == before.as_identity()
    assert scenario.entry(scenario.lookup(), "personalizationAlias")["segments"]


def test_a_profile_changed_while_the_rebuild_runs_keeps_its_new_answer(
    redis_store, scenario, django_capture_on_commit_callbacks
):
    from django.utils import timezone

    from personalization.audiences.models import AudienceMembership
    from personalization.edge import rebuild

    # the set-based rebuild is PostgreSQL's (elsewhere it goes through the cache, one profile at a time)
    require_services(redis=False)
    # given: the rebuild has read its chunk (the visitor still a gold member) but not yet written it
    scenario.lookup()
    generation = redis_store.generation(scenario.sandbox.pk)
    watch = rebuild.watch_for(redis_store._raw_redis())
    try:
        (chunk,) = list(rebuild._facts_in_chunks(str(scenario.sandbox.pk), generation, 100))
        # when: the membership ends meanwhile (its invalidation drops the entry), then the chunk is written
        membership = AudienceMembership.objects.get(audience=scenario.gold, profile=scenario.profile)
        with django_capture_on_commit_callbacks(execute=True):
            membership.status, membership.exited_at = AudienceMembership.Status.EXITED, timezone.now()
            membership.save()
        rebuild._write(watch, chunk)
    finally:
        watch.close()

    # then: the older copy is not in the store, and the lookup shows the exit
    assert stored_facts(redis_store, scenario) is None
    assert scenario.entry(scenario.lookup(), "personalizationAlias")["segments"] == []


def test_facts_in_the_older_text_layout_are_still_read(redis_store, scenario):
    redis_store._set(
        key_of("pf", scenario.sandbox.pk, identity_key("ECID", scenario.ecid.value)),
        "\x1f".join(
            (
                redis_store.generation(scenario.sandbox.pk),
                str(scenario.profile.pk),
                str(scenario.gold.pk),
                '{"loyalty":{"status":"gold"}}',
            )
        ),
        60,
    )

    assert [segment["id"] for segment in scenario.entry(scenario.lookup(), "personalizationAlias")["segments"]] == [
        str(scenario.gold.pk)
    ]


def test_the_compact_layout_keeps_every_fact(scenario):
    identity = {
        "profile": str(scenario.profile.pk),
        "attributes": {"loyalty": {"status": "gold", "points": 1200}, "name": "Zoë"},
        "audiences": sorted([str(scenario.gold.pk), str(scenario.germans.pk)]),
    }

    facts = decode_facts(encode_facts("0a1b2c3d4e5f", identity))

    assert facts.as_identity() == identity
    assert facts.generation == "0a1b2c3d4e5f"
    assert decode_facts(encode_facts("0a1b2c3d4e5f", None)).profile is None


# Many fields, as a real profile has: its JSON is mostly field names, which deflating stores once.
MANY_FIELDS = {
    "loyalty": {"status": "gold", "points": 1200},
    "homeAddress": {"countryCode": "DE", "city": "Köln", "postalCode": "50667"},
    "person": {"firstName": "Zoë", "lastName": "Ündermann", "birthYear": 1984},
    "preferences": {"newsletter": True, "channel": "email", "categories": ["shoes", "bags", "outdoor"]},
}


def test_many_attributes_are_stored_deflated_and_read_back_whole(scenario):
    identity = {"profile": str(scenario.profile.pk), "attributes": MANY_FIELDS, "audiences": [str(scenario.gold.pk)]}
    as_json = json.dumps(MANY_FIELDS, separators=(",", ":"), ensure_ascii=False).encode()

    encoded = encode_facts("0a1b2c3d4e5f", identity)

    assert as_json not in encoded
    assert len(encoded) < len(encode_facts("0a1b2c3d4e5f", {**identity, "attributes": {}})) + len(as_json)
    assert decode_facts(encoded).as_identity() == identity


def test_a_few_attributes_are_stored_as_plain_json():
    few = json.dumps({"loyalty": {"status": "gold"}}, separators=(",", ":")).encode()

    assert pack_attributes(few) == few


def test_edge_rebuild_deflates_many_attributes_and_the_lookup_maps_them(redis_store, scenario):
    from personalization.edge.rebuild import edge_rebuild

    scenario.profile.attributes = MANY_FIELDS
    scenario.profile.save()
    edge_rebuild(sandbox_id=scenario.sandbox.pk, clear=True)

    raw = redis_store._get(key_of("pf", scenario.sandbox.pk, identity_key("ECID", scenario.ecid.value)))
    assert b'"homeAddress"' not in raw
    assert decode_facts(raw).attributes == MANY_FIELDS
    answer = scenario.entry(scenario.lookup(headers=scenario.auth_headers()), "adServerAlias")
    assert answer["attributes"] == {"countryCode": {"value": "DE"}, "membershipStatus": {"value": "gold"}}


def test_an_audience_this_process_has_not_seen_is_recognised_in_stored_facts(redis_store, scenario):
    from personalization.edge import store as store_module
    from tests.factories import AudienceFactory

    newcomer = AudienceFactory(sandbox=scenario.sandbox, name="Newcomers")
    encoded = encode_facts("", {"profile": str(scenario.profile.pk), "attributes": {}, "audiences": [str(newcomer.pk)]})
    store_module._TAGS._ids.clear()  # as in another process, which never encoded this audience

    assert decode_facts(encoded).audiences == frozenset([str(newcomer.pk)])
