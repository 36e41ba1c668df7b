"""convapi settings: everything production needs comes from environment variables.

With nothing set, convapi runs on SQLite with Celery tasks run eagerly in-process, so a
newcomer needs no other service. README.md lists every variable with its default.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import dj_database_url

import engine
from config.env import env_bool, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent


def env_float(name: str, default: float) -> float:
    """Seconds and other fractional settings (config/env.py reads only whole numbers)."""
    value = env_str(name)
    try:
        return float(value) if value else default
    except ValueError:
        raise ValueError(f"{name}={value!r}: use a number") from None


SECRET_KEY = env_str("DJANGO_SECRET_KEY", "dev-only-insecure-secret-key-change-me-in-production!!")
DEBUG = env_bool("DJANGO_DEBUG", False)
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "*")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "corsheaders",
    "axes",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "jobs",
    "serving",
    "trackers",
    "convapi",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "convapi.idempotency.IdempotencyMiddleware",
    # Last, as django-axes asks: it locks out repeated failed logins.
    "axes.middleware.AxesMiddleware",
]

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Admin (and /auth/token) logins: locked for a while after repeated failures.
AXES_FAILURE_LIMIT = env_int("CONVAPI_LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = env_int("CONVAPI_LOGIN_COOLOFF_MINUTES", 15) / 60  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False
AXES_LOCKOUT_CALLABLE = "convapi.errors.lockout_response"

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"
# API routes never redirect to add a slash: Rasa clients call them exactly as written.
APPEND_SLASH = False

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
            ],
        },
    },
]

# How long a turn waits for another turn on the same conversation before a 409.
CONVAPI_LOCK_TIMEOUT_SECONDS = env_int("CONVAPI_LOCK_TIMEOUT_SECONDS", 20)

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
        conn_max_age=60,
        # A kept connection is checked before use, so a database restart costs no request.
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # BEGIN IMMEDIATE takes the write lock at the start of every transaction, so
    # concurrent appends queue up instead of failing with "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": CONVAPI_LOCK_TIMEOUT_SECONDS,
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    # A file (not :memory:) so threads and live-server tests share it; one per process so
    # concurrent test runs on one machine never share it.
    DATABASES["default"]["TEST"] = {
        "NAME": str(Path(tempfile.gettempdir()) / f"convapi-test-{os.getpid()}.sqlite3")
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Security headers. Behind a TLS-terminating proxy set DJANGO_SECURE_HTTPS=true: HTTPS
# redirects, secure cookies and HSTS (``manage.py check --deploy`` is then clean).
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
if env_bool("DJANGO_SECURE_HTTPS", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("DJANGO_HSTS_SECONDS", 31_536_000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"

# Rasa's body size limit is generous; ours is configurable and answered with a 400.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("CONVAPI_MAX_BODY_BYTES", 1024 * 1024)
# Training data and test stories posted to /model/* may be larger.
CONVAPI_MAX_TRAINING_BYTES = env_int("CONVAPI_MAX_TRAINING_BYTES", 64 * 1024 * 1024)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "convapi.negotiation.FirstRendererNegotiation",
    "EXCEPTION_HANDLER": "convapi.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "convapi.schema.JsonAutoSchema",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "convapi",
    "DESCRIPTION": "The Rasa HTTP API, served by Django, plus convapi's jobs, health and tokens.",
    "VERSION": engine.__version__,
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}
SIMPLE_JWT = {"USER_ID_CLAIM": "user_id", "UPDATE_LAST_LOGIN": False}

# Rasa-compatible auth (API.md section 3).
CONVAPI_AUTH_TOKEN = env_str("CONVAPI_AUTH_TOKEN")
CONVAPI_JWT_SECRET = env_str("CONVAPI_JWT_SECRET")
CONVAPI_JWT_METHOD = env_str("CONVAPI_JWT_METHOD", "HS256")
CONVAPI_JWT_PRIVATE_KEY = env_str("CONVAPI_JWT_PRIVATE_KEY")
CONVAPI_JWT_AUDIENCE = env_str("CONVAPI_JWT_AUDIENCE")

# The model to serve at start-up: an archive, or a folder whose newest archive is loaded.
CONVAPI_MODEL = env_str("CONVAPI_MODEL", str(BASE_DIR / "models"))
CONVAPI_ENDPOINTS = env_str("CONVAPI_ENDPOINTS")

# Idempotency-Key: how long a key is remembered, how long a retry waits for the first call.
CONVAPI_IDEMPOTENCY_TTL_SECONDS = env_int("CONVAPI_IDEMPOTENCY_TTL_SECONDS", 24 * 3600)
CONVAPI_IDEMPOTENCY_WAIT_SECONDS = env_int("CONVAPI_IDEMPOTENCY_WAIT_SECONDS", 10)

CORS_ALLOW_CREDENTIALS = True
CORS_EXPOSE_HEADERS = ["filename"]
_cors_origins = env_list("CONVAPI_CORS_ORIGINS")
CORS_ALLOW_ALL_ORIGINS = "*" in _cors_origins
CORS_ALLOWED_ORIGINS = [origin for origin in _cors_origins if origin != "*"]

CELERY_BROKER_URL = env_str("CELERY_BROKER_URL")
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
# No broker: run tasks in-process so the SQLite quick start needs nothing else.
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
# A task's message is acknowledged only when it finished, and a worker that dies
# hands it back: work is never lost, so every task checks its row's state first.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Training and tests: soft limit (the job fails with a reason), then the hard kill.
CONVAPI_JOB_TIME_LIMIT = env_int("CONVAPI_JOB_TIME_LIMIT", 3 * 3600)
# Redis hands an unacknowledged message to another worker after this long: it must
# outlast the longest training, or a running job would be started a second time.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": CONVAPI_JOB_TIME_LIMIT + 3600}
# A running job refreshes its heartbeat this often; one silent for STALE seconds lost
# its worker and is re-run (at most MAX_RUNS runs in all) or failed with the reason.
CONVAPI_JOB_HEARTBEAT_SECONDS = env_float("CONVAPI_JOB_HEARTBEAT_SECONDS", 10.0)
CONVAPI_JOB_STALE_SECONDS = env_float("CONVAPI_JOB_STALE_SECONDS", 60.0)
CONVAPI_JOB_MAX_RUNS = env_int("CONVAPI_JOB_MAX_RUNS", 2)
# How long a request without callback_url or ?async=true waits for its job (Rasa: 3600 s).
CONVAPI_JOB_WAIT_SECONDS = env_float("CONVAPI_JOB_WAIT_SECONDS", 3600.0)
# Callbacks: per-attempt timeout, attempts in all, first backoff (doubled each time).
CONVAPI_CALLBACK_TIMEOUT = env_float("CONVAPI_CALLBACK_TIMEOUT", 30.0)
CONVAPI_CALLBACK_ATTEMPTS = env_int("CONVAPI_CALLBACK_ATTEMPTS", 6)
CONVAPI_CALLBACK_BACKOFF = env_float("CONVAPI_CALLBACK_BACKOFF", 5.0)
# Every process re-reads the chosen model's version at most this often.
CONVAPI_MODEL_CHECK_SECONDS = env_float("CONVAPI_MODEL_CHECK_SECONDS", 1.0)
# Periodic tasks (Celery beat): the stale-job reaper, overdue reminders, model server pulls.
CONVAPI_BEAT_SECONDS = env_float("CONVAPI_BEAT_SECONDS", 10.0)
CELERY_BEAT_SCHEDULE = {
    "reap-stale-jobs": {"task": "jobs.tasks.reap_stale_jobs", "schedule": CONVAPI_BEAT_SECONDS},
    "fire-due-reminders": {
        "task": "trackers.tasks.fire_due_reminders",
        "schedule": CONVAPI_BEAT_SECONDS,
    },
    "pull-model-server": {
        "task": "serving.tasks.pull_model_server",
        "schedule": CONVAPI_BEAT_SECONDS,
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("CONVAPI_LOG_LEVEL", "INFO")},
    "loggers": {"django.request": {"level": "ERROR"}},
}
