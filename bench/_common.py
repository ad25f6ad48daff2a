"""What every benchmark needs: Django set up from its defaults, and a PostgreSQL database to work in."""

import os

__all__ = ["BENCH_ENVIRONMENT", "ensure_postgres_database", "insert_ecid_identities", "setup_django"]

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
