#!/usr/bin/env python
"""
Benchmark the profile lookup on the production path: gunicorn + PostgreSQL + Redis, load from wrk.

    .venv/bin/python bench/lookup.py                              # 1M profiles, 200 audiences, 10 destinations
    .venv/bin/python bench/lookup.py --profiles 10000000          # the 10M rows
    .venv/bin/python bench/lookup.py --profiles 100000 --duration 20 --skip-change

It seeds a `bench` sandbox (once; re-used when the size matches; set-based, with the tables' indexes built
once at the end), starts gunicorn on loopback, and prints throughput and p50/p99 latency for a constant-JSON view
through the same stack (the baseline), unauthenticated and authenticated lookups (10 mapped attributes), warm
(a working set of 10k visitors) and cold, random visitors over all profiles with the mirror's hit rate, each as
a ratio to the baseline measured in the same run, and the CPU each request cost gunicorn and Redis (read from
/proc, so busy neighbours on the machine move it far less than throughput). Then the store's figures: the time
`edge_rebuild` takes to fill it and its CPU per profile, Redis's memory per profile, the workers' memory, SQL
queries per lookup. Last, under full load, one-second slices for 10 s before and 20 s after an ordinary
activation change, and the same with Redis cut off (the workers reach it through a loopback proxy), as ratios
to the warm rate. With `--redis-cluster 3`, the cold, warm and random-visitor rows run again with the edge store on
a Redis Cluster of three primaries the bench starts (EDGE_REDIS_URL, EDGE_REDIS_CLUSTER), beside the one-Redis
rows of the same run, with `edge_rebuild`'s rate into the cluster and the keys and memory of each shard.

Needs PostgreSQL (DATABASE_URL, default below), `wrk` and `redis-server` (Debian packages): the bench runs a
Redis of its own, so the memory figures are the store's alone (`--shared-redis` uses REDIS_URL's instead).
"""

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from _common import BENCH_ENVIRONMENT, bulk_load, delete_sandbox_profiles, ensure_postgres_database, setup_django  # noqa: E402  (bench/ is the script's folder)

DEFAULTS = {
    **BENCH_ENVIRONMENT,
    "REDIS_URL": "redis://127.0.0.1:6379/4",
    # Redis reports key changes to every process mirroring keys with the same name, whatever their database:
    # a prefix of its own keeps other work on this Redis (tests, other benchmarks) out of the measurement.
    "CACHE_KEY_PREFIX": "bench-lookup",
    # A limit far above the load keeps the per-second counter (and its cost) in the measured path.
    "EDGE_RATE_LIMIT": "100000000",
}

# The requests are formatted once, when wrk starts: building each one in Lua as it is sent would spend the
# cores' time (shared with the server) on the load generator instead of on what is measured.
WRK_SCRIPT = """
math.randomseed(%(seed)d)
local profiles = %(profiles)d
local path = "%(path)s"
local headers = {["Content-Type"] = "application/json"%(auth)s}
local requests = {}
for i = 1, math.min(profiles, %(distinct)d) do
  local ecid = string.format("%%038d", math.random(1, profiles))
  local body = '{"event":{"xdm":{"identityMap":{"ECID":[{"id":"' .. ecid
    .. '","primary":true}]},"eventType":"web.webpagedetails.pageViews"}}}'
  requests[i] = wrk.format("POST", path, headers, body)
end
local sent = 0
request = function()
  sent = sent %% #requests + 1
  return requests[sent]
end
%(pacing)s"""
# How many different requests (random identities) each wrk thread cycles through.
DISTINCT_REQUESTS = 10_000

# Random visitors over all profiles: each request is built as it is sent (a few µs of wrk's time per request,
# against the hundreds the server spends), so the working set is every profile, not a prepared few thousand.
RANDOM_VISITORS_SCRIPT = """
math.randomseed(%(seed)d)
local profiles = %(profiles)d
local path = "%(path)s"
local headers = {["Content-Type"] = "application/json"%(auth)s}
request = function()
  local ecid = string.format("%%038d", math.random(1, profiles))
  return wrk.format("POST", path, headers, '{"event":{"xdm":{"identityMap":{"ECID":[{"id":"' .. ecid
    .. '","primary":true}]},"eventType":"web.webpagedetails.pageViews"}}}')
end
"""

# Appended to a lookup script: count responses (and non-200 ones) per wall-clock second in each thread, and
# print the totals per second when wrk is done, as "slice <epoch second> <responses> <non-200>" lines.
SLICES_SCRIPT = """
counts = {}
failures = {}
response = function(status, headers, body)
  local second = os.time()
  counts[second] = (counts[second] or 0) + 1
  if status ~= 200 then failures[second] = (failures[second] or 0) + 1 end
end
local threads = {}
setup = function(thread) table.insert(threads, thread) end
done = function(summary, latency, requests)
  local total, failed = {}, {}
  for _, thread in ipairs(threads) do
    for second, count in pairs(thread:get("counts")) do total[second] = (total[second] or 0) + count end
    for second, count in pairs(thread:get("failures")) do failed[second] = (failed[second] or 0) + count end
  end
  for second, count in pairs(total) do
    io.write(string.format("slice %d %d %d\\n", second, count, failed[second] or 0))
  end
end
"""


def _insert_profiles(cursor, *, sandbox_id, namespace_id, profiles: int, audiences: int) -> None:
    """
    Insert the profiles (10 string attributes each), their ECIDs (profile n has ECID n, zero-padded to 38 digits)
    and memberships (profile n is in every audience a with (n + a) % 20 == 0: 10 each with 200 audiences), set-based,
    with the tables' indexes and constraints built once at the end (`bulk_load`). Profile n's id is n in hex, so
    ids come in insertion order and the primary key index only ever appends.
    """
    cursor.execute("SET LOCAL synchronous_commit = off")
    with bulk_load(cursor, ["profiles_profile", "profiles_identity", "audiences_audiencemembership"]):
        cursor.execute(
            """
            INSERT INTO profiles_profile (id, sandbox_id, attributes, created_at, updated_at)
            SELECT lpad(to_hex(n), 32, '0')::uuid, %s,
                   jsonb_build_object('bench', jsonb_build_object(
                   'field0', 'value-0-' || n,
                   'field1', 'value-1-' || n,
                   'field2', 'value-2-' || n,
                   'field3', 'value-3-' || n,
                   'field4', 'value-4-' || n,
                   'field5', 'value-5-' || n,
                   'field6', 'value-6-' || n,
                   'field7', 'value-7-' || n,
                   'field8', 'value-8-' || n,
                   'field9', 'value-9-' || n)),
                   now(), now()
            FROM generate_series(1, %s) n
            """,
            [sandbox_id, profiles],
        )
        cursor.execute(
            """
            INSERT INTO profiles_identity (sandbox_id, namespace_id, value, profile_id, "primary", created_at)
            SELECT %s, %s, lpad(n::text, 38, '0'), lpad(to_hex(n), 32, '0')::uuid, true, now()
            FROM generate_series(1, %s) n
            """,
            [sandbox_id, namespace_id, profiles],
        )
        # The audiences a of profile n are ((20 - n % 20) % 20) + 20 j: no cross join of every pair to filter.
        cursor.execute(
            """
            INSERT INTO audiences_audiencemembership (audience_id, profile_id, status, qualified_at, payload)
            SELECT ids.list[pick.a], lpad(to_hex(n), 32, '0')::uuid, 'realized', now(), '{}'
            FROM (SELECT array_agg(md5('bench-audience-' || a)::uuid ORDER BY a) AS list
                  FROM generate_series(1, %s) a) ids,
                 generate_series(1, %s) n,
                 LATERAL (SELECT (20 - n %% 20) %% 20 + 20 * j AS a FROM generate_series(0, %s / 20) j) pick
            WHERE pick.a BETWEEN 1 AND %s
            """,
            [audiences, profiles, audiences, audiences],
        )


