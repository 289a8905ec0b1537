"""The entry points of the web and worker processes."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_the_entry_point_freezes_what_it_built_views_included():
    """What a web process builds at start lives as long as it does: kept off the garbage collector's full passes,
    which otherwise walk it every few seconds under load, stalling every request and WebSocket of the process."""
    probe = (
        "import gc, sys; import config.asgi; "
        "print(gc.get_freeze_count(), 'monitoring.views' in sys.modules, 'callbacks.api.views' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True).stdout

    frozen, monitoring_views, api_views = out.split()[-3:]
    assert int(frozen) > 50_000
    assert monitoring_views == api_views == "True", "the views are imported before the freeze, not at a first request"


@pytest.mark.parametrize("signal", ["worker_init", "worker_process_init"])
def test_each_worker_process_freezes_what_it_was_given_at_start(signal):
    """The worker's main process (worker_init) and each process of its pool (worker_process_init)."""
    probe = (
        "import gc; import django; django.setup(); from celery import signals; import config.celery; "
        f"gc.unfreeze(); signals.{signal}.send(sender=None); print(gc.get_freeze_count())"
    )
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True).stdout

    assert int(out.split()[-1]) > 50_000
