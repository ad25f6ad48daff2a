#!/usr/bin/env python
"""
Benchmark audience evaluation on PostgreSQL (+ Redis for the edge store).

    .venv/bin/python bench/segmentation.py                      # 1,000,000 profiles
    .venv/bin/python bench/segmentation.py --profiles 200000 --updates 300

It seeds a `bench-seg` sandbox (once; re-used when the size matches) with set-based SQL, then prints:

- batch: the time of `audience_evaluate` for a realistic rule (first run: everyone enters; second run: every
  member goes from realized to existing; then the steady state, nobody changes) against a hand-written
  `SELECT COUNT(*)` with the same predicate, and the ratio of each to it; plus the compiled rule's own COUNT(*)
  for reference. First and second runs are the best of `--rounds` rounds, each from an audience without
  members (the worst ratio is shown too); on a server without autovacuum the tables are vacuumed first, as
  autovacuum would have; and against their floor: the same writes done by hand (`FLOOR_FIRST`: one
  `INSERT … SELECT` of the qualifying profiles into the memberships table; `FLOOR_SECOND`: one `UPDATE` from
  realized to existing), committed; target: the first run within 1.5× its floor;
- streaming: p50/p99 latency from sending `PATCH /api/v1/profiles/ECID/{id}/` until a lookup through
  `/ee/v2/interact` reflects the membership change, over `--updates` updates (in-process Django client, so no
  HTTP server noise; the PATCH re-evaluates streaming audiences and the edge store forgets the answer).

Each part is one function (`bench_batch`, `bench_streaming`); more parts (e.g. the CSV import) plug into
`SECTIONS` with the same signature. Needs PostgreSQL and Redis (DATABASE_URL / REDIS_URL, defaults below).
"""

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from _common import (  # noqa: E402  (bench/ is the script's folder)
    BENCH_ENVIRONMENT,
    delete_sandbox_profiles,
    ensure_postgres_database,
    insert_ecid_identities,
    setup_django,
)

DEFAULTS = {
    **BENCH_ENVIRONMENT,
    "REDIS_URL": "redis://127.0.0.1:6379/3",
    "EDGE_RATE_LIMIT": "0",
}
SANDBOX = "bench-seg"
FIELDS = (
    ("loyalty.status", "string"),
    ("loyalty.points", "number"),
    ("homeAddress.countryCode", "string"),
    ("consents.marketing", "boolean"),
    ("person.birthDate", "date"),
)
# Marketing-consented gold or platinum members in the DACH region with at least 1,000 points.
RULE = {
    "all": [
        {"field": "loyalty.status", "op": "in", "value": ["gold", "platinum"]},
        {"field": "loyalty.points", "op": "gte", "value": 1000},
        {"field": "homeAddress.countryCode", "op": "in", "value": ["DE", "AT", "CH"]},
        {"field": "consents.marketing", "op": "equals", "value": True},
    ]
}
RAW_PREDICATE = """
    sandbox_id = %s
    AND attributes -> 'loyalty' ->> 'status' IN ('gold', 'platinum')
    AND CASE WHEN jsonb_typeof(attributes -> 'loyalty' -> 'points') = 'number'
             THEN (attributes -> 'loyalty' ->> 'points')::numeric >= 1000 END
    AND attributes -> 'homeAddress' ->> 'countryCode' IN ('DE', 'AT', 'CH')
    AND attributes -> 'consents' -> 'marketing' = 'true'::jsonb
"""
STREAMING_RULE = {"field": "loyalty.status", "op": "equals", "value": "diamond"}
# The first and second runs' writes by hand, into the same constrained, indexed memberships table: every
# qualifying profile enters (one INSERT … SELECT), then every realized member becomes existing (one UPDATE).
FLOOR_FIRST = """
INSERT INTO audiences_audiencemembership (audience_id, profile_id, status, qualified_at, exited_at, payload)
SELECT %s, id, 'realized', now(), NULL, '{{}}'::jsonb FROM profiles_profile WHERE {predicate}
""".format(predicate=RAW_PREDICATE)  # noqa: S608
FLOOR_SECOND = """
UPDATE audiences_audiencemembership SET status = 'existing' WHERE audience_id = %s AND status = 'realized'
AND profile_id IN (SELECT id FROM profiles_profile WHERE {predicate})
""".format(predicate=RAW_PREDICATE)  # noqa: S608


