#!/usr/bin/env python
"""
Benchmark the CSV custom upload on PostgreSQL against `COPY` of the same file.

    .venv/bin/python bench/csv_import.py                 # 1,000,000 rows
    .venv/bin/python bench/csv_import.py --rows 200000 --rerun
    .venv/bin/python bench/csv_import.py --known         # every identity already has a profile

It writes a CSV (an `ecid` identity column and 3 payload columns: tier, city, score) under MEDIA_ROOT, then prints:

- copy: `COPY` of the file into a plain 4-column table (no checks, no profiles, no upserts);
- floor: the import's writes done by hand in plain SQL (`FLOOR_STATEMENTS`: `COPY` into staging, then one
  `INSERT … SELECT` each into the same constrained tables: profiles, identities, memberships), what PostgreSQL
  itself needs for a file of new identities;
- import: `audience_import_run` on the same file into a fresh custom upload audience of the `bench-csv` sandbox
  (every identity unknown: a profile, an identity and a membership per row), run in a child process whose peak
  resident memory (`getrusage` maxrss) is reported; with `--known`, every identity of the file is given a profile
  first (untimed, random profile ids as the Edge API makes them), so the import only writes memberships; with
  `--rerun`, the same file again (nothing changes);
- the ratios import / copy and import / floor; targets: within 5× COPY and 1.5× the floor (new identities),
  peak memory under 300 MB;
- where the import's time went (the phases the import logs): reading and checking rows in Python, `COPY` into
  the staging table, each merge statement, and the commit (which runs the deferred foreign key checks).

The sandbox's previous bench data is deleted (and its tables vacuumed) first, so each run measures a first import.
Needs PostgreSQL (DATABASE_URL, default below); the batch size comes from AUDIENCE_IMPORT_BATCH_SIZE (flag
`--batch-size`). The load average is printed with the figures: the ratio of two figures from the same run is what
compares across machines.
"""

import argparse
import json
import logging
import os
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from _common import BENCH_ENVIRONMENT, ensure_postgres_database, setup_django  # noqa: E402  (bench/ is the script's folder)

DEFAULTS = BENCH_ENVIRONMENT
SANDBOX = "bench-csv"
TIERS = ("bronze", "silver", "gold", "platinum")
CITIES = ("Berlin", "Paris", "Madrid", "Rome", "Vienna", "Zurich", "Oslo", "Lisbon")


def write_csv(path: Path, rows: int) -> int:
    """Write `rows` data rows with unique 38-digit ECIDs; return the file size."""
    rng = random.Random(42)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as out:
        out.write("ecid,tier,city,score\n")
        base = 10**37
        for number in range(rows):
            out.write(
                "%d,%s,%s,%d\n" % (base + number * 7919, rng.choice(TIERS), rng.choice(CITIES), rng.randint(0, 1000))
            )
    return path.stat().st_size


