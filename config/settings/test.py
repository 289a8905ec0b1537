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

# Tests use the same Redis as a local `make run` may be using: keep their tasks and groups apart.
CELERY_TASK_DEFAULT_QUEUE = "callback-supervisor-tests"
CHANNEL_LAYERS["default"]["CONFIG"]["prefix"] = "asgi-tests"  # noqa: F405
MONITOR_REDIS_PREFIX = "tests:monitor:"
WHITENOISE_AUTOREFRESH = True