def seed(profiles: int, audiences: int, destinations: int) -> dict:
    """Create (or reuse) the bench sandbox; bulk rows are written with set-based SQL."""
    from django.core.management import call_command
    from django.db import connection, transaction

    from accounts.models import Sandbox
    from personalization.audiences.models import Audience
    from personalization.datastreams.models import Datastream
    from personalization.destinations.models import AttributeMapping, AudienceActivation, Destination
    from personalization.profiles.models import IdentityNamespace, Profile, ProfileField

    call_command("migrate", verbosity=0)
    sandbox, _ = Sandbox.objects.get_or_create(name="bench", defaults={"title": "Benchmark"})
    datastream = Datastream.objects.filter(sandbox=sandbox, name="Bench web").first()
    size_matches = (
        datastream is not None
        and Profile.objects.filter(sandbox=sandbox).count() == profiles
        and Audience.objects.filter(sandbox=sandbox).exclude(evaluation="edge").count() == audiences
        and Destination.objects.filter(datastream=datastream).count() == destinations
    )
    if not size_matches:
        print(
            "seeding %d profiles, %d audiences, %d destinations ..." % (profiles, audiences, destinations), flush=True
        )
        started = time.perf_counter()
        with transaction.atomic():
            Destination.objects.filter(sandbox=sandbox).delete()
            Datastream.objects.filter(sandbox=sandbox).delete()
            with connection.cursor() as cursor:
                if not Profile.objects.exclude(sandbox=sandbox).exists():
                    # Only this bench's rows are there: emptying the tables beats deleting millions of rows.
                    cursor.execute(
                        "TRUNCATE profiles_profile, profiles_identity, audiences_audiencemembership, "
                        "audiences_streamedchange"
                    )
                else:
                    delete_sandbox_profiles(cursor, sandbox.pk)
            Audience.objects.filter(sandbox=sandbox).delete()
            ProfileField.objects.filter(sandbox=sandbox).delete()
            ecid, _ = IdentityNamespace.objects.get_or_create(sandbox=sandbox, code="ECID", defaults={"name": "ECID"})
            fields = [
                ProfileField.objects.create(sandbox=sandbox, path="bench.field%d" % n, field_type="string")
                for n in range(10)
            ]
            with connection.cursor() as cursor:
                cursor.execute(
                    """
                    INSERT INTO audiences_audience (id, sandbox_id, name, description, origin, status, evaluation,
                        external_id, profile_count, created_at, updated_at)
                    SELECT md5('bench-audience-' || a)::uuid, %s, 'Bench audience ' || a, '', 'segmentation',
                           'published', 'batch', '', 0, now(), now()
                    FROM generate_series(1, %s) a
                    """,
                    [sandbox.pk, audiences],
                )
                _insert_profiles(
                    cursor, sandbox_id=sandbox.pk, namespace_id=ecid.pk, profiles=profiles, audiences=audiences
                )
            datastream = Datastream.objects.create(
                sandbox=sandbox, name="Bench web", platform_enabled=True, personalization_destinations=True
            )
            audience_ids = list(Audience.objects.filter(sandbox=sandbox).order_by("name").values_list("pk", flat=True))
            per_destination = max(1, len(audience_ids) // destinations)
            for d in range(destinations):
                kind = Destination.Kind.WITH_ATTRIBUTES if d % 2 == 0 else Destination.Kind.CUSTOM_PERSONALIZATION
                destination = Destination.objects.create(
                    sandbox=sandbox, datastream=datastream, kind=kind, name="Bench %d" % d, alias="bench%d" % d
                )
                chunk = audience_ids[d * per_destination : (d + 1) * per_destination]
                AudienceActivation.objects.bulk_create(
                    [AudienceActivation(destination=destination, audience_id=pk) for pk in chunk]
                )
                if kind == Destination.Kind.WITH_ATTRIBUTES:
                    AttributeMapping.objects.bulk_create(
                        [
                            AttributeMapping(destination=destination, source=f, target="attr%d" % n)
                            for n, f in enumerate(fields)
                        ]
                    )
        with connection.cursor() as cursor:
            # VACUUM as well: the first reads of freshly loaded rows would otherwise set their hint bits, writing
            # every page again during the first measured fill.
            cursor.execute("VACUUM (ANALYZE) profiles_profile, profiles_identity, audiences_audiencemembership")
        seconds = time.perf_counter() - started
        print("seeded in %.1f s (%.0f profiles/s)" % (seconds, profiles / seconds), flush=True)
    return {"sandbox": sandbox, "datastream": datastream}


EDGE_AUDIENCES = 10


def edge_audience_rule(n: int) -> dict:
    """
    Return the rule of bench edge audience `n`: a profile condition every bench profile meets and an event
    condition no bench request meets (or the reverse), so each lookup evaluates both and nobody qualifies.
    """
    if n % 2 == 0:
        return {
            "all": [
                {"field": "bench.field%d" % n, "op": "starts_with", "value": "value-%d-" % n},
                {"event": "eventType", "op": "equals", "value": "commerce.checkouts"},
            ]
        }
    return {
        "any": [
            {"event": "web.webPageDetails.URL", "op": "contains", "value": "/checkout"},
            {"field": "bench.field%d" % n, "op": "equals", "value": "never"},
        ]
    }


def seed_edge_segmentation(sandbox, datastream):
    """
    Create (or reuse) a twin of the bench datastream with edge segmentation on: the same destinations,
    activations and mappings, plus `EDGE_AUDIENCES` edge audiences activated on it (one per destination).
    """
    from django.db import transaction

    from personalization.audiences.models import Audience
    from personalization.datastreams.models import Datastream
    from personalization.destinations.models import AttributeMapping, AudienceActivation, Destination

    name = "Bench web, edge segmentation"
    twin = Datastream.objects.filter(sandbox=sandbox, name=name).first()
    activated = AudienceActivation.objects.filter(destination__datastream=twin, audience__evaluation="edge")
    if twin is not None and activated.count() == EDGE_AUDIENCES:
        return twin
    with transaction.atomic():
        Destination.objects.filter(datastream__sandbox=sandbox, datastream__name=name).delete()
        Datastream.objects.filter(sandbox=sandbox, name=name).delete()
        Audience.objects.filter(sandbox=sandbox, evaluation="edge").delete()
        twin = Datastream.objects.create(
            sandbox=sandbox, name=name, platform_enabled=True, personalization_destinations=True, edge_segmentation=True
        )
        edge = [
            Audience.objects.create(
                sandbox=sandbox,
                name="Bench edge audience %d" % n,
                evaluation="edge",
                status="published",
                rule=edge_audience_rule(n),
            )
            for n in range(EDGE_AUDIENCES)
        ]
        sources = list(Destination.objects.filter(datastream=datastream).order_by("alias"))
        for index, source in enumerate(sources):
            copy = Destination.objects.create(
                sandbox=sandbox, datastream=twin, kind=source.kind, name="%s (edge)" % source.name, alias=source.alias
            )
            audience_ids = [*source.activations.values_list("audience_id", flat=True)]
            audience_ids += [audience.pk for audience in edge[index :: len(sources)]]
            AudienceActivation.objects.bulk_create(
                [AudienceActivation(destination=copy, audience_id=pk) for pk in audience_ids]
            )
            AttributeMapping.objects.bulk_create(
                [
                    AttributeMapping(destination=copy, source_id=mapping.source_id, target=mapping.target)
                    for mapping in source.mappings.all()
                ]
            )
    return twin


def credential_headers(sandbox) -> dict:
    from django.contrib.auth import get_user_model

    from accounts.models import ApiCredential
    from personalization.edge.credentials import access_token_issue

    ApiCredential.objects.filter(sandbox=sandbox, name="bench").delete()
    client_id, secret, digest = ApiCredential.generate()
    owner = get_user_model().objects.filter(is_superuser=True).first()
    ApiCredential.objects.create(
        sandbox=sandbox, name="bench", client_id=client_id, secret_digest=digest, created_by=owner
    )
    token, _expires = access_token_issue(client_id=client_id, secret=secret, lifetime=6 * 3600)
    return {"Authorization": "Bearer %s" % token, "x-api-key": client_id}


def count_queries(datastream, headers) -> dict:
    """Count SQL per lookup through Django's test client, cold (empty edge store) and warm."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from personalization.edge.store import store

    client = Client()
    url = "/ee/v2/interact?datastreamId=%s" % datastream.pk
    body = json.dumps({"event": {"xdm": {"identityMap": {"ECID": [{"id": "%038d" % 7, "primary": True}]}}}})
    client.post(url, body, content_type="application/json", headers=headers)  # warm the process itself
    results = {}
    for label, auth in (("unauthenticated", {}), ("authenticated", headers)):
        store.clear()
        with CaptureQueriesContext(connection) as cold:
            assert client.post(url, body, content_type="application/json", headers=auth).status_code == 200
        with CaptureQueriesContext(connection) as warm:
            assert client.post(url, body, content_type="application/json", headers=auth).status_code == 200
        results[label] = (len(cold), len(warm))
    return results


def count_edge_segmentation_queries(twin) -> tuple[int, int]:
    """Count SQL per unauthenticated lookup on the edge-segmentation datastream: cold (empty store) and warm."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from personalization.edge.store import store

    client = Client()
    url = "/ee/v2/interact?datastreamId=%s" % twin.pk
    body = json.dumps(
        {
            "event": {
                "xdm": {
                    "identityMap": {"ECID": [{"id": "%038d" % 7, "primary": True}]},
                    "eventType": "web.webpagedetails.pageViews",
                }
            }
        }
    )
    store.clear()
    with CaptureQueriesContext(connection) as cold:
        assert client.post(url, body, content_type="application/json").status_code == 200
    with CaptureQueriesContext(connection) as warm:
        assert client.post(url, body, content_type="application/json").status_code == 200
    return len(cold), len(warm)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_gunicorn(port: int, workers: int, threads: int, worker_class: str, env: dict | None = None):
    command = [
        str(ROOT / ".venv" / "bin" / "gunicorn"),
        "personalization.wsgi",
        "--config",
        str(ROOT / "bench" / "gunicorn_bench.py"),
        "--bind",
        "127.0.0.1:%d" % port,
        "--workers",
        str(workers),
        "--worker-class",
        worker_class,
        "--threads",
        str(threads),
        "--log-level",
        "warning",
        "--backlog",
        "2048",
        # A listening socket per worker: the kernel spreads connections evenly over them. With one shared socket,
        # whichever worker is awake accepts a whole burst of new connections, and one worker may end up serving
        # all of wrk's connections on one core while the other idles (such rounds ran at half the throughput).
        "--reuse-port",
    ]
    process = subprocess.Popen(command, cwd=ROOT, env={**os.environ, **(env or {})}, start_new_session=True)
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return process
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit("gunicorn did not start")


def stop(process) -> None:
    if process.poll() is not None:
        return  # stopped already
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    number, unit = re.match(r"([\d.]+)(us|ms|s)", text).groups()
    return float(number) * _UNITS[unit]


def _cpu_seconds(pids) -> float:
    """Return the user+system CPU seconds the processes have used so far (from /proc)."""
    total = 0
    for pid in pids:
        try:
            fields = Path("/proc/%d/stat" % pid).read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def _wait_until_idle(server, workers: int, timeout: float = 600) -> None:
    """Wait until all workers are ready (bench/gunicorn_bench.py reports it) and stop using CPU."""
    deadline = time.time() + timeout
    directory = Path(os.environ["BENCH_MIRROR_STATS"])
    while time.time() < deadline:
        pids = _server_pids(server)[1:]
        if len(pids) >= workers and all((directory / ("%d.json" % pid)).exists() for pid in pids):
            break
        time.sleep(0.2)
    while time.time() < deadline:
        pids = _server_pids(server)
        before = _cpu_seconds(pids)
        time.sleep(0.5)
        if len(pids) > workers and _cpu_seconds(pids) - before < 0.05:
            return


def _rss_mb(pids) -> float:
    """Return the resident memory of the processes, in MB (from /proc)."""
    pages = 0
    for pid in pids:
        try:
            pages += int(Path("/proc/%d/statm" % pid).read_text().split()[1])
        except FileNotFoundError:
            continue
    return pages * os.sysconf("SC_PAGE_SIZE") / 1e6


def _server_pids(server) -> list[int]:
    children = Path("/proc/%d/task/%d/children" % (server.pid, server.pid)).read_text().split()
    return [server.pid, *map(int, children)]


def _redis_pid(url: str | None = None) -> int | None:
    import redis

    try:
        return int(redis.Redis.from_url(url or os.environ["REDIS_URL"]).info("server")["process_id"])
    except Exception:  # noqa: BLE001 - a remote Redis simply has no local CPU figure
        return None


def _wrk_command(url: str, script: str | None, duration: int, connections: int, threads: int):
    """Return wrk's command line and the script file to delete afterwards (None without a script)."""
    command = ["wrk", "-t%d" % threads, "-c%d" % connections, "-d%ds" % duration, "--latency", url]
    script_file = None
    if script:
        script_file = tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False)
        script_file.write(script)
        script_file.close()
        command[1:1] = ["-s", script_file.name]
    return command, script_file.name if script_file else None