def time_copy(path: Path) -> float:
    """Return the seconds `COPY` takes to load the file into a plain table (committed)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_csv_copy")
        cursor.execute("CREATE TABLE bench_csv_copy (ecid text, tier text, city text, score text)")
    started = time.perf_counter()
    with connection.cursor() as cursor, open(path, "rb") as handle:
        with cursor.copy("COPY bench_csv_copy FROM STDIN WITH (FORMAT csv, HEADER true)") as copy:
            while chunk := handle.read(1024 * 1024):
                copy.write(chunk)
    elapsed = time.perf_counter() - started
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE bench_csv_copy")
    return elapsed


FLOOR_SANDBOX = "bench-csv-floor"
# The import's writes by hand: COPY into staging (each row numbered as it lands), then one INSERT … SELECT per
# table into the same constrained, indexed tables, in one transaction. New profile ids ascend with the row number,
# as the import's time-ordered ids do, so neither side pays for random index pages.
FLOOR_STATEMENTS = (
    "CREATE TEMPORARY TABLE bench_floor_staging (n bigint GENERATED ALWAYS AS IDENTITY, ecid text, tier text,"
    " city text, score text) ON COMMIT DROP",
    None,  # COPY bench_floor_staging (ecid, tier, city, score) FROM the file
    """
    INSERT INTO profiles_profile (id, sandbox_id, attributes, created_at, updated_at)
    SELECT (%(prefix)s || lpad(to_hex(n), 16, '0'))::uuid, %(sandbox)s, '{}'::jsonb, now(), now()
    FROM bench_floor_staging
    """,
    """
    INSERT INTO profiles_identity (sandbox_id, namespace_id, value, profile_id, "primary", created_at)
    SELECT %(sandbox)s, %(namespace)s, ecid, (%(prefix)s || lpad(to_hex(n), 16, '0'))::uuid, true, now()
    FROM bench_floor_staging
    """,
    """
    INSERT INTO audiences_audiencemembership (audience_id, profile_id, status, qualified_at, exited_at, payload)
    SELECT %(audience)s, (%(prefix)s || lpad(to_hex(n), 16, '0'))::uuid, 'realized', now(), NULL,
        jsonb_build_object('tier', tier, 'city', city, 'score', score)
    FROM bench_floor_staging
    """,
)


def time_floor(path: Path) -> tuple[float, dict]:
    """
    Return the seconds PostgreSQL itself takes to make the file's rows new profiles, identities and memberships
    (`FLOOR_STATEMENTS`, committed: the deferred foreign key checks count), in a sandbox of its own, and the
    seconds of each step.
    """
    from django.db import connection, transaction

    from accounts.models import Sandbox
    from personalization.audiences.models import Audience
    from personalization.profiles.models import IdentityNamespace

    sandbox, _created = Sandbox.objects.get_or_create(name=FLOOR_SANDBOX, defaults={"title": "Bench CSV floor"})
    _delete_sandbox_rows(sandbox)
    namespace, _created = IdentityNamespace.objects.get_or_create(
        sandbox=sandbox, code="ECID", defaults={"name": "ECID"}
    )
    audience = Audience.objects.create(
        sandbox=sandbox, name="Bench floor", origin=Audience.Origin.CUSTOM_UPLOAD, status=Audience.Status.PUBLISHED
    )
    params = {
        "sandbox": sandbox.pk,
        "namespace": namespace.pk,
        "audience": audience.pk,
        "prefix": "%016x" % time.time_ns(),
    }
    phases, names = {}, ("staging", "copy", "profiles", "identities", "memberships")
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        for name, statement in zip(names, FLOOR_STATEMENTS, strict=True):
            step = time.perf_counter()
            if statement is None:
                with (
                    open(path, "rb") as handle,
                    cursor.copy(
                        "COPY bench_floor_staging (ecid, tier, city, score) FROM STDIN WITH (FORMAT csv, HEADER true)"
                    ) as copy,
                ):
                    while chunk := handle.read(1024 * 1024):
                        copy.write(chunk)
            else:
                cursor.execute(statement, params)
            phases[name] = time.perf_counter() - step
        committing = time.perf_counter()
    phases["commit"] = time.perf_counter() - committing
    elapsed = time.perf_counter() - started
    _delete_sandbox_rows(sandbox)
    vacuum()
    return elapsed, phases


def _delete_sandbox_rows(sandbox) -> None:
    """Delete the sandbox's profiles, identities, audiences and their memberships and imports."""
    from django.db import connection, transaction

    with transaction.atomic(), connection.cursor() as cursor:
        for sql in (
            "DELETE FROM audiences_audiencemembership WHERE audience_id IN "
            "(SELECT id FROM audiences_audience WHERE sandbox_id = %s)",
            "DELETE FROM audiences_audienceimport WHERE audience_id IN "
            "(SELECT id FROM audiences_audience WHERE sandbox_id = %s)",
            "DELETE FROM audiences_audience WHERE sandbox_id = %s",
            "DELETE FROM profiles_identity WHERE sandbox_id = %s",
            "DELETE FROM profiles_profile WHERE sandbox_id = %s",
        ):
            cursor.execute(sql, [sandbox.pk])


