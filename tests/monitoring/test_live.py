"""The live path: engine commit → coalesced recompute → snapshot diff → channel layer → WebSocket."""

import asyncio
import json
import threading
import time
from datetime import UTC, timedelta
from unittest.mock import ANY

import pytest
import redis
from asgiref.sync import async_to_sync, sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client
from django.utils import timezone

from callbacks import engine
from callbacks.choices import CallbackState, EndState
from callbacks.models import BusinessProcess, Callback
from config.asgi import application
from monitoring import live
from monitoring.columns import compute_rows

ACTOR = engine.Actor("tests")


@pytest.fixture(autouse=True)
def clean_redis():
    """Each test starts with no snapshot, no dirty marks and an empty test task queue."""
    client = live.redis_client()
    keys = client.keys(settings.MONITOR_REDIS_PREFIX + "*")
    if keys:
        client.delete(*keys)
    client.delete(settings.CELERY_TASK_DEFAULT_QUEUE)
    yield client


class GroupListener:
    """A channel subscribed to a group (the monitor's by default) through the real Redis channel layer, in an
    event loop of its own that keeps running (as a web process's does), so pushes published meanwhile are
    received."""

    def __init__(self, group: str = live.GROUP):
        self.group = group
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.layer = get_channel_layer()
        self.channel = self._run(self.layer.new_channel())
        self._run(self.layer.group_add(self.group, self.channel))

    def _run(self, coroutine, timeout: float = 10):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def receive(self, timeout: float = 5) -> dict:
        """The next message of the group, as the channel layer carries it."""
        return self._run(asyncio.wait_for(self.layer.receive(self.channel), timeout), timeout + 1)

    def next(self, timeout: float = 5) -> dict:
        """The next monitor message, as browsers get it."""
        return json.loads(self.receive(timeout)["text"])

    def send(self, message: dict) -> None:
        self._run(self.layer.group_send(self.group, message))

    def close(self):
        self._run(self.layer.group_discard(self.group, self.channel))
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


@pytest.fixture
def listener():
    listener = GroupListener()
    yield listener
    listener.close()


def test_the_first_push_sends_every_row_then_only_changes(make_business_process, listener):
    sales = make_business_process("SALES")
    make_business_process("SUPPORT")

    live.recompute_all()
    first = listener.next()
    assert first["type"] == "rows"
    assert sorted(row["code"] for row in first["rows"]) == ["SALES", "SUPPORT"]

    live.recompute_all()
    heartbeat = listener.next()
    assert (heartbeat["type"], heartbeat["seq"]) == ("heartbeat", first["seq"]), "nothing changed: no seq used"

    engine.set_stopped(sales.pk, True, ACTOR)
    live.recompute_all()
    changed = listener.next()
    assert changed["seq"] == first["seq"] + 1
    assert [(row["code"], row["cells"]["status"]) for row in changed["rows"]] == [("SALES", "Stopped")]
    assert changed["totals"]["name"] == "Total"


def test_a_new_shift_is_pushed_even_when_its_numbers_are_those_of_the_last(make_business_process, listener):
    """The monitors state the shift each number counts from ("since the shift began at …"): a new shift with
    nothing counted yet, after a shift with nothing counted, is news all the same."""
    quiet = make_business_process("QUIET")
    make_business_process("STEADY")
    live.recompute_all()
    first = listener.next()

    BusinessProcess.objects.filter(pk=quiet.pk).update(shift_started_at=timezone.now())
    live.recompute_all()
    message = listener.next()
    assert (message["type"], message["seq"]) == ("rows", first["seq"] + 1)
    assert [(row["code"], row["cells"]["proc"]) for row in message["rows"]] == [("QUIET", "0")]


def test_the_safety_net_mends_unannounced_changes_one_share_at_a_time(make_business_process, listener, settings):
    """Changes no event announced (a direct UPDATE) reach the monitors through the safety net: each run takes
    the next share of the business processes, and the shares together are every business process."""
    settings.MONITOR_SAFETY_NET_SHARES = 2
    for code in ("ALPHA", "BRAVO", "CHARLIE"):
        make_business_process(code)
    live.recompute_all()
    listener.next()
    BusinessProcess.objects.update(is_stopped=True)  # no signal: no recompute requested

    live.recompute_share()
    first = {row["code"]: row["cells"]["status"] for row in listener.next()["rows"]}
    live.recompute_share()
    second = {row["code"]: row["cells"]["status"] for row in listener.next()["rows"]}

    assert first and second and not set(first) & set(second)
    assert {**first, **second} == {"ALPHA": "Stopped", "BRAVO": "Stopped", "CHARLIE": "Stopped"}
    live.recompute_share()
    with pytest.raises(TimeoutError):
        listener.next(timeout=1)  # everything is up to date: nothing to push


