"""One-command local run: SQLite, a private Redis, debug on unless told otherwise."""

import os

from .base import *  # noqa: F403
from .base import env_bool

DEBUG = env_bool("DEBUG", True)
SECRET_KEY = os.environ.get("SECRET_KEY", "local-only-insecure-key-do-not-use-in-production")
