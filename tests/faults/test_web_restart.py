"""The web process restarted twice under load: nothing lost, monitors reconnect by themselves.

uvicorn is killed once (SIGKILL) and stopped gracefully once (SIGTERM). daphne is killed twice: a daphne stopped
with SIGTERM while a request is in flight never exits (daphne 4.2.3: its event loop stops while a request's
thread still waits on it, and the interpreter waits for that thread), so a process manager must SIGKILL it.
"""

import signal
import threading
import time

import pytest

from .conftest import Ingest, recomputed, wait_for
from .streams import check_database, lifecycles

pytestmark = [pytest.mark.slow, pytest.mark.worker]

# The platform's pace, 50 events/s at most: the drive goes on through both restarts however fast the machine
# (back to back, a fast one posted two thirds of the events while the monitors reconnected after the first).
PACE_SECONDS = 0.02


@pytest.mark.parametrize(
    "server, signals",
    [("uvicorn", (signal.SIGKILL, signal.SIGTERM)), ("daphne", (signal.SIGKILL, signal.SIGKILL))],
    ids=["uvicorn", "daphne"],
)
def test_web_process_restarted_under_load(server, signals, system, monitors, make_business_process):
    """The platform posts its events one after the other, and posts an event again (same event_id) when the
    server did not answer: an event in flight when the process died is applied once, whether its first copy got
    through (the second is a duplicate) or not. The monitors reconnect by themselves to the new process."""
    make_business_process("SALES")
    web = system.web(server=server)
    system.worker(pool="solo")
    clients = monitors(web, system.cookie, 2)
    stream = lifecycles("SALES", 60)
    ingest = Ingest(web, system.token)
    posted = []

    def platform():
        for event in stream.events:
            posted.append(ingest.post(event, retry_for=60, timeout=5))
            time.sleep(PACE_SECONDS)

    sender = threading.Thread(target=platform, daemon=True)
    sender.start()
    for sig, share in zip(signals, (1, 2), strict=True):
        kill_at = len(stream.events) * share // 3
        wait_for(lambda: len(posted) >= kill_at, 60, f"{share} third(s) of the events posted")  # noqa: B023
        assert len(posted) < len(stream.events), "the platform must still be posting when the process goes down"
        down_at = time.monotonic()
        web.kill(sig)
        wait_for(lambda: all(c.reconnecting_since(down_at) for c in clients), 30, "monitors reconnecting")  # noqa: B023
        time.sleep(0.5)  # a restart takes a moment: events keep being retried meanwhile
        web.start()  # same port, as behind a load balancer
        back = "monitors back with a fresh snapshot"
        wait_for(lambda: all(c.synced_since(down_at) for c in clients), 30, back)  # noqa: B023
    sender.join(120)
    assert not sender.is_alive()

    assert all(status in (200, 201) for status, _ in posted), [p for p in posted if p[0] not in (200, 201)]
    check_database(stream)
    wait_for(lambda: all(c.view() == recomputed() for c in clients), 30, "monitors equal to a recompute")
    assert system.monitor_snapshot() == recomputed()
