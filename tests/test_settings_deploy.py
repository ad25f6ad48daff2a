"""Production readiness of the settings, checked the way an operator would: `manage.py` in a fresh process."""

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from tests.utils.services import missing_service

REPO = Path(__file__).resolve().parent.parent
INHERITED = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")


def manage(*args, env_overrides: dict, tmp_path: Path) -> subprocess.CompletedProcess:
    """
    Run manage.py like an operator in a fresh shell: the real settings module, a throwaway SQLite file and the
    given variables, and nothing else from this test process (which may carry test-only variables).
    """
    env = {key: os.environ[key] for key in INHERITED if key in os.environ}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "personalization.settings",
            "DATABASE_URL": "sqlite:///%s" % (tmp_path / "db.sqlite3"),
            **env_overrides,
        }
    )
    return subprocess.run(  # noqa: S603 - fixed arguments, our own manage.py
        [sys.executable, "manage.py", *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )


PRODUCTION = {
    "DEBUG": "0",
    "SECRET_KEY": secrets.token_urlsafe(64),
    "ALLOWED_HOSTS": "cpc.example.com",
    "CSRF_TRUSTED_ORIGINS": "https://cpc.example.com",
    "REDIS_URL": "redis://127.0.0.1:6379/1",
    "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",
    "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
}


def test_deploy_check_is_clean_with_production_values(tmp_path):
    result = manage("check", "--deploy", "--fail-level", "WARNING", env_overrides=PRODUCTION, tmp_path=tmp_path)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_deploy_check_refuses_the_embedded_fallback_key(tmp_path):
    dotenv = REPO / ".env"
    if dotenv.exists() and re.search(r"^\s*SECRET_KEY=", dotenv.read_text(), re.MULTILINE):
        pytest.skip("a local .env sets SECRET_KEY")
    env = {key: value for key, value in PRODUCTION.items() if key != "SECRET_KEY"}
    result = manage("check", "--deploy", "--fail-level", "WARNING", env_overrides=env, tmp_path=tmp_path)

    # The fallback key only exists so a fresh checkout runs; the deploy check must call it out.
    assert result.returncode != 0
    assert "security.W009" in result.stdout + result.stderr


def test_models_and_migrations_agree(tmp_path):
    result = manage("makemigrations", "--check", "--dry-run", env_overrides={}, tmp_path=tmp_path)

    assert result.returncode == 0, "Models changed without a migration:\n" + result.stdout + result.stderr


def test_env_example_documents_every_variable_the_settings_read():
    settings_source = (REPO / "personalization" / "settings.py").read_text()
    read = set(re.findall(r"""env(?:\.\w+)?\(\s*["']([A-Z][A-Z0-9_]*)["']""", settings_source))
    documented = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", (REPO / ".env.example").read_text(), re.MULTILINE))

    assert read, "found no environment reads in settings.py"
    assert sorted(read - documented) == []


@pytest.mark.services
def test_the_suite_runs_on_postgresql_when_services_are_required():
    from django.db import connection

    if connection.vendor != "postgresql":
        missing_service("DATABASE_URL does not point at PostgreSQL (vendor %s)" % connection.vendor)


@pytest.mark.services
def test_the_production_cache_settings_work_against_redis(tmp_path):
    redis_url = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    script = (
        "from django.core.cache import cache; from django.conf import settings; "
        "assert settings.CACHES['default']['BACKEND'] == 'django_redis.cache.RedisCache'; "
        "key = 'settings-test-%s' % __import__('uuid').uuid4().hex; "
        "cache.set(key, {'ok': 1}, 30); value = cache.get(key); cache.delete(key); "
        "assert value == {'ok': 1}, value; print('cache round trip ok')"
    )
    env = {**PRODUCTION, "REDIS_URL": redis_url, "CACHE_KEY_PREFIX": "cpc-settings-test"}
    result = manage("shell", "-c", script, env_overrides=env, tmp_path=tmp_path)

    if "ConnectionError" in result.stderr or "Connection refused" in result.stderr:
        missing_service("Redis is not reachable at %s" % redis_url)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "cache round trip ok" in result.stdout