def reset_sandbox():
    """Delete the bench sandbox's profiles, identities and audiences from earlier runs; return the sandbox."""

    from accounts.models import Sandbox
    from personalization.profiles.models import IdentityNamespace

    sandbox, _created = Sandbox.objects.get_or_create(name=SANDBOX, defaults={"title": "Bench CSV"})
    _delete_sandbox_rows(sandbox)
    vacuum()
    IdentityNamespace.objects.get_or_create(sandbox=sandbox, code="ECID", defaults={"name": "ECID"})
    return sandbox


def vacuum() -> None:
    """Clear the dead rows earlier runs left in the tables the import writes (outside a transaction)."""
    from django.db import connection

    with connection.cursor() as cursor:
        for table in ("profiles_profile", "profiles_identity", "audiences_audiencemembership"):
            cursor.execute("VACUUM ANALYZE %s" % table)


def seed_known(sandbox, namespace, rows: int) -> None:
    """Give every ECID of the bench file a profile (random-looking ids, as the Edge API's uuid4) and identity."""
    from django.db import connection, transaction

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO profiles_profile (id, sandbox_id, attributes, created_at, updated_at)
            SELECT md5('bench-csv' || n)::uuid, %s, '{}'::jsonb, now(), now() FROM generate_series(0, %s - 1) n
            """,
            [sandbox.pk, rows],
        )
        cursor.execute(
            """
            INSERT INTO profiles_identity (sandbox_id, namespace_id, value, profile_id, "primary", created_at)
            SELECT %s, %s, (%s::numeric + n::numeric * 7919)::text, md5('bench-csv' || n)::uuid, true, now()
            FROM generate_series(0, %s - 1) n
            """,
            [sandbox.pk, namespace.pk, str(10**37), rows],
        )
    vacuum()


def server_cpu() -> float:
    """Return the CPU seconds this connection's PostgreSQL backend has used (NaN unless the server is local)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()
    try:
        with open("/proc/%d/stat" % pid) as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


class _Phases(logging.Handler):
    """Keep the phase timings of the import's `audience.import.succeeded` log record."""

    def __init__(self):
        super().__init__(logging.INFO)
        self.seconds = {}

    def emit(self, record):
        if record.getMessage() == "audience.import.succeeded":
            self.seconds = record.seconds


def child(relative: str, rerun: bool, known: int) -> None:
    """Import the file in this process and print the timings as JSON (the parent reads maxrss)."""
    setup_django(DEFAULTS)
    from django.conf import settings

    from personalization.audiences.imports.run import audience_import_run
    from personalization.audiences.models import Audience, AudienceImport
    from personalization.profiles.models import IdentityNamespace

    if os.environ.get("AUDIENCE_IMPORT_BATCH_SIZE"):
        settings.AUDIENCE_IMPORT_BATCH_SIZE = int(os.environ["AUDIENCE_IMPORT_BATCH_SIZE"])
    sandbox = reset_sandbox()
    audience = Audience.objects.create(
        sandbox=sandbox, name="Bench upload", origin=Audience.Origin.CUSTOM_UPLOAD, status=Audience.Status.DRAFT
    )
    namespace = IdentityNamespace.objects.get(sandbox=sandbox, code="ECID")
    if known:
        seed_known(sandbox, namespace, known)
    phases = _Phases()
    import_logger = logging.getLogger("personalization.audiences.csv_import")
    import_logger.setLevel(logging.INFO)
    import_logger.addHandler(phases)
    size = (Path(settings.MEDIA_ROOT) / relative).stat().st_size
    timings = {}
    for label in ("import", "rerun") if rerun else ("import",):
        audience_import = AudienceImport.objects.create(
            audience=audience,
            namespace=namespace,
            identity_column="ecid",
            file_name="bench.csv",
            file_path=relative,
            file_size=size,
        )
        server_before, python_before = server_cpu(), time.process_time()
        started = time.perf_counter()
        done = audience_import_run(import_id=audience_import.pk)
        timings[label] = time.perf_counter() - started
        timings[label + "_cpu"] = [time.process_time() - python_before, server_cpu() - server_before]
        timings[label + "_status"] = done.status
        timings[label + "_rows_valid"] = done.rows_valid
        timings[label + "_error"] = done.error
        timings[label + "_phases"] = phases.seconds
    print(json.dumps(timings))


