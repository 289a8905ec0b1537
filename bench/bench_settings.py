"""Settings of the monitor benchmark's subprocesses: the local settings, plus what its options override.

Used only when bench/monitor_load.py is given ``--conn-max-age`` or ``--db-pool``; otherwise its subprocesses
run the project's own settings (config.settings.local) unchanged.
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
