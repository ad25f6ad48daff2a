"""What every benchmark needs: Django set up from its defaults, and a PostgreSQL database to work in."""

import os

__all__ = ["ensure_postgres_database", "setup_django"]


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