def describe(phases: dict) -> str:
    """Return the phase timings as `read 1.2 s, write 0.8 s, …`, in the order the import ran them."""
    return ", ".join("%s %.2f s" % (phase, seconds) for phase, seconds in phases.items()) or "(not logged)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--rerun", action="store_true", help="import the same file a second time")
    parser.add_argument("--known", action="store_true", help="give every identity a profile first (untimed)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.batch_size:
        os.environ["AUDIENCE_IMPORT_BATCH_SIZE"] = str(args.batch_size)
    if args.child:
        child(args.child, args.rerun, args.rows if args.known else 0)
        return

    setup_django(DEFAULTS)
    from django.conf import settings

    ensure_postgres_database("bench/csv_import.py")
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    relative = "bench/bench-%d.csv" % args.rows
    path = Path(settings.MEDIA_ROOT) / relative
    started = time.perf_counter()
    size = write_csv(path, args.rows)
    print("file: %s rows, %.1f MB, written in %.1f s" % (f"{args.rows:,}", size / 1e6, time.perf_counter() - started))
    copy_seconds = time_copy(path)
    print("copy:   %.2f s (%.0f rows/s)" % (copy_seconds, args.rows / copy_seconds))
    floor_seconds, floor_phases = time_floor(path)
    print(
        "floor:  %.2f s: the same writes by hand (COPY into staging, one INSERT … SELECT per table), %.1f× COPY"
        % (floor_seconds, floor_seconds / copy_seconds)
    )
    print("        phases: %s" % describe(floor_phases))

    command = [sys.executable, __file__, "--child", relative, "--rows", str(args.rows)]
    command += (["--rerun"] if args.rerun else []) + (["--known"] if args.known else [])
    result = subprocess.run(command, capture_output=True, text=True, env=os.environ.copy())
    if result.returncode:
        raise SystemExit("the import process failed:\n%s" % result.stderr)
    timings = json.loads(result.stdout.strip().splitlines()[-1])
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # Linux reports KiB
    if timings["import_status"] != "succeeded":
        raise SystemExit("import failed: %s" % timings["import_error"])
    print(
        "import: %.2f s (%.0f rows/s), %s rows landed%s, %.1f× COPY (target ≤ 5×), %.2f× floor%s"
        % (
            timings["import"],
            args.rows / timings["import"],
            f"{timings['import_rows_valid']:,}",
            " (identities known)" if args.known else "",
            timings["import"] / copy_seconds,
            timings["import"] / floor_seconds,
            "" if args.known else " (target ≤ 1.5×)",
        )
    )
    print("        phases: %s" % describe(timings["import_phases"]))
    print("        CPU: Python %.2f s, PostgreSQL backend %.2f s" % tuple(timings["import_cpu"]))
    if args.rerun:
        print(
            "rerun:  %.2f s (same file, nothing changes), %.1f× COPY"
            % (timings["rerun"], timings["rerun"] / copy_seconds)
        )
        print("        phases: %s" % describe(timings["rerun_phases"]))
        print("        CPU: Python %.2f s, PostgreSQL backend %.2f s" % tuple(timings["rerun_cpu"]))
    print("peak memory of the import process: %.0f MB (target < 300 MB)" % peak_mb)
    print("load average: %.2f %.2f %.2f (2 cores)" % os.getloadavg())
    path.unlink()


if __name__ == "__main__":
    main()
