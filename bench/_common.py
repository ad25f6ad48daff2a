"""What every benchmark needs: Django set up from its defaults, and a PostgreSQL database to work in."""

import os

__all__ = [
    "BENCH_ENVIRONMENT",
    "bulk_load",
    "delete_sandbox_profiles",
    "ensure_postgres_database",
    "insert_ecid_identities",
    "setup_django",
]

# What every benchmark runs with unless the caller's environment says otherwise; scripts add their own keys.
BENCH_ENVIRONMENT = {
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/cpc_bench",
    "DJANGO_SETTINGS_MODULE": "personalization.settings",
    "DEBUG": "0",
    "SECRET_KEY": "bench-only-" + "x" * 50,
    "ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
    "SECURE_SSL_REDIRECT": "0",
    "SECURE_HSTS_SECONDS": "0",
    "LOG_LEVEL": "WARNING",
}


def setup_django(defaults: dict) -> None:
    """Set up Django with `defaults` for every environment variable the caller has not set."""
    for key, value in defaults.items():
        os.environ.setdefault(key, value)
    import django

    django.setup()


def ensure_postgres_database(script: str) -> None:
    """Create the benchmark's database if it is missing; refuse to run on anything but PostgreSQL."""
    import psycopg

    from django.conf import settings

    db = settings.DATABASES["default"]
    if db["ENGINE"] != "django.db.backends.postgresql":
        raise SystemExit("%s needs PostgreSQL: set DATABASE_URL=postgres://..." % script)
    with psycopg.connect(
        host=db["HOST"] or "127.0.0.1", port=db["PORT"] or 5432, user=db["USER"], dbname="postgres", autocommit=True
    ) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [db["NAME"]]).fetchone():
            conn.execute('CREATE DATABASE "%s"' % db["NAME"])


def bulk_load(cursor, tables: list[str]):
    """
    Return a context manager for loading many rows into `tables` inside the current transaction: their secondary
    indexes, unique and foreign-key constraints are dropped first and created again at the end, so PostgreSQL
    builds each index once by sorting and checks each foreign key with one join, instead of maintaining them row
    by row (the difference between minutes and hours at 10M profiles). All of it is in the caller's transaction:
    a failure leaves the tables as they were.
    """
    from contextlib import contextmanager

    @contextmanager
    def loading():
        # Deferred foreign key checks still pending would forbid altering the tables: run them now.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        restore = []
        for table in tables:
            cursor.execute(
                "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
                "WHERE conrelid = %s::regclass AND contype IN ('f', 'u') ORDER BY contype DESC, conname",
                [table],
            )
            constraints = cursor.fetchall()
            cursor.execute(
                "SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid) FROM pg_index "
                "WHERE indrelid = %s::regclass AND NOT indisprimary "
                "AND indexrelid NOT IN (SELECT conindid FROM pg_constraint WHERE conrelid = %s::regclass)",
                [table, table],
            )
            indexes = cursor.fetchall()
            for name, _definition in constraints:
                cursor.execute('ALTER TABLE %s DROP CONSTRAINT "%s"' % (table, name))
            for name, _definition in indexes:
                cursor.execute("DROP INDEX %s" % name)
            restore.append((table, constraints, indexes))
        yield
        cursor.execute("SET LOCAL maintenance_work_mem = '512MB'")
        for table, constraints, indexes in restore:
            for _name, definition in indexes:
                cursor.execute(definition)
            # Unique constraints first: the foreign keys of other tables may need them.
            for name, definition in constraints:
                cursor.execute('ALTER TABLE %s ADD CONSTRAINT "%s" %s' % (table, name, definition))

    return loading()


def insert_ecid_identities(cursor, *, sandbox_id, namespace_id, profiles: int, profile_seed: str) -> None:
    """Give profile n (id `md5(profile_seed || n)`) the primary ECID n, zero-padded to 38 digits, set-based."""
    cursor.execute(
        """
        INSERT INTO profiles_identity (sandbox_id, namespace_id, value, profile_id, "primary", created_at)
        SELECT %s, %s, lpad(n::text, 38, '0'), md5(%s || n)::uuid, true, now()
        FROM generate_series(1, %s) n
        """,
        [sandbox_id, namespace_id, profile_seed, profiles],
    )


def delete_sandbox_profiles(cursor, sandbox_id) -> None:
    """
    Delete a sandbox's memberships, evaluations, streamed changes, identities and profiles in SQL (the ORM would
    load them).
    """
    cursor.execute(
        "DELETE FROM audiences_audiencemembership WHERE audience_id IN "
        "(SELECT id FROM audiences_audience WHERE sandbox_id = %s)",
        [sandbox_id],
    )
    cursor.execute(
        "DELETE FROM audiences_audienceevaluation WHERE audience_id IN "
        "(SELECT id FROM audiences_audience WHERE sandbox_id = %s)",
        [sandbox_id],
    )
    cursor.execute("DELETE FROM audiences_streamedchange WHERE sandbox_id = %s", [sandbox_id])
    cursor.execute("DELETE FROM profiles_identity WHERE sandbox_id = %s", [sandbox_id])
    cursor.execute("DELETE FROM profiles_profile WHERE sandbox_id = %s", [sandbox_id])
