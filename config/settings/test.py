"""Test settings: the real services (Redis; PostgreSQL when DATABASE_URL says so), fast password hashing."""

import os

from .base import *  # noqa: F403

SECRET_KEY = os.environ.get("SECRET_KEY", "test-only-key")
DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# Tests share Redis with a local `make run` and with any other test run going on: each run keeps its tasks,
# channel-layer groups and monitor state under names of its own.
# Set in the environment, so that servers and workers a test starts as subprocesses use the same names.
_RUN = os.environ.setdefault("CALLBACKS_TEST_RUN", f"tests-{os.getpid()}")
CELERY_TASK_DEFAULT_QUEUE = f"callback-supervisor-{_RUN}"
CHANNEL_LAYERS["default"]["CONFIG"]["prefix"] = f"asgi-{_RUN}"  # noqa: F405
MONITOR_REDIS_PREFIX = f"{_RUN}:monitor:"
WHITENOISE_AUTOREFRESH = True

# SQLite: a file of the run's own rather than the shared-cache memory database, whose table locks fail at once
# ("database table is locked") when a real worker writes while the test reads; a file in WAL mode lets readers go
# on and makes writers wait their turn.
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    os.makedirs(BASE_DIR / ".run", exist_ok=True)  # noqa: F405
    DATABASES["default"]["TEST"] = {"NAME": str(BASE_DIR / ".run" / f"test-db-{_RUN}.sqlite3")}  # noqa: F405

# Security: the API's rate limits are counted under the run's own names, and set far above what any test sends
# (tests/security sets real ones where it proves the 429); the login lockout stays as in production.
API_THROTTLE_REDIS_PREFIX = f"{_RUN}:throttle:"
REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] = {"token": "100000/s", "user": "100000/s", "anon": "100000/s"}  # noqa: F405
