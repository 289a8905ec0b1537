"""More than one machine: 2 web processes and 2 Celery workers (+ beat), from the production Procfile, against one
database and one Redis. Events posted to both web processes; the recompute and timer tasks run on both workers;
every monitor, whichever web process it is connected to, receives every change: the same pushes, numbered
without a gap, ending on what a fresh recompute from the database says.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
import urllib.error
import urllib.request
from datetime import timedelta

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone
from websockets.asyncio.client import connect

from callbacks.choices import CallbackState, EndState
from callbacks.models import ApiToken, Callback
from config.celery import app as celery_app
from monitoring.columns import compute_rows
from tests.conftest import event

pytestmark = [pytest.mark.slow, pytest.mark.worker]

MONITORS_PER_WEB = 2
CALLBACKS = 16  # four of each scenario below
WAIT = 30  # seconds; a safety net only
SHARED_TASKS = ("monitoring.tasks.recompute_dirty", "callbacks.tasks.apply_due_timers", "monitoring.tasks.heartbeat")


class Monitors:
    """WebSocket monitors on /ws/monitor/ (a supervisor's session), each keeping every message it receives.

    Their asyncio loop runs in a thread of its own, so the test goes on in plain synchronous code (the ORM).
    """

    def __init__(self, ports: list[int], session_key: str):
        self.ports, self.session_key = ports, session_key
        self.received: list[list[dict]] = [[] for _ in ports]
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="monitors", daemon=True)
        self.sockets: list = []
        self.readers: list[asyncio.Task] = []

    def __enter__(self) -> Monitors:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self._connect(), self.loop).result(WAIT)
        return self

    def __exit__(self, *exc) -> None:
        asyncio.run_coroutine_threadsafe(self._close(), self.loop).result(WAIT)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(WAIT)
        self.loop.close()

    async def _connect(self) -> None:
        for index, port in enumerate(self.ports):
            socket = await connect(
                f"ws://127.0.0.1:{port}/ws/monitor/",
                origin=f"http://127.0.0.1:{port}",
                additional_headers={"Cookie": f"sessionid={self.session_key}"},
                proxy=None,
            )
            self.sockets.append(socket)
            self.readers.append(asyncio.create_task(self._read(socket, self.received[index])))

    async def _read(self, socket, into: list[dict]) -> None:
        async for frame in socket:
            into.append(json.loads(frame))

    async def _close(self) -> None:
        for socket in self.sockets:
            await socket.close()
        await asyncio.gather(*self.readers, return_exceptions=True)


class View:
    """What one monitor shows after its messages, folded as static/js/monitor.js does; a gap is recorded
    where the page would ask for a resync."""

    def __init__(self, messages: list[dict]):
        assert messages and messages[0]["type"] == "snapshot", messages[:1]
        self.snapshot_seq = self.seq = messages[0]["seq"]
        self.rows = {row["code"]: row for row in messages[0]["rows"]}
        self.totals = messages[0]["totals"]
        self.pushes: list[int] = []
        self.gaps: list[tuple[int, int]] = []
        self.heartbeats_out_of_line = 0  # where the page would ask for a snapshot again, needlessly or not
        for message in messages[1:]:
            assert message["type"] in ("rows", "heartbeat"), message
            if message["type"] == "heartbeat":
                self.heartbeats_out_of_line += message["seq"] != self.seq
                continue
            if message["seq"] == self.seq:  # the snapshot had that one
                continue
            if message["seq"] != self.seq + 1:
                self.gaps.append((self.seq, message["seq"]))
            self.seq = message["seq"]
            self.pushes.append(message["seq"])
            self.rows.update({row["code"]: row for row in message["rows"]})
            for code in message["removed"]:
                self.rows.pop(code, None)
            self.totals = message["totals"]

    def shows(self) -> tuple[dict, dict]:
        return self.rows, self.totals


def recomputed() -> tuple[dict, dict]:
    """The monitor as a fresh recompute from the database says it."""
    monitor = compute_rows()
    return {row.code: row.as_message() for row in monitor.rows}, monitor.totals.as_message()


def post(port: int, token: str, body: dict) -> int:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/v1/events/",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Token {token}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        raise AssertionError(f"{body['type']} refused: {error.code} {error.read()[:300]!r}") from error


def scenario(n: int, business_process: str) -> tuple[list[dict], tuple[str, str | None]]:
    """The events of callback n, and the (state, end state) it must end in once every timer is applied."""
    callback = f"multi-{n}"
    requested = {"business_process": business_process, "phone": f"+1212555{n:04d}"}
    agent = f"agent-{n}"
    dialed = [
        event("attempt.offered", callback, agent=agent),
        event("attempt.accepted", callback, agent=agent),
        event("attempt.connected", callback, agent=agent, answered_by="person"),
    ]
    match n % 4:
        case 0:  # reached: Proc + 1
            events = [
                event("callback.requested", callback, **requested),
                *dialed,
                event("attempt.completed", callback, agent=agent, status="handled"),
                event("attempt.wrapup_completed", callback, agent=agent),
            ]
            return events, (CallbackState.COMPLETED, EndState.REACHED)
        case 1:  # desired in 3 s (the events are sent within that): pending, then queued by the timer tick
            desired = (timezone.now() + timedelta(seconds=3)).isoformat()
            return [event("callback.requested", callback, desired_time=desired, **requested)], (
                CallbackState.QUEUED,
                None,
            )
        case 2:  # answering machine: pending for the 1 s recall interval, then queued by the timer tick
            events = [
                event("callback.requested", callback, **requested),
                *dialed,
                event("attempt.completed", callback, agent=agent, status="answering_machine"),
            ]
            return events, (CallbackState.QUEUED, None)
        case _:  # cancelled by the integration
            events = [event("callback.requested", callback, **requested), event("callback.cancelled", callback)]
            return events, (CallbackState.COMPLETED, EndState.CANCELLED)


def wait_for(condition, what: str, timeout: float = WAIT):
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        assert time.monotonic() < deadline, f"{what}: not within {timeout} s"
        time.sleep(0.2)


def test_two_web_processes_and_two_workers_share_the_work_and_every_monitor_sees_every_change(
    installation, make_business_process, make_user
):
    for code in ("SALES", "SUPPORT"):
        make_business_process(code, recall_intervals=[1])
    _, token = ApiToken.issue("multi")
    browser = Client()
    browser.force_login(make_user("supervisors", "supervisor-multi"))

    ports = [port for port in installation.web_ports for _ in range(MONITORS_PER_WEB)]
    with Monitors(ports, browser.cookies[settings.SESSION_COOKIE_NAME].value) as monitors:
        wait_for(lambda: all(monitors.received), "a snapshot on every monitor")

        # Each callback's events alternate between the two web processes, one event after the other.
        expected = {}
        sequences = []
        for n in range(CALLBACKS):
            events, expected[f"multi-{n}"] = scenario(n, ("SALES", "SUPPORT")[n // 4 % 2])
            sequences.append(events)
        sent = 0
        for step in range(max(len(events) for events in sequences)):
            for events in sequences:
                if step < len(events):
                    assert post(installation.web_ports[sent % 2], token, events[step]) == 201
                    sent += 1

        # Every timer applied (desired times and recall intervals): the database as the scenarios say.
        def states():
            found = dict(Callback.objects.values_list("external_id", "state").order_by())
            return found == {callback: state for callback, (state, _) in expected.items()} and found

        wait_for(states, "the timers applied")
        ended = dict(Callback.objects.filter(state=CallbackState.COMPLETED).values_list("external_id", "end_state"))
        assert ended == {callback: end for callback, (state, end) in expected.items() if end}

        # Every monitor, on either web process, ends showing the recompute, having seen the same pushes.
        truth = recomputed()
        wait_for(lambda: all(View(received).shows() == truth for received in monitors.received), "monitors in line")
        time.sleep(1)  # and nothing more arrives that would contradict it
        views = [View(received) for received in monitors.received]

    assert all(view.shows() == recomputed() for view in views)
    for code in ("SALES", "SUPPORT"):  # the reached ones (cancelled ones are not processed), half in each
        assert truth[0][code]["cells"]["proc"] == str(CALLBACKS // 8)
        assert truth[0][code]["cells"]["to_be_processed"] == str(CALLBACKS // 4)  # the queued ones
    for view in views:
        assert view.gaps == [], (view.gaps, installation.log_tail())
    last = max(view.snapshot_seq for view in views)
    common = [[seq for seq in view.pushes if seq > last] for view in views]
    assert common[0] and all(pushes == common[0] for pushes in common), common

    # The work spread over both workers: each ran recomputes, timer ticks and heartbeats. Which worker takes a
    # task is up to the broker: should one not have had its share of some kind yet, more events make more.
    more = itertools.count()

    def shared() -> dict | None:
        stats = celery_app.control.inspect(destination=installation.worker_names, timeout=5).stats() or {}
        assert set(stats) == set(installation.worker_names), stats.keys()
        ran = {name: stats[name]["total"] for name in installation.worker_names}
        if all(ran[name].get(task) for name in ran for task in SHARED_TASKS):
            return ran
        n = next(more)
        body = event("callback.requested", f"more-{n}", business_process="SALES", phone=f"+1212556{n:04d}")
        assert post(installation.web_ports[n % 2], token, body) == 201
        return None

    ran = wait_for(shared, "every worker running every kind of task")
    for web in range(len(installation.web_ports)):
        status, health = installation.health(web)
        assert status == 200 and health["workers"] == 2, health
    print("\nTasks run per worker:", ran)
    print(f"Pushes seen by each of {len(views)} monitors: {common[0]}")
    print("Heartbeats out of line (a resync in the page):", [view.heartbeats_out_of_line for view in views])