def test_the_safety_net_recomputes_everything_when_redis_lost_the_snapshot(make_business_process, listener):
    make_business_process("ALPHA")
    make_business_process("BRAVO")

    live.recompute_share()  # nothing pushed yet (or Redis was emptied): a share would show only part of the rows

    assert sorted(row["code"] for row in listener.next()["rows"]) == ["ALPHA", "BRAVO"]
    assert live.redis_client().exists(live.COMPLETE)


def test_a_deactivated_business_process_is_removed(make_business_process, listener):
    gone = make_business_process("GONE")
    make_business_process("STAYS")
    live.recompute_all()
    listener.next()

    gone.is_active = False
    gone.save()
    live.recompute_all()

    message = listener.next()
    assert message["removed"] == ["GONE"] and message["rows"] == []


def test_a_partial_recompute_keeps_the_totals_of_every_business_process(make_business_process, listener, events):
    make_business_process("SALES")
    make_business_process("SUPPORT")
    live.recompute_all()
    listener.next()
    assert events.request().status_code == 201  # SALES from the `events` fixture's business process

    live.push(compute_rows(business_process_ids=[sales_pk()]), complete=False)

    message = listener.next()
    assert [row["code"] for row in message["rows"]] == ["SALES"]
    assert message["totals"]["cells"]["to_be_processed"] == "1"


def test_totals_moved_by_partial_pushes_equal_a_fresh_recompute(make_business_process, listener, events):
    """A partial push reads only its own rows; the totals it sends must still be those of every row."""
    make_business_process("SALES")
    make_business_process("SUPPORT")
    live.recompute_all()
    listener.next()
    for callback, business_process in [("cb-1", "SALES"), ("cb-2", "SUPPORT"), ("cb-3", "SUPPORT")]:
        assert events.request(callback, business_process).status_code == 201
        live.push(
            compute_rows(business_process_ids=[BusinessProcess.objects.get(code=business_process).pk]), complete=False
        )
        message = listener.next()
    assert events.cancel("cb-2").status_code == 201
    live.push(compute_rows(business_process_ids=[BusinessProcess.objects.get(code="SUPPORT").pk]), complete=False)
    message = listener.next()

    assert message["totals"] == compute_rows().totals.as_message()
    assert message["totals"]["cells"]["to_be_processed"] == "2"


def sales_pk() -> int:
    return BusinessProcess.objects.get(code="SALES").pk


def test_a_burst_of_changes_costs_one_recompute(make_business_process, clean_redis, monkeypatch):
    monkeypatch.setattr(live, "COALESCE_SECONDS", 5)  # the burst fits in the window however busy the machine
    business_process = make_business_process("SALES")
    other = make_business_process("SUPPORT")
    for _ in range(20):
        live.request_recompute([business_process.pk])
    live.request_recompute([other.pk])

    assert clean_redis.smembers(live.DIRTY) == {str(business_process.pk).encode(), str(other.pk).encode()}
    assert clean_redis.llen(settings.CELERY_TASK_DEFAULT_QUEUE) == 1, "one recompute for the whole burst"
    assert live.recompute_dirty() == 2 and not clean_redis.exists(live.DIRTY)


