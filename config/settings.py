"""convapi settings: everything production needs comes from environment variables.

With nothing set, convapi runs on SQLite with Celery tasks run eagerly in-process, so a
newcomer needs no other service. README.md lists every variable with its default.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path

import dj_database_url
from kombu import Exchange, Queue

import engine
from convapi.env import env_bool, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent


def env_float(name: str, default: float) -> float:
    """Seconds and other fractional settings (convapi/env.py reads only whole numbers)."""
    value = env_str(name)
    try:
        return float(value) if value else default
    except ValueError:
        raise ValueError(f"{name}={value!r}: use a number") from None


def env_fraction(name: str, default: float) -> float:
    """A confidence threshold: a number from 0 to 1, refused otherwise."""
    value = env_float(name, default)
    if not 0 <= value <= 1:
        raise ValueError(f"{name}={value!r}: use a number from 0 to 1")
    return value


def env_json_object(name: str) -> dict:
    """A JSON object (storage options...); anything else stops the start with the reason."""
    value = env_str(name)
    try:
        parsed = json.loads(value) if value else {}
    except ValueError as exc:
        raise ValueError(f"{name}: not valid JSON ({exc})") from None
    if not isinstance(parsed, dict):
        raise ValueError(f"{name}: use a JSON object")
    return parsed


def env_days(name: str, default: int | None) -> int | None:
    """A retention in whole days, 1 or more; ``None`` (kept forever) only as a default."""
    days = env_int(name, 0) if env_str(name) else default
    if days is not None and days < 1:
        raise ValueError(f"{name}={days!r}: use a whole number of days, 1 or more")
    return days


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
    # First: every line logged while a request is served carries its id (README, Operating it).
    "convapi.request_id.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Static files (the admin's, the API docs') are answered here, before any URL is
    # resolved: under gunicorn nothing else serves them.
    "whitenoise.middleware.WhiteNoiseMiddleware",
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

# A Server-Timing header on every answer: the request's time stage by stage (middleware,
# NLU, lock, dialogue, write, commit, render...), for a browser's devtools and for
# ``bench/turns.py --profile``. Off by default: the header tells clients how long things take.
CONVAPI_SERVER_TIMING = env_bool("CONVAPI_SERVER_TIMING", False)
if CONVAPI_SERVER_TIMING:
    MIDDLEWARE = [
        "convapi.timing.ServerTimingMiddleware",
        *MIDDLEWARE,
        "convapi.timing.ViewTimingMiddleware",
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
# Where conversation locks live (trackers/locks.py): a redis:// URL, or empty for a table
# of the database. A lock expires after its lifetime, so a crashed process never blocks a
# conversation for longer (Rasa's LOCK_LIFETIME, 60 s); appends are fenced regardless.
CONVAPI_LOCK_STORE = env_str("CONVAPI_LOCK_STORE", "")
CONVAPI_LOCK_LIFETIME_SECONDS = env_int("CONVAPI_LOCK_LIFETIME_SECONDS", 60)
if CONVAPI_LOCK_STORE and not CONVAPI_LOCK_STORE.startswith(("redis://", "rediss://", "unix://")):
    raise ValueError(f"CONVAPI_LOCK_STORE={CONVAPI_LOCK_STORE!r}: use a redis:// URL, or nothing")
if CONVAPI_LOCK_LIFETIME_SECONDS < 1:
    raise ValueError("CONVAPI_LOCK_LIFETIME_SECONDS: use a whole number of seconds, 1 or more")
# Conversations whose latest written snapshot each process keeps for their next turn
# (trackers/store.py), so that turn reads it back only if another process wrote since.
CONVAPI_WRITTEN_STATES = env_int("CONVAPI_WRITTEN_STATES", 256)
if CONVAPI_WRITTEN_STATES < 0:
    raise ValueError("CONVAPI_WRITTEN_STATES: use a whole number, 0 (none) or more")

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
        conn_max_age=60,
        # A kept connection is checked before use, so a database restart costs no request.
        conn_health_checks=True,
    )
}
# Behind PgBouncer in transaction-pooling mode a server connection serves another client
# between transactions, so no cursor may outlive one (the only session state convapi uses).
if env_bool("CONVAPI_PGBOUNCER", False):
    DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # BEGIN IMMEDIATE takes the write lock at the start of every transaction, so
    # concurrent appends queue up instead of failing with "database is locked".
    # Write-ahead logging: readers never wait for the writer, and a commit appends to the
    # log without the rollback journal's fsyncs (synchronous=NORMAL: a commit survives a
    # crash of the server process; only a power cut may undo the latest ones, never
    # corrupt the file). A turn commits three times (lock, events, unlock): with the
    # journal's fsyncs each cost more than the whole turn's work.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": CONVAPI_LOCK_TIMEOUT_SECONDS,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL",
    }
    # Connections are kept (CONN_MAX_AGE above) as on PostgreSQL: opening one and running
    # the init command cost 0.5 ms of every request (``bench/turns.py --profile``).
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
# ``manage.py collectstatic`` copies every app's static files here; WhiteNoise serves them.
STATIC_ROOT = Path(env_str("CONVAPI_STATIC_ROOT", str(BASE_DIR / "staticfiles")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Gzipped copies at collectstatic time. Not the hashed-name (manifest) storage: that one
    # fails every page that names a static file until collectstatic has run.
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# Rasa's body size limit is generous; ours is configurable and answered with a 413 naming
# CONVAPI_MAX_BODY_BYTES (convapi/errors.py).
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("CONVAPI_MAX_BODY_BYTES", 1024 * 1024)
# A user's message on the channel routes and /messages: longer is a 400 (0: any length).
CONVAPI_MAX_MESSAGE_CHARS = env_int("CONVAPI_MAX_MESSAGE_CHARS", 10_000)
# The channel routes' rate limit per client address (convapi/throttling.py), e.g. 120/min;
# off when empty, as in Rasa. Behind N proxies set CONVAPI_NUM_PROXIES=N to count the
# address they forward (X-Forwarded-For); with 0 that header is ignored, never trusted.
CONVAPI_CHANNEL_RATE = env_str("CONVAPI_CHANNEL_RATE")
if CONVAPI_CHANNEL_RATE and not re.fullmatch(
    r"[1-9]\d*/(s|sec|min|hour|day)", CONVAPI_CHANNEL_RATE
):
    raise ValueError(
        f"CONVAPI_CHANNEL_RATE={CONVAPI_CHANNEL_RATE!r}: use N/s, N/min, N/hour or N/day"
    )
CONVAPI_NUM_PROXIES = env_int("CONVAPI_NUM_PROXIES", 0)
# The cache all workers and hosts share (the rate limit's counters): Redis with
# CONVAPI_CACHE_URL, else each process's own memory (the limit then holds per process).
CONVAPI_CACHE_URL = env_str("CONVAPI_CACHE_URL")
if CONVAPI_CACHE_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": CONVAPI_CACHE_URL,
            "KEY_PREFIX": "convapi",
            # A cache that hangs must not hold requests: the limiter lets them through.
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
# Training data and test stories posted to /model/* may be larger.
CONVAPI_MAX_TRAINING_BYTES = env_int("CONVAPI_MAX_TRAINING_BYTES", 64 * 1024 * 1024)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_RENDERER_CLASSES": ["convapi.negotiation.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "convapi.negotiation.FirstRendererNegotiation",
    "EXCEPTION_HANDLER": "convapi.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "convapi.schema.JsonAutoSchema",
    # Throttles are set per view (the channel routes'); this is their rate by scope.
    "DEFAULT_THROTTLE_RATES": {"channel": CONVAPI_CHANNEL_RATE or None},
    "NUM_PROXIES": CONVAPI_NUM_PROXIES,
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
# GET /metrics also opens to ``Authorization: Bearer <this>``: a scraper needs no API access.
CONVAPI_METRICS_TOKEN = env_str("CONVAPI_METRICS_TOKEN")

# The model to serve at start-up: an archive, or a folder whose newest archive is loaded.
CONVAPI_MODEL = env_str("CONVAPI_MODEL", str(BASE_DIR / "models"))
CONVAPI_ENDPOINTS = env_str("CONVAPI_ENDPOINTS")
# The input channels (Rasa's credentials.yml): the project's own file unless one is named.
CONVAPI_CREDENTIALS = env_str("CONVAPI_CREDENTIALS", str(BASE_DIR / "credentials.yml"))
# The "try the bot" page at /chat/ (convapi/views/chat.py): "staff" (behind the admin's
# login), "public" (anyone who reaches the server) or "off" (404).
CONVAPI_CHAT_PAGE = env_str("CONVAPI_CHAT_PAGE", "staff") or "staff"
if CONVAPI_CHAT_PAGE not in ("staff", "public", "off"):
    raise ValueError(f"CONVAPI_CHAT_PAGE={CONVAPI_CHAT_PAGE!r}: use staff, public or off")
# The reviewer's transcript highlights intent and action confidences below these.
CONVAPI_REVIEW_INTENT_THRESHOLD = env_fraction("CONVAPI_REVIEW_INTENT_THRESHOLD", 0.5)
CONVAPI_REVIEW_ACTION_THRESHOLD = env_fraction("CONVAPI_REVIEW_ACTION_THRESHOLD", 0.5)
# Model archives live in a store every host reads (serving/archives.py): the database when
# empty, else the STORAGES entry named here. CONVAPI_MODEL_STORAGE_BACKEND (a class path) and
# CONVAPI_MODEL_STORAGE_OPTIONS (a JSON object) define that entry from the environment.
CONVAPI_MODEL_STORAGE = env_str("CONVAPI_MODEL_STORAGE")
if env_str("CONVAPI_MODEL_STORAGE_BACKEND"):
    if not CONVAPI_MODEL_STORAGE:
        raise ValueError("CONVAPI_MODEL_STORAGE_BACKEND needs CONVAPI_MODEL_STORAGE (its name)")
    STORAGES[CONVAPI_MODEL_STORAGE] = {
        "BACKEND": env_str("CONVAPI_MODEL_STORAGE_BACKEND"),
        "OPTIONS": env_json_object("CONVAPI_MODEL_STORAGE_OPTIONS"),
    }
# Each process keeps the archives it loads here, checked against their hash (per user).
CONVAPI_MODEL_CACHE = env_str(
    "CONVAPI_MODEL_CACHE", str(Path(tempfile.gettempdir()) / f"convapi-model-cache-{os.getuid()}")
)

# Idempotency-Key: how long a key is remembered, how long a retry waits for the first call.
CONVAPI_IDEMPOTENCY_TTL_SECONDS = env_int("CONVAPI_IDEMPOTENCY_TTL_SECONDS", 24 * 3600)
CONVAPI_IDEMPOTENCY_WAIT_SECONDS = env_int("CONVAPI_IDEMPOTENCY_WAIT_SECONDS", 10)

CORS_ALLOW_CREDENTIALS = True
CORS_EXPOSE_HEADERS = ["filename"]
# The origins browsers may call the API from (django-cors-headers) and open socket.io from.
CONVAPI_CORS_ORIGINS = env_list("CONVAPI_CORS_ORIGINS")
CORS_ALLOW_ALL_ORIGINS = "*" in CONVAPI_CORS_ORIGINS
CORS_ALLOWED_ORIGINS = [origin for origin in CONVAPI_CORS_ORIGINS if origin != "*"]
# The socket.io channel's message queue (convapi/socketio_channel.py): with a redis:// URL an
# emit from any process (a worker, a Celery task) reaches a socket wherever it is connected;
# without it, only sockets of the emitting process are reached (one process only).
CONVAPI_SOCKETIO_REDIS_URL = env_str("CONVAPI_SOCKETIO_REDIS_URL")
if CONVAPI_SOCKETIO_REDIS_URL and not CONVAPI_SOCKETIO_REDIS_URL.startswith(
    ("redis://", "rediss://", "unix://")
):
    raise ValueError(
        f"CONVAPI_SOCKETIO_REDIS_URL={CONVAPI_SOCKETIO_REDIS_URL!r}: use a redis:// URL, or nothing"
    )

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
# After it lost the broker connection a worker takes its full share of tasks at once
# (Celery would start again at one and add one per finished task: with jobs as long as
# trainings, a free slot could stay idle for as long as a training runs).
CELERY_WORKER_ENABLE_PREFETCH_COUNT_REDUCTION = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Two queues, so a due reminder never waits behind a training: "training" takes the long
# work (trainings, tests, retention), "realtime" the rest (reminders, callbacks, model-server
# pulls, the reaper). A worker started without -Q consumes both; README (Jobs) runs one
# worker per queue.
QUEUES = ("realtime", "training")
# Each queue its own exchange and routing key: queues left to share the default ones would
# each receive every message sent to either.
CELERY_TASK_QUEUES = [Queue(name, Exchange(name), routing_key=name) for name in QUEUES]
CELERY_TASK_DEFAULT_QUEUE = "realtime"
CELERY_TASK_ROUTES = {
    "jobs.tasks.run_job": {"queue": "training"},
    "convapi.tasks.prune": {"queue": "training"},
}
# A worker process grown past this many MB is replaced once its task ends, so a training's
# peak is not kept for the worker's lifetime (Celery counts KiB; 0: never replaced).
CONVAPI_WORKER_MAX_MEMORY_MB = env_int("CONVAPI_WORKER_MAX_MEMORY_MB", 1024)
if CONVAPI_WORKER_MAX_MEMORY_MB < 0:
    raise ValueError("CONVAPI_WORKER_MAX_MEMORY_MB: use a whole number of MB, or 0 for no limit")
CELERY_WORKER_MAX_MEMORY_PER_CHILD = CONVAPI_WORKER_MAX_MEMORY_MB * 1024 or None
# Training and tests: soft limit (the job fails with a reason), then the hard kill.
CONVAPI_JOB_TIME_LIMIT = env_int("CONVAPI_JOB_TIME_LIMIT", 3 * 3600)
# Every job's work runs in a child process (jobs/limits.py) that may allocate this many MB
# beyond what its process held, and use this much CPU time; past either it is stopped and
# the job fails naming the setting. They hold in the eager mode too (no Celery limits there).
CONVAPI_JOB_MEMORY_MB = env_int("CONVAPI_JOB_MEMORY_MB", 4096)
CONVAPI_JOB_CPU_SECONDS = env_int("CONVAPI_JOB_CPU_SECONDS", CONVAPI_JOB_TIME_LIMIT)
if CONVAPI_JOB_MEMORY_MB < 1 or CONVAPI_JOB_CPU_SECONDS < 1:
    raise ValueError("CONVAPI_JOB_MEMORY_MB, CONVAPI_JOB_CPU_SECONDS: use whole numbers, 1 or more")
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
# Periodic tasks (Celery beat): the stale-job reaper, overdue reminders, model server pulls.
CONVAPI_BEAT_SECONDS = env_float("CONVAPI_BEAT_SECONDS", 10.0)
CONVAPI_PRUNE_SECONDS = env_float("CONVAPI_PRUNE_SECONDS", 3600.0)
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
    # Retention (convapi/retention.py): hourly by default, so each run has little to do.
    "prune": {"task": "convapi.tasks.prune", "schedule": CONVAPI_PRUNE_SECONDS},
}

# Retention (``manage.py prune`` and its periodic task): finished jobs with their callback
# attempts, and finished reminders, after JOB days; login attempts and logs (django-axes)
# after LOGIN days; conversations with no activity for CONVAPI_CONVERSATION_RETENTION_DAYS,
# erased as a GDPR request would be, only when it is set.
CONVAPI_JOB_RETENTION_DAYS = env_days("CONVAPI_JOB_RETENTION_DAYS", 30)
CONVAPI_LOGIN_RETENTION_DAYS = env_days("CONVAPI_LOGIN_RETENTION_DAYS", 30)
CONVAPI_CONVERSATION_RETENTION_DAYS = env_days("CONVAPI_CONVERSATION_RETENTION_DAYS", None)
if CONVAPI_LOGIN_RETENTION_DAYS * 24 < AXES_COOLOFF_TIME:
    # Pruning the attempts of a lockout still in force would lift it.
    raise ValueError("CONVAPI_LOGIN_RETENTION_DAYS: keep login attempts longer than a lockout")

# Every line names its request and conversation (jobs/log_context.py); "json" writes one
# JSON object per line for a log collector. Celery's workers use the same (config/celery.py).
CONVAPI_LOG_FORMAT = env_str("CONVAPI_LOG_FORMAT", "plain")
if CONVAPI_LOG_FORMAT not in ("plain", "json"):
    raise ValueError(f"CONVAPI_LOG_FORMAT={CONVAPI_LOG_FORMAT!r}: use plain or json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"log_context": {"()": "jobs.log_context.LogContextFilter"}},
    "formatters": {
        "convapi": {
            "()": "jobs.log_context.log_formatter",
            "json_lines": CONVAPI_LOG_FORMAT == "json",
        }
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "convapi",
            "filters": ["log_context"],
        }
    },
    "root": {"handlers": ["console"], "level": env_str("CONVAPI_LOG_LEVEL", "INFO")},
    "loggers": {"django.request": {"level": "ERROR"}},
}