def run_wrk(url: str, script: str | None, duration: int, connections: int, threads: int) -> dict:
    command, script_path = _wrk_command(url, script, duration, connections, threads)
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    if script_path:
        os.unlink(script_path)
    return _parse_wrk(output)


def _parse_wrk(output: str) -> dict:
    percentiles = dict(re.findall(r"^\s+(50|99)%\s+(\S+)", output, re.MULTILINE))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = re.search(r"Socket errors: (.*)", output)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
        "p50": _ms(percentiles["50"]),
        "p99": _ms(percentiles["99"]),
        "non_2xx": int(non_2xx.group(1)) if non_2xx else 0,
        "errors": errors.group(1) if errors else "",
    }


def lookup_script(path: str, profiles: int, headers: dict, seed: int, pause_ms: float = 0) -> str:
    """Return wrk's Lua script; `pause_ms` makes each connection wait between requests to hold a lower rate."""
    auth = "".join(', ["%s"] = "%s"' % item for item in headers.items())
    pacing = "delay = function() return %d end\n" % pause_ms if pause_ms else ""
    return WRK_SCRIPT % {
        "path": path,
        "profiles": profiles,
        "auth": auth,
        "seed": seed,
        "pacing": pacing,
        "distinct": DISTINCT_REQUESTS,
    }