def test_the_engine_announces_its_changes_after_the_commit(
    business_process, events, clean_redis, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert events.request().status_code == 201
    assert not clean_redis.exists(live.DIRTY), "nothing is announced before the commit"

    for callback in callbacks:
        callback()

    assert clean_redis.smembers(live.DIRTY) == {str(business_process.pk).encode()}


def test_an_unreachable_redis_never_fails_the_change(business_process, monkeypatch):
    monkeypatch.setattr(live, "_client", redis.Redis(port=1, socket_connect_timeout=0.2))
    live.request_recompute([business_process.pk])  # logs a warning, raises nothing


def test_the_snapshot_is_rebuilt_from_the_database_when_redis_lost_it(make_business_process, clean_redis):
    make_business_process("SALES")
    live.recompute_all()
    clean_redis.delete(live.SNAPSHOT, live.SEQ, live.COMPLETE)

    snapshot = live.snapshot()

    assert [row["code"] for row in snapshot["rows"]] == ["SALES"]
    assert snapshot["totals"]["cells"]["proc"] == "0"


def test_a_snapshot_never_shows_only_the_business_processes_that_had_events(make_business_process):
    """Before any full recompute (beat not yet run, Redis just emptied), a partial push is not the whole story."""
    sales = make_business_process("SALES")
    make_business_process("SUPPORT")
    live.push(compute_rows(business_process_ids=[sales.pk]), complete=False)

    assert [row["code"] for row in live.snapshot()["rows"]] == ["SALES", "SUPPORT"]


def test_an_older_computation_never_replaces_newer_numbers(make_business_process, events, listener):
    sales = make_business_process("SALES")
    live.recompute_all()
    listener.next()
    older = compute_rows(business_process_ids=[sales.pk])  # before the new callback
    assert events.request().status_code == 201
    live.push(compute_rows(business_process_ids=[sales.pk]), complete=False)
    assert listener.next()["rows"][0]["cells"]["to_be_processed"] == "1"

    seq = live.push(older, complete=False)

    assert seq == live.snapshot()["seq"], "nothing pushed"
    assert live.snapshot()["rows"][0]["cells"]["to_be_processed"] == "1"


# --- The WebSocket consumer -----------------------------------------------------------------------------


def session_headers(user, origin: bytes = b"http://localhost") -> list[tuple[bytes, bytes]]:
    client = Client()
    client.force_login(user)
    return [(b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode()), (b"origin", origin)]


def run(coroutine_function):
    return async_to_sync(coroutine_function)()


async def reply(communicator) -> dict:
    """The next answer to a client frame, skipping pushed rows and heartbeats (other writers may push)."""
    while True:
        message = await communicator.receive_json_from(timeout=5)
        if message["type"] not in ("rows", "heartbeat"):
            return message


async def answers_client_frames(communicator, unknown_type: str) -> None:
    """What every live socket does with client frames (monitoring.consumers.LiveConsumer): an error for each bad
    one, a pong for a ping, a snapshot for a resync."""
    for frame, expected in [
        ("not json", "Not JSON."),
        (json.dumps({"type": unknown_type}), "Unknown frame"),
        (json.dumps([1, 2]), "Unknown frame"),
        ("x" * 5000, "too large"),
    ]:
        await communicator.send_to(text_data=frame)
        answer = await reply(communicator)
        assert answer["type"] == "error" and expected in answer["error"]
    await communicator.send_to(bytes_data=b"\x00\x01")
    assert (await reply(communicator))["type"] == "error"
    await communicator.send_json_to({"type": "ping"})
    assert await reply(communicator) == {"type": "pong"}
    await communicator.send_json_to({"type": "resync"})
    assert (await reply(communicator))["type"] == "snapshot"


@pytest.mark.django_db(transaction=True)
def test_a_supervisor_gets_a_snapshot_then_answers_to_frames(make_business_process, make_user):
    make_business_process("SALES", name="Sales")
    headers = session_headers(make_user("supervisors"))

    async def scenario():
        communicator = WebsocketCommunicator(application, "/ws/monitor/", headers=headers)
        connected, _ = await communicator.connect()
        assert connected
        snapshot = await reply(communicator)
        assert snapshot["type"] == "snapshot" and snapshot["rows"][0]["name"] == "Sales"
        await answers_client_frames(communicator, unknown_type="delete_everything")
        await communicator.disconnect()

    run(scenario)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("who", ["anonymous", "no role", "foreign origin"])
def test_the_websocket_refuses(make_user, who):
    if who == "anonymous":
        headers = [(b"origin", b"http://localhost")]
    elif who == "no role":
        headers = session_headers(make_user(None))
    else:
        headers = session_headers(make_user("supervisors"), origin=b"http://evil.example.com")

    async def scenario():
        communicator = WebsocketCommunicator(application, "/ws/monitor/", headers=headers)
        connected, _ = await communicator.connect()
        assert not connected
        await communicator.disconnect()

    run(scenario)


@pytest.mark.worker
def test_an_ingested_event_reaches_a_connected_monitor_through_a_real_worker(
    make_business_process, make_user, api, celery_worker
):
    make_business_process("SALES", name="Sales")
    headers = session_headers(make_user("managers"))
    body = {
        "event_id": "live-1",
        "type": "callback.requested",
        "occurred_at": "2026-11-20T10:00:00+00:00",
        "callback": "cb-live",
        "business_process": "SALES",
        "phone": "+12125550134",
    }

    def post_event() -> None:
        assert api.post("/api/v1/events/", body, format="json").status_code == 201

    async def scenario():
        communicator = WebsocketCommunicator(application, "/ws/monitor/", headers=headers)
        assert (await communicator.connect())[0]
        snapshot = await reply(communicator)
        assert snapshot["rows"][0]["cells"]["to_be_processed"] == "0"
        await sync_to_async(post_event)()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            message = await communicator.receive_json_from(timeout=15)
            # Rows numbered up to the snapshot's seq are already in it (as a browser also skips them).
            if message["type"] == "rows" and message["seq"] > snapshot["seq"]:
                await communicator.disconnect()
                return snapshot, message
        raise AssertionError("no changed row arrived")

    snapshot, message = run(scenario)

    assert message["seq"] > snapshot["seq"]
    assert [(row["code"], row["cells"]["to_be_processed"]) for row in message["rows"]] == [("SALES", "1")]


def test_a_schedule_closing_reaches_the_monitors_through_the_timers(
    make_business_process, listener, django_capture_on_commit_callbacks
):
    """Opening hours end on one business process: the timers record it and announce it, and only its CLBK Stat
    is pushed. Until then the time check finds nothing to recompute and beats a heartbeat."""
    closing = make_business_process("CLOSING")
    make_business_process("STEADY")
    engine.apply_due_timers()  # both recorded open
    live.recompute_all()
    listener.next()
    live.refresh_time_driven()
    assert listener.next()["type"] == "heartbeat"

    closing.schedule_ranges.all().delete()  # closed from now on (as when its opening hours end)
    with django_capture_on_commit_callbacks(execute=True):
        engine.apply_due_timers()
    live.recompute_dirty()

    message = listener.next()
    assert [(row["code"], row["cells"]["status"]) for row in message["rows"]] == [("CLOSING", "Off Schedule HRS")]


def test_a_heartbeat_waits_for_a_push_under_way(make_business_process, listener, clean_redis):
    """A heartbeat carries the seq of the last rows message. Taken while another worker is pushing rows, it could
    reach the monitors before those rows, and every monitor would ask for a snapshot: it waits for the push."""
    make_business_process("SALES")
    live.recompute_all()
    listener.next()
    pushing = clean_redis.lock(live.PUSH_LOCK, timeout=30)
    assert pushing.acquire(blocking=False)
    time_check = threading.Thread(target=live.heartbeat, args=[timezone.now()])
    time_check.start()

    time_check.join(1)
    assert time_check.is_alive(), "the heartbeat waits while the push holds the lock"
    clean_redis.incr(live.SEQ)  # the push under way numbers its rows (and would send them now)
    pushing.release()
    time_check.join(10)

    assert listener.next() == {"type": "heartbeat", "seq": int(clean_redis.get(live.SEQ)), "computed_at": ANY}


def test_the_time_check_sees_a_new_business_process(make_business_process, listener):
    make_business_process("FIRST")
    live.recompute_all()
    listener.next()
    make_business_process("SECOND")

    live.refresh_time_driven()

    assert [row["code"] for row in listener.next()["rows"]] == ["SECOND"]


def test_a_new_shift_reaches_the_monitors_through_the_timers(
    make_business_process, listener, django_capture_on_commit_callbacks
):
    """A shift begins: the timers record its start, from which the counters count, and announce it; only that
    business process's row is pushed, its Proc starting over."""
    now = timezone.now()
    in_two_hours = f"{(now + timedelta(hours=2)).astimezone(UTC):%H:%M}"
    shifting = make_business_process("SHIFTING", shift_starts=[in_two_hours])  # its shift began 22 hours ago
    make_business_process("STEADY")
    Callback.objects.create(
        external_id="done",
        business_process=shifting,
        phone="+33142685300",
        state=CallbackState.COMPLETED,
        end_state=EndState.REACHED,
        created=now - timedelta(minutes=2),
        completed_at=now - timedelta(minutes=1),
    )
    live.recompute_all()
    assert {row["code"]: row["cells"]["proc"] for row in listener.next()["rows"]} == {"SHIFTING": "1", "STEADY": "0"}
    # From the timers' point of view, exactly a rollover: the current shift began a moment ago, not at midnight.
    BusinessProcess.objects.filter(pk=shifting.pk).update(shift_starts=[f"{now.astimezone(UTC):%H:%M}"])

    with django_capture_on_commit_callbacks(execute=True):
        engine.apply_due_timers(now)
    live.recompute_dirty()

    message = listener.next()
    assert [(row["code"], row["cells"]["proc"]) for row in message["rows"]] == [("SHIFTING", "0")]
    assert BusinessProcess.objects.get(pk=shifting.pk).shift_started_at == now.replace(second=0, microsecond=0)
