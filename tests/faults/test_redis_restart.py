"""Redis killed and restarted empty in the middle of a load: the database is the source of truth."""

import time

import pytest

from .conftest import Ingest, recomputed, wait_for
from .streams import check_database, lifecycles

pytestmark = [pytest.mark.slow, pytest.mark.worker]

RESYNC_SECONDS = 5  # issue 7: monitors resynchronise by themselves within 5 s of Redis returning


def test_redis_killed_and_restarted_empty_mid_load(system, monitors, make_business_process):
    """Events keep being applied (201) while Redis is down; afterwards every monitor holds a fresh snapshot within
    5 s and shows what a recompute from the database shows; the database holds every event once.

    Two kinds of monitor, both timed as static/js/monitor.js is: browser-like ones replace their silent socket
    after 20 s, fail to connect while Redis is down (backing off up to the page's maximum) and must come back by
    themselves; a patient one keeps its socket through the outage and must notice by itself (the sequence
    numbers start again in an emptied Redis) once the web process's channel layer is back.
    """
    make_business_process("SALES")
    make_business_process("SUPPORT")
    web = system.web()
    system.worker(pool="solo")
    system.beat()
    browsers = monitors(web, system.cookie, 2)
    patient = monitors(web, system.cookie, 1, stale_after=300)
    clients = browsers + patient
    ingest = Ingest(web, system.token)
    sales, support = lifecycles("SALES", 40), lifecycles("SUPPORT", 40)
    events = [e for pair in zip(sales.events, support.events, strict=True) for e in pair]
    third = len(events) // 3

    for event in events[:third]:
        assert ingest.post(event)[0] == 201
    wait_for(lambda: all(c.view() == recomputed() for c in clients), 15, "monitors up to date before the fault")

    system.redis.kill()
    killed_at = time.monotonic()
    for event in events[third : 2 * third]:
        status, body = ingest.post(event)
        assert status == 201, body  # the ingest API keeps accepting: the database is the source of truth
    wait_for(lambda: all(c.reconnecting_since(killed_at) for c in browsers), 60, "monitors showing reconnecting")
    # Down long enough for the browsers' backoff to reach its maximum.
    time.sleep(2 * browsers[0].BACKOFF_MAX)
    assert all(not c.synced_since(killed_at) for c in clients)  # nobody got a snapshot while Redis was down

    system.redis.start()  # empty: no snapshot, no seq, no queued task, no group membership
    back_at = time.monotonic()
    for event in events[2 * third :]:
        assert ingest.post(event)[0] == 201
    wait_for(lambda: all(c.synced_since(back_at) for c in clients), 30, "every monitor resynchronised")
    took = [round(c.synced_since(back_at) - back_at, 2) for c in clients]
    assert max(took) <= RESYNC_SECONDS, f"resynchronised after {took} s"

    wait_for(lambda: all(c.view() == recomputed() for c in clients), 15, "every monitor equal to a recompute")
    assert system.monitor_snapshot() == recomputed()  # the snapshot Redis lost was rebuilt from the database
    check_database(sales)
    check_database(support)