def edge_segmentation_rows(twin, base: str, profiles: int) -> dict:
    """The warm row on the edge-segmentation twin (the same answers, plus %d edge audiences evaluated)."""
    if twin is None:
        return {}
    path = "/ee/v2/interact?datastreamId=%s" % twin.pk
    return {
        "edge segmentation, warm (%d edge audiences)" % EDGE_AUDIENCES: (
            base + path,
            lookup_script(path, profiles, {}, 2),
        )
    }


METRICS_OFF_LABEL = "lookup, warm, unauthenticated, metrics off"


def start_metrics_off_server(args) -> dict:
    """Start a second gunicorn like the first but with `EDGE_METRICS=0`; return its base URL, process and pids."""
    port = free_port()
    server = start_gunicorn(port, args.workers, args.threads, args.worker_class, {"EDGE_METRICS": "0"})
    _wait_until_idle(server, args.workers)
    return {"base": "http://127.0.0.1:%d" % port, "server": server, "pids": _server_pids(server)}


def metrics_off_rows(metrics_off, path: str, profiles: int) -> dict:
    """The warm unauthenticated row on the metrics-off server (the same requests as the metrics-on row)."""
    if metrics_off is None:
        return {}
    return {
        METRICS_OFF_LABEL: (metrics_off["base"] + path, lookup_script(path, profiles, {}, 2), None, metrics_off["pids"])
    }


def random_visitors_script(path: str, profiles: int, headers: dict, seed: int) -> str:
    """Return wrk's Lua script for lookups of a random profile each (over all `profiles`)."""
    auth = "".join(', ["%s"] = "%s"' % item for item in headers.items())
    return RANDOM_VISITORS_SCRIPT % {"path": path, "profiles": profiles, "auth": auth, "seed": seed}


def run_wrk_sliced(url: str, script: str, duration: int, connections: int, threads: int, events) -> dict:
    """
    Run wrk for `duration` seconds, calling each `(at, label, action)` of `events` `at` seconds in; return wrk's
    summary with `slices`: `[(second from the start, responses, non-200)]` and `events`: `{label: second}`.
    """
    command, script_path = _wrk_command(url, script + SLICES_SCRIPT, duration, connections, threads)
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    started = time.time()
    happened = {}
    try:
        for at, label, action in events:
            time.sleep(max(0.0, started + at - time.time()))
            happened[label] = time.time() - started
            action()
        output, _errors = process.communicate(timeout=duration + 60)
    finally:
        if process.poll() is None:
            process.kill()
        os.unlink(script_path)
    result = _parse_wrk(output)
    by_second = sorted((int(second), int(count), int(failed)) for second, count, failed in _SLICE.findall(output))
    # wrk's first and last seconds are partial: the slices are the whole seconds between them.
    result["slices"] = [(second - int(started), count, failed) for second, count, failed in by_second[1:-1]]
    result["events"] = happened
    return result


_SLICE = re.compile(r"^slice (\d+) (\d+) (\d+)$", re.MULTILINE)


def redis_memory(url: str, pattern: str, samples: int = 2000) -> dict:
    """
    Return a Redis node's used memory, its number of keys and the mean `MEMORY USAGE` of up to `samples` keys
    matching `pattern`.
    """
    import redis

    client = redis.Redis.from_url(url)
    sizes = []
    if samples:
        for key in client.scan_iter(match=pattern, count=1000):
            sizes.append(client.memory_usage(key, samples=0) or 0)
            if len(sizes) >= samples:
                break
    return {
        "used": int(client.info("memory")["used_memory"]),
        "keys": int(client.dbsize()),
        "sampled": sum(sizes) / max(1, len(sizes)),
    }