def seed(profiles: int) -> dict:
    """Create (or reuse) the sandbox, its schema, profiles with ECIDs, a datastream and a destination."""
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection, transaction

    from accounts.models import Sandbox
    from personalization.audiences.models import Audience
    from personalization.datastreams.models import Datastream
    from personalization.destinations.models import Destination
    from personalization.profiles.models import IdentityNamespace, Profile, ProfileField

    call_command("migrate", verbosity=0)
    sandbox, _ = Sandbox.objects.get_or_create(name=SANDBOX, defaults={"title": "Segmentation benchmark"})
    if Profile.objects.filter(sandbox=sandbox).count() != profiles:
        print("seeding %d profiles ..." % profiles, flush=True)
        started = time.perf_counter()
        with transaction.atomic():
            Destination.objects.filter(sandbox=sandbox).delete()
            Datastream.objects.filter(sandbox=sandbox).delete()
            with connection.cursor() as cursor:
                delete_sandbox_profiles(cursor, sandbox.pk)
            Audience.objects.filter(sandbox=sandbox).delete()
            ProfileField.objects.filter(sandbox=sandbox).delete()
            for path, field_type in FIELDS:
                ProfileField.objects.create(sandbox=sandbox, path=path, field_type=field_type)
            ecid, _ = IdentityNamespace.objects.get_or_create(sandbox=sandbox, code="ECID", defaults={"name": "ECID"})
            with connection.cursor() as cursor:
                # Deterministic variety from hashes of n: tiers, points, countries, consent, birth dates; a few
                # profiles miss fields or hold wrong types, as real data does.
                cursor.execute(
                    """
                    INSERT INTO profiles_profile (id, sandbox_id, attributes, created_at, updated_at)
                    SELECT md5('seg-profile-' || n)::uuid, %s,
                           jsonb_strip_nulls(jsonb_build_object(
                             'loyalty', CASE WHEN n %% 10 = 0 THEN NULL ELSE jsonb_build_object(
                                 'status', (ARRAY['bronze','bronze','bronze','silver','silver','gold','platinum'])
                                           [1 + (hashtext('s' || n) & 2147483647) %% 7],
                                 'points', CASE WHEN n %% 97 = 0 THEN to_jsonb('many'::text)
                                                ELSE to_jsonb((hashtext('p' || n) & 2147483647) %% 10000) END) END,
                             'homeAddress', jsonb_build_object('countryCode',
                                 (ARRAY['DE','DE','AT','CH','FR','US','ES','IT','NL','GB'])
                                 [1 + (hashtext('c' || n) & 2147483647) %% 10]),
                             'consents', jsonb_build_object('marketing', (hashtext('m' || n) & 3) <> 0),
                             'person', jsonb_build_object('birthDate',
                                 to_char(date '1950-01-01' + (hashtext('b' || n) & 2147483647) %% 20000,
                                         'YYYY-MM-DD'))
                           )),
                           now(), now()
                    FROM generate_series(1, %s) n
                    """,
                    [sandbox.pk, profiles],
                )
                insert_ecid_identities(
                    cursor, sandbox_id=sandbox.pk, namespace_id=ecid.pk, profiles=profiles, profile_seed="seg-profile-"
                )
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE profiles_profile")
            cursor.execute("ANALYZE profiles_identity")
        print("seeded in %.1f s" % (time.perf_counter() - started), flush=True)
    owner = get_user_model().objects.filter(username="bench-seg").first() or get_user_model().objects.create_superuser(
        "bench-seg", "bench-seg@example.com", None
    )
    datastream, _ = Datastream.objects.get_or_create(
        sandbox=sandbox, name="Bench web", defaults={"platform_enabled": True, "personalization_destinations": True}
    )
    destination, _ = Destination.objects.get_or_create(
        sandbox=sandbox, datastream=datastream, alias="benchSeg", defaults={"name": "Bench segmentation"}
    )
    return {"sandbox": sandbox, "owner": owner, "datastream": datastream, "destination": destination}


def _audience(seeded, name: str, rule: dict, evaluation: str):
    from django.db import connection

    from personalization.audiences.models import Audience, AudienceMembership

    audience, _ = Audience.objects.update_or_create(
        sandbox=seeded["sandbox"],
        name=name,
        defaults={"rule": rule, "evaluation": evaluation, "status": Audience.Status.PUBLISHED},
    )
    # One statement: the ORM's delete would send a signal (and run a query) per membership.
    with connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM %s WHERE audience_id = %%s" % AudienceMembership._meta.db_table,  # noqa: S608
            [audience.pk],
        )
    audience.evaluations.all().delete()
    _vacuum_if_no_autovacuum("profiles_profile", AudienceMembership._meta.db_table)
    return audience


def _vacuum_if_no_autovacuum(*tables: str) -> None:
    """
    VACUUM (ANALYZE) `tables` when the server runs without autovacuum (as development servers may), so the
    measurements see what production sees: current statistics, a visibility map, no dead rows of earlier runs.
    """
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW autovacuum")
        if cursor.fetchone()[0] == "on":
            return
        for table in tables:
            cursor.execute("VACUUM (ANALYZE) %s" % connection.ops.quote_name(table))


