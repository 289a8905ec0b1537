"""Settings shared by every environment. Everything that differs between machines comes from the environment."""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from csp.constants import NONE, SELF

BASE_DIR = Path(__file__).resolve().parent.parent.parent


def env_bool(name: str, default: bool) -> bool:
    return os.environ.get(name, str(default)).strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


SECRET_KEY = os.environ.get("SECRET_KEY", "")
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

DJANGO_APPS = [
    "daphne",
    "config.admin.CallbackSupervisorAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
]
THIRD_PARTY_APPS = [
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_filters",
    "django_tables2",
    "channels",
    "csp",
    "axes",
]
LOCAL_APPS = [
    "callbacks",
    "monitoring",
]
INSTALLED_APPS = DJANGO_APPS + THIRD_PARTY_APPS + LOCAL_APPS

MIDDLEWARE = [
    "config.middleware.RejectNulInPathMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into the login page with its message.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
ASGI_APPLICATION = "config.asgi.application"
WSGI_APPLICATION = None

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

# SQLite is the embedded default; DATABASE_URL (PostgreSQL in production and CI) replaces it. Connections are
# not kept per thread: under ASGI each request runs in a thread of its own, where a kept connection leaks.
# PostgreSQL connections come from a pool per process instead (DATABASE_POOL_MAX_SIZE, 0 = none): opening one
# per request costs the server more CPU (a new backend process) than the request itself.
DATABASES = {
    "default": dj_database_url.config(
        env="DATABASE_URL",
        default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=int(os.environ.get("CONN_MAX_AGE", 0)),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # IMMEDIATE takes the write lock at BEGIN, so two writers queue instead of failing on a lock upgrade;
    # WAL lets readers (the monitor) go on while a writer commits.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
DATABASE_POOL_MAX_SIZE = int(os.environ.get("DATABASE_POOL_MAX_SIZE", 10))
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and DATABASE_POOL_MAX_SIZE:
    DATABASES["default"]["CONN_MAX_AGE"] = 0  # the pool keeps the connections
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": 1,
        "max_size": DATABASE_POOL_MAX_SIZE,
        "timeout": 10,  # seconds a request waits for a free connection before it fails
        "max_idle": 300,
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6390/0")

# The live monitor's derived state (last pushed snapshot, coalescing marks) lives in Redis under this prefix.
MONITOR_REDIS_PREFIX = "monitor:"
# A check for business processes that came or went, with a heartbeat, this often (schedule openings and closings
# and new shifts are the timers' to record and announce, every second)…
MONITOR_TIME_CHECK_SECONDS = 2.0
# …and every business process is recomputed this often, to mend what a lost event missed: a share of them at a
# time, spread over the period (monitoring.live.recompute_share).
MONITOR_SAFETY_NET_SECONDS = 60.0
MONITOR_SAFETY_NET_SHARES = 10

# Retention (seed 004): callbacks go this many days after their desired time or completion, whichever is
# later; audit entries are kept longer. At least 2 days: the monitor counts what ended during the shift.
CALLBACK_RETENTION_DAYS = int(os.environ.get("CALLBACK_RETENTION_DAYS", 14))
AUDIT_RETENTION_DAYS = int(os.environ.get("AUDIT_RETENTION_DAYS", 400))

# Report downloads (issue 6): up to this many callbacks stream straight to the browser; more are written to a
# file in REPORT_EXPORT_DIR by a Celery task (with a progress bar), served only to the user who asked, for a day.
REPORT_DIRECT_DOWNLOAD_MAX = int(os.environ.get("REPORT_DIRECT_DOWNLOAD_MAX", 50_000))
REPORT_EXPORT_DIR = Path(os.environ.get("REPORT_EXPORT_DIR", BASE_DIR / ".run" / "exports"))
REPORT_EXPORT_KEEP_HOURS = 24
# The summary report sums pre-aggregated hours (monitoring.reports.summary_hours): the beat rewrites the closed
# hours of the last SUMMARY_RECOMPUTE_HOURS this often, so a late event within them shows at the next refresh.
SUMMARY_REFRESH_SECONDS = float(os.environ.get("SUMMARY_REFRESH_SECONDS", 600))
SUMMARY_RECOMPUTE_HOURS = int(os.environ.get("SUMMARY_RECOMPUTE_HOURS", 24))

CELERY_BROKER_URL = REDIS_URL
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE = {
    # Every timer (no-answer, recall release, desired time, schedule open/close) lives in the database;
    # this tick applies whatever is due, so a lost or repeated tick never loses or doubles a timer.
    "apply-due-timers": {
        "task": "callbacks.tasks.apply_due_timers",
        "schedule": 1.0,
        "options": {"expires": 5},
    },
    "apply-retention": {
        "task": "callbacks.tasks.apply_retention",
        "schedule": 3600.0,
        "options": {"expires": 600},
    },
    "refresh-monitor": {
        "task": "monitoring.tasks.refresh_monitor",
        "schedule": MONITOR_TIME_CHECK_SECONDS,
        "options": {"expires": 5},
    },
    "recompute-monitor-share": {
        "task": "monitoring.tasks.recompute_monitor_share",
        "schedule": MONITOR_SAFETY_NET_SECONDS / MONITOR_SAFETY_NET_SHARES,
        "options": {"expires": 5},
    },
    "delete-old-report-exports": {
        "task": "monitoring.tasks.delete_old_report_exports",
        "schedule": 3600.0,
        "options": {"expires": 600},
    },
    "refresh-summary-hours": {
        "task": "monitoring.tasks.refresh_summary_hours",
        "schedule": SUMMARY_REFRESH_SECONDS,
        "options": {"expires": 300},
    },
    "refresh-agent-hours": {
        "task": "monitoring.tasks.refresh_agent_hours",
        "schedule": SUMMARY_REFRESH_SECONDS,
        "options": {"expires": 300},
    },
}

# Redis pub/sub: a push to a group is published once and each web process hands it to its own consumers,
# instead of one copy queued in Redis per open monitor. Delivery is at most once; a monitor that misses a
# message sees the gap in the sequence numbers and asks for a snapshot.
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
        "CONFIG": {"hosts": [REDIS_URL]},
    }
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["callbacks.api.authentication.ApiTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Callback Supervisor ingest API",
    "DESCRIPTION": "Events from the telephony platform and agent desktops, and read access to callbacks.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    # Swagger UI's files come from the app itself, not from a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    # A callback's state and the callback actions' expected_state share one enum in the schema.
    "ENUM_NAME_OVERRIDES": {"CallbackStateEnum": "callbacks.choices.CallbackState"},
}

# Phone numbers typed without a country code are read in this region.
PHONE_DEFAULT_REGION = os.environ.get("PHONE_DEFAULT_REGION", "US")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
}

# Health (/healthz, monitoring/health.py). Beat sends the heartbeat task this often; the worker that runs it
# records the time, and so does beat when it sends it. A time older than its max age answers 503.
HEALTH_HEARTBEAT_SECONDS = float(os.environ.get("HEALTH_HEARTBEAT_SECONDS", 5))
HEALTH_WORKER_MAX_AGE_SECONDS = float(os.environ.get("HEALTH_WORKER_MAX_AGE_SECONDS", 30))
HEALTH_BEAT_MAX_AGE_SECONDS = float(os.environ.get("HEALTH_BEAT_MAX_AGE_SECONDS", 30))
CELERY_BEAT_SCHEDULE["heartbeat"] = {
    "task": "monitoring.tasks.heartbeat",
    "schedule": HEALTH_HEARTBEAT_SECONDS,
    "options": {"expires": HEALTH_HEARTBEAT_SECONDS},  # a late heartbeat says nothing about now
}
# Load balancers probe the backends over plain HTTP: /healthz answers there instead of redirecting to HTTPS.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]


# Security
# ========
# Behind this many reverse proxies the client's address is the last-but-N of X-Forwarded-For (0: none, the peer's
# address is the client's). Login lockout and the API's per-address limit count by that address; trusting the
# header without a proxy to set it would let anyone pick a new address for every try.
TRUSTED_PROXY_COUNT = int(os.environ.get("TRUSTED_PROXY_COUNT", 0))

# Content Security Policy (django-csp): scripts, styles and sockets from this site only; nothing inline, nothing
# framed. 'self' also allows this host's ws:/wss: (CSP level 3), the live pages' WebSocket.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],  # data: for the icons inside Swagger UI's stylesheet
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

# Login lockout (django-axes): AXES_FAILURE_LIMIT wrong passwords for one username from one address lock that
# pair out for AXES_COOLOFF_MINUTES; a success before that forgets the failures. Each failure and lockout is kept
# in the database (Django admin → Axes, for superusers) and logged. The login page then says so, with status 429.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = int(os.environ.get("AXES_FAILURE_LIMIT", 5))
AXES_COOLOFF_TIME = timedelta(minutes=float(os.environ.get("AXES_COOLOFF_MINUTES", 15)))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "config.lockout.lockout_response"
AXES_CLIENT_IP_CALLABLE = "config.lockout.client_address"  # as DRF's throttles read it (TRUSTED_PROXY_COUNT)

# API rate limits (DRF throttling, callbacks/api/throttling.py), counted in Redis so that every web process
# shares them, answering 429 with Retry-After. Per integration token: sized for the ingest load of DESIGN.md,
# 200 events/s from one token as single events (an array of up to 1,000 events is one request), with room for
# bursts. Per logged-in user for the supervisors' actions and reads; per address for anonymous calls.
REST_FRAMEWORK["DEFAULT_THROTTLE_CLASSES"] = [
    "callbacks.api.throttling.TokenRateThrottle",
    "callbacks.api.throttling.UserRateThrottle",
    "callbacks.api.throttling.AnonymousRateThrottle",
]
REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] = {
    "token": os.environ.get("API_RATE_TOKEN", "1000/s"),
    "user": os.environ.get("API_RATE_USER", "600/min"),
    "anon": os.environ.get("API_RATE_ANON", "120/min"),
}
REST_FRAMEWORK["NUM_PROXIES"] = TRUSTED_PROXY_COUNT
# Counted in Redis under this prefix; when Redis is slow or gone, requests go through (see throttling.py).
API_THROTTLE_REDIS_PREFIX = "throttle:"
# The schema says that every operation may answer 429.
SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"] = [
    "drf_spectacular.hooks.postprocess_schema_enums",
    "callbacks.api.throttling.document_rate_limits",
]