def mirror_stats(server) -> dict:
    """Ask each worker for its mirror's counts (SIGUSR2, bench/gunicorn_bench.py); return their sums."""
    directory = Path(os.environ["BENCH_MIRROR_STATS"])
    for old in directory.glob("*.json"):
        old.unlink()
    workers = _server_pids(server)[1:]
    for pid in workers:
        os.kill(pid, signal.SIGUSR2)
    deadline = time.time() + 10
    while time.time() < deadline and len(list(directory.glob("*.json"))) < len(workers):
        time.sleep(0.1)
    time.sleep(0.1)  # let the last file be written whole
    totals = {"hits": 0, "misses": 0, "size": 0}
    for path in directory.glob("*.json"):
        for key, value in json.loads(path.read_text()).items():
            totals[key] += value
    return totals


def activation_change(datastream):
    """Return `(change, undo)`: activate one more audience on the first destination through the service, and back."""
    from django.contrib.auth import get_user_model

    from personalization.destinations.models import AudienceActivation
    from personalization.destinations.services import activation_delete, activation_save

    user, _created = get_user_model().objects.get_or_create(
        username="bench-admin", defaults={"is_superuser": True, "is_staff": True}
    )
    destinations = list(datastream.destinations.order_by("name"))
    first, other = destinations[0], destinations[-1]
    audience = other.activations.order_by("audience_id").first().audience
    made = []

    def change():
        made.append(activation_save(user=user, activation=AudienceActivation(destination=first, audience=audience)))

    def undo():
        for activation in made:
            activation_delete(user=user, activation=activation)
        made.clear()

    return change, undo


