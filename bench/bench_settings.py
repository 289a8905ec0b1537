"""Settings of the monitor benchmark's subprocesses: the local settings, plus what its options override.

Its subprocesses always run these; ``--conn-max-age`` and ``--db-pool`` override the database settings,
and the URLs add the naive baseline's page.
"""

import os

from config.settings.local import *  # noqa: F403
from config.settings.local import DATABASES

if "BENCH_CONN_MAX_AGE" in os.environ:
    DATABASES["default"]["CONN_MAX_AGE"] = int(os.environ["BENCH_CONN_MAX_AGE"])
if "BENCH_DB_POOL" in os.environ:
    # psycopg's connection pool (Django ≥ 5.1; needs the psycopg-pool package); excludes persistent connections.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    pool = {"min_size": 2, "max_size": int(os.environ["BENCH_DB_POOL"])}
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = pool

ROOT_URLCONF = "bench_urls"  # the product's URLs, plus the naive baseline's page (bench/naive_monitor.py)
