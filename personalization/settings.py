"""
Settings for Custom Personalization Connection, read from the environment (12-factor).

Every variable is documented in `.env.example`. With no environment at all the app runs in its
embedded mode: SQLite, local-memory cache, Celery tasks executed in-process.
"""

from datetime import timedelta
from pathlib import Path

import environ
from celery.schedules import crontab

from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)
# The fallback key only exists so a fresh checkout runs; production must set SECRET_KEY (check --deploy says so).
SECRET_KEY = env.str("SECRET_KEY", default="django-insecure-embedded-mode-only-change-me")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "guardian",
    "formtools",
    "django_htmx",
    "axes",
    "auditlog",
    "accounts",
    "personalization",
    "personalization.datastreams",
    "personalization.profiles",
    "personalization.governance",
    "personalization.audiences",
    "personalization.destinations",
    "personalization.edge",
    "personalization.alerts",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "personalization.edge.middleware.EdgeFastPathMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "personalization.api_input.ApiQueryTextMiddleware",
    "accounts.middleware.CurrentSandboxMiddleware",
    "accounts.audit.AuditActorMiddleware",
    "personalization.middleware.ProductNotFoundPageMiddleware",
    # Last, as django-axes asks: it turns a sign-in refused for a locked account into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "personalization.urls"
WSGI_APPLICATION = "personalization.wsgi.application"
ASGI_APPLICATION = "personalization.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "accounts.context_processors.navigation",
                "personalization.alerts.context_processors.bell",
            ],
        },
    },
]

# Database: SQLite file by default (embedded mode), PostgreSQL in production and CI.
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 20
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Cache, which also holds the edge store: Redis in production, local memory when embedded.
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {"CLIENT_CLASS": "django_redis.client.DefaultClient"},
            "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="cpc"),
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "cpc"}}

AUTHENTICATION_BACKENDS = [
    # First: refuses sign-ins of locked-out accounts before any password is checked (django-axes).
    "accounts.lockout.SignInThrottleBackend",
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
GUARDIAN_USER_OBJ_PERMS_MODEL = "accounts.SandboxUserObjectPermission"
GUARDIAN_GROUP_OBJ_PERMS_MODEL = "accounts.SandboxGroupObjectPermission"
ANONYMOUS_USER_NAME = None
GUARDIAN_RAISE_403 = False

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Sign-in protection (django-axes): this many failed sign-ins for one username lock it for LOGIN_LOCKOUT_MINUTES;
# a role manager can unlock it from the Users page sooner. Locking by username, not address, so an attacker
# cycling addresses is still stopped; a successful sign-in forgets earlier failures. The OAuth token endpoint's
# failed attempts count the same way, per client id and address together (accounts.lockout.lockout_parameters).
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=10)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("LOGIN_LOCKOUT_MINUTES", default=30))
AXES_LOCKOUT_PARAMETERS = "accounts.lockout.lockout_parameters"
AXES_SENSITIVE_PARAMETERS = ["client_secret"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "accounts.lockout.lockout_response"
AXES_VERBOSE = False
# axes warns that username-only locking ignores rotating addresses; that is the point here: the account locks.
SILENCED_SYSTEM_CHECKS = ["axes.W006"]
# Sessions end after SESSION_AGE_HOURS (default 12: a working day) and, optionally, when the browser closes.
SESSION_COOKIE_AGE = env.int("SESSION_AGE_HOURS", default=12) * 3600
SESSION_EXPIRE_AT_BROWSER_CLOSE = env.bool("SESSION_EXPIRE_AT_BROWSER_CLOSE", default=False)
# Invitation and set-password links stay valid this long (Django's password-reset tokens).
PASSWORD_RESET_TIMEOUT = env.int("INVITATION_VALID_DAYS", default=3) * 86400
# Audit log (django-auditlog) in our own table, which also keeps each entry's sandbox and sign-in events.
AUDITLOG_LOGENTRY_MODEL = "accounts.AuditEntry"
# With its model swapped for ours, django-auditlog's own migrations would still create an unused auditlog_logentry
# table whose foreign key to auth_user makes every flush (and every transactional test on PostgreSQL) fail
# (jazzband/django-auditlog#804). The app keeps no table of its own here, so it gets no migrations.
MIGRATION_MODULES = {"auditlog": None}
AUDITLOG_MASK_CALLABLE = "accounts.audit.mask_secret"
AUDITLOG_STORE_JSON_CHANGES = True
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "accounts:login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": env.str("STATICFILES_BACKEND", default="whitenoise.storage.CompressedManifestStaticFilesStorage")
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = DEBUG
MEDIA_ROOT = env.path("MEDIA_ROOT", default=str(VAR_DIR / "media"))
MEDIA_URL = "media/"

EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
# With django.core.mail.backends.filebased.EmailBackend, each email is written as a file in this folder.
EMAIL_FILE_PATH = env.str("EMAIL_FILE_PATH", default=str(VAR_DIR / "mail"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="alerts@localhost")
SERVER_EMAIL = env.str("SERVER_EMAIL", default=DEFAULT_FROM_EMAIL)
# SMTP, used when EMAIL_BACKEND is django.core.mail.backends.smtp.EmailBackend (alert emails in production).
EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
EMAIL_USE_SSL = env.bool("EMAIL_USE_SSL", default=False)
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)

# Security: strict by default, relaxed only where the embedded mode serves plain HTTP on loopback.
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env.bool("BEHIND_TLS_PROXY", default=False) else None
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True

# Celery: with no broker configured, tasks run in-process so the embedded mode needs no Redis.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="")
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default=None)
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=600)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=900)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = TIME_ZONE
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_TASK_DEFAULT_QUEUE", default="celery")
# On Redis, a task a worker took but did not finish (acks_late: the worker died) goes back to the queue after
# `visibility_timeout` seconds, which must exceed the longest task (CSV imports run up to three hours); a JSON
# object of kombu's Redis transport options.
CELERY_BROKER_TRANSPORT_OPTIONS = env.json("CELERY_BROKER_TRANSPORT_OPTIONS", default={"visibility_timeout": 4 * 3600})
if CELERY_BROKER_URL.startswith("filesystem://"):
    # The embedded mode's broker (`make run`): messages are files in var/broker, no server needed.
    _BROKER_DIR = Path(env.str("CELERY_FILE_BROKER_DIR", default=str(VAR_DIR / "broker")))
    (_BROKER_DIR / "processed").mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_BROKER_DIR),
        "data_folder_out": str(_BROKER_DIR),
        "processed_folder": str(_BROKER_DIR / "processed"),
        "store_processed": False,
    }
