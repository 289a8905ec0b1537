"""Settings of the monitor benchmark's subprocesses: the local settings, plus what ``--conn-max-age`` overrides.

Used only when bench/monitor_load.py is given an override; otherwise its subprocesses run the project's own
settings (config.settings.local) unchanged.
"""

import os

from config.settings.local import *  # noqa: F403
from config.settings.local import DATABASES

if "BENCH_CONN_MAX_AGE" in os.environ:
    DATABASES["default"]["CONN_MAX_AGE"] = int(os.environ["BENCH_CONN_MAX_AGE"])
