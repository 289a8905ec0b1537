"""The web processes' entry point."""

import subprocess
import sys
from pathlib import Path

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