# Periodic batch re-evaluation of published rule-based audiences: a crontab line, daily at 02:00 UTC by default.
AUDIENCE_EVALUATION_CRONTAB = env.str("AUDIENCE_EVALUATION_CRONTAB", default="0 2 * * *")
AUDIENCE_EVALUATION_CHUNK_SIZE = env.int("AUDIENCE_EVALUATION_CHUNK_SIZE", default=50000)
# Past this many profiles changed by one batch evaluation, the sandbox's whole edge store is refreshed instead.
AUDIENCE_EVALUATION_ANNOUNCE_LIMIT = env.int("AUDIENCE_EVALUATION_ANNOUNCE_LIMIT", default=5000)
# A running evaluation without progress for this many seconds (its worker died) is queued again by the periodic run.
AUDIENCE_EVALUATION_STALE_AFTER = env.int("AUDIENCE_EVALUATION_STALE_AFTER", default=3600)
# CSV imports: rows per batch written, PostgreSQL's work_mem for the merge statements (that transaction only),
# and the changed profiles named to the edge store one by one before the whole sandbox is refreshed instead.
AUDIENCE_IMPORT_BATCH_SIZE = env.int("AUDIENCE_IMPORT_BATCH_SIZE", default=2000)
AUDIENCE_IMPORT_WORK_MEM = env.str("AUDIENCE_IMPORT_WORK_MEM", default="256MB")
AUDIENCE_IMPORT_ANNOUNCE_LIMIT = env.int("AUDIENCE_IMPORT_ANNOUNCE_LIMIT", default=5000)
try:
    _minute, _hour, _day_of_month, _month_of_year, _day_of_week = AUDIENCE_EVALUATION_CRONTAB.split()
except ValueError:
    raise ImproperlyConfigured(
        "AUDIENCE_EVALUATION_CRONTAB needs five fields (minute hour day-of-month month day-of-week), e.g. '0 2 * * *'; "
        "got %r." % AUDIENCE_EVALUATION_CRONTAB
    ) from None