def _timed(function, repeat: int = 1) -> tuple[float, object]:
    best, result = None, None
    for _ in range(repeat):
        started = time.perf_counter()
        result = function()
        elapsed = time.perf_counter() - started
        best = elapsed if best is None else min(best, elapsed)
    return best, result


def bench_batch(args, seeded) -> list[str]:
    """Batch evaluation of `RULE` vs a raw COUNT(*) with the same predicate, and vs the same writes by hand."""
    from django.db import connection, transaction

    from personalization.audiences.evaluation import audience_evaluate
    from personalization.audiences.rules import field_types_for, rule_to_q
    from personalization.profiles.models import Profile

    sandbox = seeded["sandbox"]
    audience = _audience(seeded, "Bench: DACH gold consented", RULE, "batch")

    def raw_count():
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM profiles_profile WHERE " + RAW_PREDICATE, [sandbox.pk])  # noqa: S608
            return cursor.fetchone()[0]

    def evaluate():
        return audience_evaluate(audience_id=audience.pk)

    def floor() -> tuple[float, float]:
        """Time `FLOOR_FIRST` and `FLOOR_SECOND` (each committed) on an audience of their own, then empty it."""
        by_hand = _audience(seeded, "Bench: DACH gold consented, by hand", RULE, "batch")
        seconds = []
        for statement in (FLOOR_FIRST, FLOOR_SECOND):
            started = time.perf_counter()
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(statement, [by_hand.pk, sandbox.pk])  # noqa: S608  (our own constant SQL)
            seconds.append(time.perf_counter() - started)
        _audience(seeded, "Bench: DACH gold consented, by hand", RULE, "batch")
        return seconds[0], seconds[1]

    q = rule_to_q(RULE, field_types=field_types_for(sandbox.pk))
    compiled_seconds, compiled = _timed(lambda: Profile.objects.filter(sandbox=sandbox).filter(q).count(), repeat=3)
    # Each round starts from an audience without members; every figure is the best of its repeats, as the raw
    # COUNT(*)'s is, so a busy moment on a shared machine does not decide a ratio.
    raw_times, first_times, second_times, floor_first, floor_second = [], [], [], [], []
    for round_ in range(args.rounds):
        if round_:
            audience = _audience(seeded, "Bench: DACH gold consented", RULE, "batch")
        raw_seconds, raw = _timed(raw_count, repeat=3)
        raw_times.append(raw_seconds)
        first_floor, second_floor = floor()
        floor_first.append(first_floor)
        floor_second.append(second_floor)
        first_seconds, first = _timed(evaluate)
        first_times.append(first_seconds)
        second_times.append(_timed(evaluate)[0])
    settle_seconds, settle = _timed(evaluate, repeat=3)
    raw_seconds = min(raw_times)
    audience.refresh_from_db()
    assert raw == compiled == audience.profile_count, (raw, compiled, audience.profile_count)

    def row(label, times, note, floor_times=None):
        best = min(times)
        spread = " (worst %.2fx)" % (max(times) / raw_seconds) if len(times) > 1 else ""
        floor_ratio = "   %5.2fx floor" % (best / min(floor_times)) if floor_times else ""
        return "  %-52s %9.3f s   %5.2fx raw%s   %s%s" % (label, best, best / raw_seconds, floor_ratio, note, spread)

    rounds = "best of %d" % args.rounds

    def by_hand(times):
        return min(times), min(times) / raw_seconds

    lines = [
        "batch: %d profiles, rule: %s" % (args.profiles, audience.rule_text),
        "  %-52s %9.3f s   %d profiles"
        % ("raw SQL COUNT(*), same predicate (best of %d)" % (3 * args.rounds), raw_seconds, raw),
        "  %-52s %9.3f s   %5.2fx raw"
        % ("compiled rule COUNT(*) (best of 3)", compiled_seconds, compiled_seconds / raw_seconds),
        "  %-52s %9.3f s   %5.2fx raw"
        % (
            "floor: first run by hand, one INSERT … SELECT (%s)" % rounds,
            min(floor_first),
            min(floor_first) / raw_seconds,
        ),
        "  %-52s %9.3f s   %5.2fx raw"
        % ("floor: second run by hand, one UPDATE (%s)" % rounds, min(floor_second), min(floor_second) / raw_seconds),
        row(
            "audience_evaluate, first run (%s)" % rounds,
            first_times,
            "entered %d (target ≤ 1.50x floor)" % first.entered,
            floor_first,
        ),
        row("audience_evaluate, second run (%s)" % rounds, second_times, "realized -> existing", floor_second),
        row(
            "audience_evaluate, steady state (best of 3)",
            [settle_seconds],
            "entered %d, exited %d" % (settle.entered, settle.exited),
        ),
        "  chunks of %d profiles: %d" % (_chunk_size(), -(-args.profiles // _chunk_size())),
    ]
    return lines


def _chunk_size() -> int:
    from django.conf import settings

    return settings.AUDIENCE_EVALUATION_CHUNK_SIZE


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def bench_streaming(args, seeded) -> list[str]:
    """PATCH a profile into/out of a streaming audience; time until a lookup reflects it."""
    from django.core.cache import cache
    from django.test import Client

    from personalization.destinations.models import AudienceActivation
    from personalization.profiles.models import Identity

    audience = _audience(seeded, "Bench: diamond (streaming)", STREAMING_RULE, "streaming")
    AudienceActivation.objects.get_or_create(destination=seeded["destination"], audience=audience)
    cache.clear()
    client = Client()
    client.force_login(seeded["owner"])
    lookup_url = "/ee/v2/interact?datastreamId=%s" % seeded["datastream"].pk
    audience_id = str(audience.pk)
    stride = max(1, args.profiles // args.updates)

    def patch_loyalty(ecid: str, loyalty) -> None:
        client.patch(
            "/api/v1/profiles/ECID/%s/?sandbox=%s" % (ecid, SANDBOX),
            json.dumps({"attributes": {"loyalty": loyalty}}),
            content_type="application/json",
        )

    def restorer(ecid: str):
        """Return the PATCH value that puts the profile's loyalty status back (null removes what we added)."""
        attributes = Identity.objects.filter(sandbox=seeded["sandbox"], namespace__code="ECID", value=ecid).values_list(
            "profile__attributes", flat=True
        )[0]
        loyalty = attributes.get("loyalty")
        return None if loyalty is None else {"status": loyalty.get("status")}

    # One untimed update first: the process's first request pays for imports and connection setup.
    warm_up = "%038d" % args.profiles
    original = restorer(warm_up)
    patch_loyalty(warm_up, {"status": "silver"})
    patch_loyalty(warm_up, original)
    write_ms, visible_ms = [], []
    for index in range(args.updates):
        ecid = "%038d" % (1 + (index * stride) % args.profiles)
        original = restorer(ecid)
        body = json.dumps({"event": {"xdm": {"identityMap": {"ECID": [{"id": ecid, "primary": True}]}}}})
        client.post(lookup_url, body, content_type="application/json")  # the answer is cached before the change
        status = "diamond"
        started = time.perf_counter()
        response = client.patch(
            "/api/v1/profiles/ECID/%s/?sandbox=%s" % (ecid, SANDBOX),
            json.dumps({"attributes": {"loyalty": {"status": status}}}),
            content_type="application/json",
        )
        written = time.perf_counter()
        assert response.status_code == 200, response.content
        answer = client.post(lookup_url, body, content_type="application/json").json()
        seen = time.perf_counter()
        segments = {s["id"] for s in answer["handle"][0]["payload"][0]["segments"]}
        assert audience_id in segments, answer
        write_ms.append((written - started) * 1000)
        visible_ms.append((seen - started) * 1000)
        # put the profile back (not timed) so the run leaves the data as it found it
        patch_loyalty(ecid, original)
    return [
        "streaming: %d updates (PATCH into a streaming audience, then a lookup shows it)" % args.updates,
        "  %-52s p50 %7.2f ms   p99 %7.2f ms"
        % ("PATCH returned", statistics.median(write_ms), _percentile(write_ms, 0.99)),
        "  %-52s p50 %7.2f ms   p99 %7.2f ms"
        % ("PATCH sent -> lookup reflects it", statistics.median(visible_ms), _percentile(visible_ms, 0.99)),
    ]


# Each section takes (args, seeded) and returns the lines it prints; add the CSV import here.
SECTIONS = [bench_batch, bench_streaming]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profiles", type=int, default=1_000_000)
    parser.add_argument("--updates", type=int, default=300, help="streaming updates to time")
    parser.add_argument("--rounds", type=int, default=3, help="batch rounds from an audience without members")
    parser.add_argument(
        "--only", choices=[section.__name__.removeprefix("bench_") for section in SECTIONS], help="run one part"
    )
    args = parser.parse_args()
    setup_django(DEFAULTS)
    ensure_postgres_database("bench/segmentation.py")
    seeded = seed(args.profiles)
    output = []
    for section in SECTIONS:
        if args.only in (None, section.__name__.removeprefix("bench_")):
            output += section(args, seeded)
    print()
    print("\n".join(output))


if __name__ == "__main__":
    main()