def print_slices(label: str, result: dict, event: str, warm_rps: float) -> None:
    """Print one-second slices around `event` as throughput and ratios to the warm rate before it."""
    at = result["events"][event]
    before = [count for second, count, _failed in result["slices"] if second < at - 0.5]
    after = [(second, count, failed) for second, count, failed in result["slices"] if second >= at]
    reference = sum(before) / max(1, len(before))
    print()
    print(
        "%s: %s at %.1f s; warm rate before it %.0f req/s (%.2fx the warm row)"
        % (label, event, at, reference, reference / warm_rps if warm_rps else 0)
    )
    print("  second  req/s  vs warm  non-200")
    for second, count, failed in result["slices"]:
        print("  %6d %6d %7.2fx %8d" % (round(second - at), count, count / reference if reference else 0, failed))
    if after:
        lowest = min(count for _second, count, _failed in after)
        mean = sum(count for _second, count, _failed in after) / len(after)
        failed = sum(failed for _second, _count, failed in result["slices"])
        print(
            "  after: lowest one-second slice %.2fx the warm rate, mean %.2fx; non-200 responses %d; socket errors: %s"
            % (lowest / reference, mean / reference, failed, result["errors"] or "none")
        )


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profiles", type=int, default=1_000_000, help="e.g. 10000000 for the 10M rows")
    parser.add_argument("--audiences", type=int, default=200)
    parser.add_argument("--destinations", type=int, default=10)
    parser.add_argument("--duration", type=int, default=4, help="seconds per measured round")
    parser.add_argument("--rounds", type=int, default=5, help="rounds per run; the best throughput is kept")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--wrk-threads", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=4, help="threads per gunicorn worker")
    parser.add_argument("--worker-class", default="gthread", choices=["gthread", "sync"])
    parser.add_argument("--skip-cold", action="store_true", help="skip the cold-store run")
    parser.add_argument("--skip-change", action="store_true", help="skip the activation-change and Redis-cut rows")
    parser.add_argument(
        "--skip-metrics-row", action="store_true", help="skip the warm row on a server with metrics off"
    )
    parser.add_argument(
        "--skip-edge-segmentation",
        action="store_true",
        help="skip the row on a twin datastream with edge segmentation and %d edge audiences" % EDGE_AUDIENCES,
    )
    parser.add_argument(
        "--rate", type=int, default=1500, help="also measure latency with lookups paced near this rate (0: skip)"
    )
    parser.add_argument(
        "--fill-only", action="store_true", help="only seed, fill the store and print its figures (no load rows)"
    )
    parser.add_argument(
        "--shared-redis",
        action="store_true",
        help="use REDIS_URL's Redis instead of a redis-server of the bench's own (whose memory is the store's alone)",
    )
    parser.add_argument(
        "--redis-cluster",
        type=int,
        default=0,
        metavar="N",
        help="also run the store's rows on a Redis Cluster of N primaries (e.g. 3) the bench starts",
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install -y wrk")
    redis_server = None
    if not args.shared_redis and shutil.which("redis-server"):
        redis_server, os.environ["REDIS_URL"] = start_redis()
    try:
        run(args)
    finally:
        if redis_server is not None:
            stop(redis_server)


def run(args) -> None:
    """Seed, start gunicorn, measure every row and print them."""
    for key, value in DEFAULTS.items():
        os.environ.setdefault(key, value)
    os.environ.setdefault("BENCH_MIRROR_STATS", tempfile.mkdtemp(prefix="bench-mirror-"))
    setup_django(DEFAULTS)
    ensure_postgres_database("bench/lookup.py")
    seeded = seed(args.profiles, args.audiences, args.destinations)
    if args.fill_only:
        print_fill(fill_store(seeded["sandbox"], args.profiles, progress=True), args.profiles)
        return
    datastream = seeded["datastream"]
    headers = credential_headers(seeded["sandbox"])
    queries = count_queries(datastream, headers)
    twin = None if args.skip_edge_segmentation else seed_edge_segmentation(seeded["sandbox"], datastream)
    edge_queries = count_edge_segmentation_queries(twin) if twin is not None else None

    port = free_port()
    base = "http://127.0.0.1:%d" % port
    path = "/ee/v2/interact?datastreamId=%s" % datastream.pk
    server = start_gunicorn(port, args.workers, args.threads, args.worker_class)
    metrics_off = None
    results = {}
    figures = {"edge_queries": edge_queries}
    try:
        _wait_until_idle(server, args.workers)  # workers copy the store into memory before they serve
        app_pids = _server_pids(server)
        redis_pid = _redis_pid()
        redis_pids = [redis_pid] if redis_pid else []  # the Redis processes whose CPU the rows count

        def measure(url, script, before=None, pids=None) -> dict:
            """
            Run wrk once and add the CPU the app (`pids`, default the main server) and Redis spent per request;
            `before` runs first, unmeasured.
            """
            if before is not None:
                before()
            pids = pids or app_pids
            before_app, before_redis = _cpu_seconds(pids), _cpu_seconds(redis_pids)
            stats = mirror_stats(server)
            result = run_wrk(url, script, args.duration, args.connections, args.wrk_threads)
            requests = max(1.0, result["rps"] * args.duration)
            result["app_us"] = (_cpu_seconds(pids) - before_app) / requests * 1e6
            result["redis_us"] = (_cpu_seconds(redis_pids) - before_redis) / requests * 1e6
            after = mirror_stats(server)
            looked_up = (after["hits"] - stats["hits"]) + (after["misses"] - stats["misses"])
            result["hit_rate"] = (after["hits"] - stats["hits"]) / looked_up if looked_up else None
            return result

        def run_rows(rows: dict) -> None:
            """
            Measure `rows` (label: (url, script[, before])) `--rounds` times, interleaved, keeping each row's round
            with the highest throughput. gunicorn spreads each round's fresh connections over its workers by
            chance, and a lopsided spread slows any endpoint, the baseline included; taking the rows in turn gives
            every row the same chances and the same drift of the machine's other load.
            """
            for _round in range(args.rounds):
                for label, row in rows.items():
                    result = measure(*row)
                    if label not in results or result["rps"] > results[label]["rps"]:
                        results[label] = result

        if not args.skip_cold:
            from personalization.edge.store import store

            # Every cold round starts from an empty store (the workers' copies go with it).
            cold = (base + path, lookup_script(path, args.profiles, {}, 1), store.clear)
            run_rows({"lookup, cold store, unauthenticated": cold})
        # Workers copy the store's answers into their memory when they start (gunicorn.conf.py): rebuild the
        # store, then restart them, as a deploy after a rebuild would.
        stop(server)
        figures.update(fill_store(seeded["sandbox"], args.profiles))
        started = time.perf_counter()
        server = start_gunicorn(port, args.workers, args.threads, args.worker_class)
        _wait_until_idle(server, args.workers)
        app_pids = _server_pids(server)
        figures["warm_start_seconds"] = time.perf_counter() - started
        figures["mirrored_at_start"] = mirror_stats(server)["size"]
        # The same server with metrics off, on a port of its own: the warm rows run on both in turn.
        metrics_off = None if args.skip_metrics_row else start_metrics_off_server(args)
        # The baselines run on the same workers as the warm lookups: how gunicorn happens to spread wrk's
        # connections over its workers differs between starts and moves throughput by itself.
        run_wrk(base + "/ee/health", None, 2, args.connections, args.wrk_threads)  # let workers settle
        run_rows(
            {
                "baseline (constant JSON)": (base + "/ee/health", None),
                "baseline, POST with a lookup's body": (
                    base + "/ee/health",
                    lookup_script("/ee/health", args.profiles, {}, 2),
                ),
                "lookup, warm, unauthenticated": (base + path, lookup_script(path, args.profiles, {}, 2)),
                "lookup, warm, authenticated (10 attributes)": (
                    base + path,
                    lookup_script(path, args.profiles, headers, 3),
                ),
                **edge_segmentation_rows(twin, base, args.profiles),
                **metrics_off_rows(metrics_off, path, args.profiles),
                "lookup, random visitors of all %s profiles" % _count(args.profiles): (
                    base + path,
                    random_visitors_script(path, args.profiles, {}, 6),
                ),
                "lookup, random visitors, authenticated": (
                    base + path,
                    random_visitors_script(path, args.profiles, headers, 7),
                ),
            }
        )
        figures["worker_rss_mb"] = _rss_mb(app_pids[1:])
        figures["mirrored_after"] = mirror_stats(server)["size"]
        if args.rate:
            # Each connection pauses so that together they offer about `rate` lookups per second.
            pause = max(1.0, args.connections * 1000.0 / args.rate - 1.0)
            run_rows(
                {
                    "lookup, warm, %s, paced ~%d/s" % (label, args.rate): (
                        base + path,
                        lookup_script(path, args.profiles, auth, random_seed, pause),
                    )
                    for label, auth, random_seed in (("unauthenticated", {}, 4), ("authenticated", headers, 5))
                }
            )
        if not args.skip_change:
            figures["change"] = change_row(base + path, lookup_script(path, args.profiles, {}, 8), datastream, args)
        if args.redis_cluster:
            from personalization.edge.store import store
            from tests.utils.redis_cluster import RedisClusterProcesses

            stop(server)
            cluster = RedisClusterProcesses(args.redis_cluster).start()
            on_cluster = {"EDGE_REDIS_URL": cluster.url, "EDGE_REDIS_CLUSTER": "true"}
            try:
                use_edge_redis(cluster.url, cluster=True)
                redis_pids[:] = [process.pid for process in cluster.processes.values()]
                prefix = "%d shards: " % args.redis_cluster
                server = start_gunicorn(port, args.workers, args.threads, args.worker_class, env=on_cluster)
                _wait_until_idle(server, args.workers)
                app_pids = _server_pids(server)
                if not args.skip_cold:
                    cold = (base + path, lookup_script(path, args.profiles, {}, 1), store.clear)
                    run_rows({prefix + "lookup, cold store, unauthenticated": cold})
                stop(server)
                figures["cluster"] = fill_store(seeded["sandbox"], args.profiles, nodes=cluster.node_urls)
                server = start_gunicorn(port, args.workers, args.threads, args.worker_class, env=on_cluster)
                _wait_until_idle(server, args.workers)
                app_pids = _server_pids(server)
                figures["cluster"]["mirrored_at_start"] = mirror_stats(server)["size"]
                run_wrk(base + "/ee/health", None, 2, args.connections, args.wrk_threads)  # let workers settle
                run_rows(
                    {
                        prefix + "baseline (constant JSON)": (base + "/ee/health", None),
                        prefix + "lookup, warm, unauthenticated": (
                            base + path,
                            lookup_script(path, args.profiles, {}, 2),
                        ),
                        prefix + "lookup, warm, authenticated": (
                            base + path,
                            lookup_script(path, args.profiles, headers, 3),
                        ),
                        prefix + "lookup, random visitors": (
                            base + path,
                            random_visitors_script(path, args.profiles, {}, 6),
                        ),
                        prefix + "lookup, random, authenticated": (
                            base + path,
                            random_visitors_script(path, args.profiles, headers, 7),
                        ),
                    }
                )
            finally:
                use_edge_redis("", cluster=False)
                stop(server)
                cluster.stop()
    finally:
        stop(server)
        if metrics_off is not None:
            stop(metrics_off["server"])
    if not args.skip_change:
        figures["cut"] = redis_cut_row(port, path, lookup_script(path, args.profiles, {}, 9), args)

    print_results(args, results, figures, queries)


def _count(profiles: int) -> str:
    return "%dM" % (profiles // 1_000_000) if profiles % 1_000_000 == 0 else "{:,}".format(profiles)


def fill_store(sandbox, profiles: int, progress: bool = False, nodes: list[str] | None = None) -> dict:
    """
    Empty the store and fill it with `edge_rebuild`; return its rate, the CPU each process spent per profile
    (this one, its PostgreSQL backend, Redis: the figures other load on the machine moves least), Redis's
    memory per profile, and each node's keys and memory growth (`nodes`: the cluster's node URLs; default
    REDIS_URL's one Redis).
    """
    from django.db import connection

    from personalization.edge.rebuild import edge_rebuild
    from personalization.edge.store import store

    nodes = nodes or [os.environ["REDIS_URL"]]
    store.clear()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]
    redis_pids = [pid for pid in map(_redis_pid, nodes) if pid]
    before = [redis_memory(url, store._full_key("pf:*"), samples=0) for url in nodes]
    cpu = (time.process_time(), _cpu_seconds([backend]), _cpu_seconds(redis_pids))
    started = time.perf_counter()
    step = [1_000_000]

    def report(done: int) -> None:
        if progress and done >= step[0]:
            print("  filled %d in %.0f s" % (done, time.perf_counter() - started), flush=True)
            step[0] += 1_000_000

    rebuilt = edge_rebuild(sandbox_id=sandbox.pk, progress=report)
    seconds = time.perf_counter() - started
    spent = [
        (time.process_time() - cpu[0]),
        (_cpu_seconds([backend]) - cpu[1]),
        (_cpu_seconds(redis_pids) - cpu[2]),
    ]
    after = [redis_memory(url, store._full_key("pf:*"), samples=2000 // len(nodes)) for url in nodes]
    answers = max(1, rebuilt["answers"])
    growth = [node_after["used"] - node_before["used"] for node_before, node_after in zip(before, after, strict=True)]
    return {
        "rebuilt": rebuilt["answers"],
        "rebuild_seconds": seconds,
        "rebuild_cpu_us": [value / answers * 1e6 for value in spent],
        "redis_bytes_per_profile": sum(growth) / max(1, profiles),
        "redis_sampled_bytes": sum(node["sampled"] for node in after) / len(after),
        "shard_keys": [node["keys"] for node in after],
        "shard_bytes": growth,
    }


def start_redis():
    """Start a redis-server of the bench's own on a free port (no persistence); return it and its URL."""
    import redis

    port = free_port()
    process = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = "redis://127.0.0.1:%d/0" % port
    deadline = time.time() + 20
    while time.time() < deadline:
        try:
            redis.Redis.from_url(url).ping()
            return process, url
        except redis.exceptions.ConnectionError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit("redis-server did not start")


def use_edge_redis(url: str, *, cluster: bool) -> None:
    """Point this process's edge store at `url` (a cluster's seed node with `cluster`; "" for the cache's Redis)."""
    from django.conf import settings

    from personalization.edge.store import store

    settings.EDGE_REDIS_URL = url
    settings.EDGE_REDIS_CLUSTER = cluster
    store.reset()


def change_row(url: str, script: str, datastream, args) -> dict:
    """Full load for 30 s; an ordinary activation change (through the service) 10 s in."""
    change, undo = activation_change(datastream)
    try:
        return run_wrk_sliced(url, script, 30, args.connections, args.wrk_threads, [(10, "activation change", change)])
    finally:
        undo()


def redis_cut_row(port: int, path: str, script: str, args) -> dict:
    """Full load for 30 s on workers that reach Redis through a loopback proxy, which is cut 10 s in."""
    from urllib.parse import urlsplit

    from tests.utils.tcp_proxy import TcpProxy

    real = urlsplit(os.environ["REDIS_URL"])
    proxy = TcpProxy(real.hostname or "127.0.0.1", real.port or 6379)
    url = "redis://%s%s" % (proxy.url_host, real.path or "/0")
    server = start_gunicorn(port, args.workers, args.threads, args.worker_class, env={"REDIS_URL": url})
    try:
        _wait_until_idle(server, args.workers)
        base = "http://127.0.0.1:%d" % port
        run_wrk(base + path, script, 2, args.connections, args.wrk_threads)  # let workers settle
        return run_wrk_sliced(
            base + path, script, 30, args.connections, args.wrk_threads, [(10, "Redis cut", proxy.cut)]
        )
    finally:
        stop(server)
        proxy.restore()
        proxy.close()


def print_fill(figures: dict, profiles: int) -> None:
    """Print the store's figures: the fill's time, rate and CPU, Redis's memory per profile."""
    print(
        "edge_rebuild: %d answers in %.1f s (%.0f profiles/s); Redis %.0f bytes per profile (used_memory growth), "
        "%.0f bytes per entry (MEMORY USAGE, sampled); %d profiles"
        % (
            figures["rebuilt"],
            figures["rebuild_seconds"],
            figures["rebuilt"] / figures["rebuild_seconds"],
            figures["redis_bytes_per_profile"],
            figures["redis_sampled_bytes"],
            profiles,
        )
    )
    rebuild_cpu = figures["rebuild_cpu_us"]
    print(
        "edge_rebuild CPU per profile: %.1f µs this process, %.1f µs PostgreSQL, %.1f µs Redis; with a core each "
        "(they work in parallel), the busiest allows %.0f profiles/s" % (*rebuild_cpu, 1e6 / max(rebuild_cpu))
    )


# (row on one Redis, the same row on the cluster, without the "N shards: " prefix)
CLUSTER_PAIRS = (
    ("lookup, cold store, unauthenticated", "lookup, cold store, unauthenticated"),
    ("lookup, warm, unauthenticated", "lookup, warm, unauthenticated"),
    ("lookup, warm, authenticated (10 attributes)", "lookup, warm, authenticated"),
    ("lookup, random visitors of all %s profiles", "lookup, random visitors"),
    ("lookup, random visitors, authenticated", "lookup, random, authenticated"),
)


def _spread(values) -> str:
    """Return how far the largest and smallest of `values` are from their mean, in percent."""
    mean = sum(values) / max(1, len(values))
    return "largest %+.1f %%, smallest %+.1f %% from the mean" % (
        (max(values) / mean - 1) * 100,
        (min(values) / mean - 1) * 100,
    )


def print_cluster(args, results: dict, figures: dict) -> None:
    """Print the cluster's rows beside the same rows on one Redis, each against its own server's baseline."""
    shards = args.redis_cluster
    prefix = "%d shards: " % shards
    cluster = figures["cluster"]
    one_base = results["baseline (constant JSON)"]["rps"]
    cluster_base = results[prefix + "baseline (constant JSON)"]["rps"]
    print()
    print(
        "Edge store on a Redis Cluster of %d primaries (the rows above prefixed %r), each row against its own "
        "server's baseline (one Redis %.0f req/s, cluster %.0f req/s):" % (shards, prefix, one_base, cluster_base)
    )
    for one_label, cluster_label in CLUSTER_PAIRS:
        one_label = one_label.replace("%s", _count(args.profiles))
        one, on_cluster = results.get(one_label), results.get(prefix + cluster_label)
        if one is None or on_cluster is None:
            continue
        print(
            "  %-38s one Redis %6.0f req/s, p99 %6.2f ms, %.2fx | %d shards %6.0f req/s, p99 %6.2f ms, %.2fx "
            "| cluster/one %.2fx"
            % (
                cluster_label,
                one["rps"],
                one["p99"],
                one["rps"] / one_base,
                shards,
                on_cluster["rps"],
                on_cluster["p99"],
                on_cluster["rps"] / cluster_base,
                (on_cluster["rps"] / cluster_base) / (one["rps"] / one_base),
            )
        )
    rate, one_rate = (
        cluster["rebuilt"] / cluster["rebuild_seconds"],
        figures["rebuilt"] / figures["rebuild_seconds"],
    )
    print(
        "  edge_rebuild into the cluster: %d answers in %.1f s, %.0f profiles/s (one Redis: %.0f/s, %.2fx); "
        "CPU per profile %.1f µs this process, %.1f µs PostgreSQL, %.1f µs the %d nodes"
        % (
            cluster["rebuilt"],
            cluster["rebuild_seconds"],
            rate,
            one_rate,
            rate / one_rate,
            *cluster["rebuild_cpu_us"],
            shards,
        )
    )
    print(
        "  keys per shard: %s (%s)"
        % (", ".join("{:,}".format(k) for k in cluster["shard_keys"]), _spread(cluster["shard_keys"]))
    )
    print(
        "  memory per shard (used_memory growth): %s (%s); %.0f bytes per profile over the cluster (one Redis: %.0f)"
        % (
            ", ".join("%.1f MB" % (b / 1e6) for b in cluster["shard_bytes"]),
            _spread(cluster["shard_bytes"]),
            cluster["redis_bytes_per_profile"],
            figures["redis_bytes_per_profile"],
        )
    )
    print("  workers started on the cluster with %d answers copied" % cluster["mirrored_at_start"])


def print_results(args, results: dict, figures: dict, queries: dict) -> None:
    baseline = results["baseline (constant JSON)"]["rps"]
    print()
    print(
        "profiles %d, audiences %d, destinations %d on one datastream; gunicorn %d×%d %s; "
        "wrk -t%d -c%d -d%ds, best of %d rounds"
        % (
            args.profiles,
            args.audiences,
            args.destinations,
            args.workers,
            args.threads,
            args.worker_class,
            args.wrk_threads,
            args.connections,
            args.duration,
            args.rounds,
        )
    )
    base_cpu = results["baseline (constant JSON)"]["app_us"]
    print(
        "%-52s %8s %8s %8s %8s %8s %9s %8s %9s"
        % ("run", "req/s", "p50 ms", "p99 ms", "vs base", "app µs", "+redis µs", "non-2xx", "mirror hit")
    )
    for label, result in results.items():
        hit_rate = result.get("hit_rate")
        print(
            "%-52s %8.0f %8.2f %8.2f %7.2fx %8.0f %9.0f %8d %9s"
            % (
                label,
                result["rps"],
                result["p50"],
                result["p99"],
                result["rps"] / baseline,
                result["app_us"],
                result["redis_us"],
                result["non_2xx"],
                "%.0f %%" % (hit_rate * 100) if hit_rate is not None else "-",
            )
        )
        if result["errors"]:
            print("    socket errors: %s" % result["errors"])
    print()
    same_request = results["baseline, POST with a lookup's body"]["rps"]
    print(
        "vs the same POST answered with a constant: unauthenticated %.2fx, authenticated %.2fx"
        % (
            results["lookup, warm, unauthenticated"]["rps"] / same_request,
            results["lookup, warm, authenticated (10 attributes)"]["rps"] / same_request,
        )
    )
    if METRICS_OFF_LABEL in results:
        on, off = results["lookup, warm, unauthenticated"], results[METRICS_OFF_LABEL]
        print(
            "metrics cost on warm lookups: throughput %+.1f %%, app CPU per request %+.1f %% (on vs off)"
            % ((on["rps"] / off["rps"] - 1) * 100, (on["app_us"] / off["app_us"] - 1) * 100)
        )
    edge_label = "edge segmentation, warm (%d edge audiences)" % EDGE_AUDIENCES
    if edge_label in results:
        print(
            "edge segmentation vs the same lookup without it: %.2fx"
            % (results[edge_label]["rps"] / results["lookup, warm, unauthenticated"]["rps"])
        )
    warm = results["lookup, warm, unauthenticated"]
    print(
        "CPU per request: the baseline costs the app %.0f µs, a warm lookup %.0f µs app + %.0f µs Redis; "
        "capacity ratio by CPU %.2fx (the figure that load from other processes on the machine moves least)"
        % (base_cpu, warm["app_us"], warm["redis_us"], base_cpu / (warm["app_us"] + warm["redis_us"]))
    )
    print_fill(figures, args.profiles)
    print(
        "workers started warm in %.1f s with %d answers copied; after the rows they mirror %d (EDGE_LOCAL_CACHE_SIZE "
        "%s per worker); worker memory %.0f MB each"
        % (
            figures["warm_start_seconds"],
            figures["mirrored_at_start"],
            figures["mirrored_after"],
            os.environ.get("EDGE_LOCAL_CACHE_SIZE", "default"),
            figures["worker_rss_mb"] / max(1, args.workers),
        )
    )
    if "cluster" in figures:
        print_cluster(args, results, figures)
    for label, (cold_queries, warm_queries) in queries.items():
        print("SQL queries per %s lookup: cold %d, warm %d" % (label, cold_queries, warm_queries))
    if figures.get("edge_queries") is not None:
        print(
            "SQL queries per edge-segmentation lookup (%d edge audiences): cold %d, warm %d"
            % (EDGE_AUDIENCES, *figures["edge_queries"])
        )
    if "change" in figures:
        print_slices("Activation change under load", figures["change"], "activation change", warm["rps"])
        print_slices("Redis cut under load", figures["cut"], "Redis cut", warm["rps"])
        cold = results.get("lookup, cold store, unauthenticated")
        if cold:
            after = [
                count
                for second, count, _f in figures["cut"]["slices"]
                if second >= figures["cut"]["events"]["Redis cut"]
            ]
            print(
                "  with Redis cut: mean %.0f req/s against the cold-store row's %.0f (%.2fx)"
                % (sum(after) / max(1, len(after)), cold["rps"], sum(after) / max(1, len(after)) / cold["rps"])
            )


if __name__ == "__main__":
    main()