# Dataflow runs and alerts: streaming changes are counted in windows of this length; a run not finished this long
# after it started is delayed (Destination Flow Run Delay); the default skipped-rate threshold, in percent.
DATAFLOW_RUN_WINDOW_MINUTES = env.int("DATAFLOW_RUN_WINDOW_MINUTES", default=60)
ALERT_RUN_DELAY_MINUTES = env.int("ALERT_RUN_DELAY_MINUTES", default=150)
ALERT_SKIPPED_RATE_PERCENT = env.float("ALERT_SKIPPED_RATE_PERCENT", default=1.0)
# How often beat counts streaming changes, closes windows and evaluates the alert rules, in seconds.
ALERT_EVALUATION_SECONDS = env.float("ALERT_EVALUATION_SECONDS", default=60.0)
# Where links in alert emails and webhooks point (the address users open the product at).
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000")
ALERT_EMAIL_SUBJECT_PREFIX = env.str("ALERT_EMAIL_SUBJECT_PREFIX", default="Custom Personalization")
# Webhooks: seconds to wait for a receiver, attempts in all, and the first retry's delay (doubling after it).
WEBHOOK_TIMEOUT = env.float("WEBHOOK_TIMEOUT", default=10.0)
WEBHOOK_MAX_ATTEMPTS = env.int("WEBHOOK_MAX_ATTEMPTS", default=6)
WEBHOOK_RETRY_SECONDS = env.float("WEBHOOK_RETRY_SECONDS", default=30.0)
CELERY_BEAT_SCHEDULE = {
    "close-run-windows": {"task": "personalization.edge.close_run_windows", "schedule": ALERT_EVALUATION_SECONDS},
    "evaluate-alert-rules": {"task": "personalization.alerts.evaluate_runs", "schedule": ALERT_EVALUATION_SECONDS},
    "evaluate-published-audiences": {
        "task": "personalization.audiences.evaluate_published_audiences",
        "schedule": crontab(
            minute=_minute,
            hour=_hour,
            day_of_month=_day_of_month,
            month_of_year=_month_of_year,
            day_of_week=_day_of_week,
        ),
    },
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.PersonalTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "personalization.api_input.BoundedLimitOffsetPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_PARSER_CLASSES": [
        "personalization.api_input.JSONParser",
        "personalization.api_input.FormParser",
        "personalization.api_input.MultiPartParser",
    ],
    "DEFAULT_METADATA_CLASS": "personalization.api_input.ApiMetadata",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "personalization.api_errors.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Custom Personalization Connection API",
    "DESCRIPTION": (
        "Management API for datastreams, profile schema, identities, audiences, destinations, activations and "
        "attribute mappings. Every object belongs to a sandbox; you only see sandboxes where your role grants access."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Group operations by resource (datastreams, audiences, …) rather than under one "v1" heading.
    "SCHEMA_PATH_PREFIX": r"/api/v[0-9]+",
    # Swagger UI and ReDoc from the app's own static files: the docs work offline and load nothing from a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "REDOC_UI_SETTINGS": {
        "theme": {
            "typography": {"fontFamily": "system-ui, sans-serif", "headings": {"fontFamily": "system-ui, sans-serif"}}
        }
    },
    "COMPONENT_SPLIT_REQUEST": True,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "personalization.api_schema.document_error_responses",
    ],
    # Several models have a `kind`; name each enum after its model instead of a hash suffix.
    "ENUM_NAME_OVERRIDES": {
        "DestinationKindEnum": "personalization.destinations.models.Destination.Kind",
        "SandboxKindEnum": "accounts.models.Sandbox.Kind",
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.request": {"level": "ERROR"}},
}

# Product settings.
EDGE_ORG_ID = env.str("EDGE_ORG_ID", default="CPCDEMO0000000000000001@AdobeOrg")
# Lookups per second per datastream before 429 (0 turns the limit off).
EDGE_RATE_LIMIT = env.int("EDGE_RATE_LIMIT", default=1500)
# Edge keys each worker process mirrors in memory when the cache is Redis (0 turns the mirror off).
EDGE_LOCAL_CACHE_SIZE = env.int("EDGE_LOCAL_CACHE_SIZE", default=50_000)  # decisions.md, #10: the mirror
# The edge store's own Redis timeouts (seconds): a fault opens its breaker after at most this long, and lookups
# answer from PostgreSQL until a background ping, every EDGE_REDIS_PROBE_INTERVAL, sees Redis again.
EDGE_REDIS_CONNECT_TIMEOUT = env.float("EDGE_REDIS_CONNECT_TIMEOUT", default=0.25)
EDGE_REDIS_TIMEOUT = env.float("EDGE_REDIS_TIMEOUT", default=0.5)
EDGE_REDIS_PROBE_INTERVAL = env.float("EDGE_REDIS_PROBE_INTERVAL", default=0.5)
# The edge store's Redis: by default the cache's (REDIS_URL). EDGE_REDIS_CLUSTER makes EDGE_REDIS_URL a seed node
# of a Redis Cluster (the cache and the Celery broker stay on REDIS_URL: Celery's Redis transport has no Cluster).
EDGE_REDIS_URL = env.str("EDGE_REDIS_URL", default="")
EDGE_REDIS_CLUSTER = env.bool("EDGE_REDIS_CLUSTER", default=False)
if EDGE_REDIS_CLUSTER and not EDGE_REDIS_URL:
    raise ImproperlyConfigured("EDGE_REDIS_CLUSTER=true needs EDGE_REDIS_URL, a seed node of the cluster")
# `/metrics` (Prometheus): scrapers send `Authorization: Bearer <METRICS_TOKEN>`; without a token only superusers
# read it. EDGE_METRICS=0 turns the counting off.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
EDGE_METRICS = env.bool("EDGE_METRICS", default=True)
