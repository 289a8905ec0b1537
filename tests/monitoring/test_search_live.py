"""The Callback Search tab's live path: engine commit → coalesced push → per-business-process group → WebSocket."""

import json
import time
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.utils import timezone

from callbacks import engine
from callbacks.models import Agent
from config.asgi import application
from monitoring import live, search_live
from monitoring.tables_business_process import search_row
from tests.conftest import fetch

from .test_live import GroupListener, answers_client_frames, reply, run, session_headers

ACTOR = engine.Actor("tests")


@pytest.fixture(autouse=True)
def clean_redis():
    """Each test starts with no stored lists, no dirty marks and an empty test task queue."""
    client = live.redis_client()
    keys = client.keys(settings.MONITOR_REDIS_PREFIX + "*")
    if keys:
        client.delete(*keys)
    client.delete(settings.CELERY_TASK_DEFAULT_QUEUE)
    yield client


class SearchListener(GroupListener):
    """A channel subscribed to one business process's Callback Search group through the real Redis layer."""

    def __init__(self, business_process):
        super().__init__(search_live.group_name(business_process.pk))

    def nothing(self) -> bool:
        """Nothing was sent since the last message read: the next one is a marker sent now."""
        self.send({"type": "search.message", "text": json.dumps({"type": "marker"})})
        return self.next() == {"type": "marker"}


@pytest.fixture
def sales(make_business_process):
    return make_business_process("SALES", name="Sales")


@pytest.fixture
def listener(sales):
    listener = SearchListener(sales)
    yield listener
    listener.close()


def request(bp, ext: str, minutes_ago: float = 0, **fields):
    return engine.request_callback(
        external_id=ext,
        business_process=bp,
        phone="+12125550134",
        at=timezone.now() - timedelta(minutes=minutes_ago),
        actor=ACTOR,
        **fields,
    )


def fresh_rows(bp) -> list[dict]:
    return search_live.compute(bp).rows


def ids(rows: list[dict]) -> list[str]:
    return [row["id"] for row in rows]


# --- The push ---------------------------------------------------------------------------------------------


def test_the_first_push_is_a_snapshot_then_only_upserts_and_removals(sales, listener, make_business_process):
    other = make_business_process("OTHER")
    request(sales, "cb-1", 3)
    request(sales, "cb-2", 2)
    request(other, "elsewhere")

    first_seq = search_live.push(sales)
    first = listener.next()
    assert (first["type"], first["seq"], ids(first["rows"]), first["total"]) == (
        "snapshot",
        first_seq,
        ["cb-2", "cb-1"],
        2,
    )

    assert search_live.push(sales) is None and listener.nothing(), "nothing changed: nothing sent, no seq used"

    request(sales, "cb-3", 1)
    added = search_live.push(sales)
    message = listener.next()
    assert (message["type"], message["seq"], added) == ("rows", first["seq"] + 1, first["seq"] + 1)
    assert (ids(message["rows"]), message["removed"], message["total"]) == (["cb-3"], [], 3)

    engine.purge(fetch("cb-1").pk, timezone.now(), ACTOR)
    search_live.push(sales)
    message = listener.next()
    assert (message["seq"], message["rows"], message["removed"], message["total"]) == (
        first["seq"] + 2,
        [],
        ["cb-1"],
        2,
    )


def test_a_changed_callback_is_pushed_as_its_whole_row(sales, listener):
    request(sales, "cb-1", 3)
    request(sales, "cb-2", 2)
    search_live.push(sales)
    listener.next()
    agent = Agent.objects.create(login_id="alice", display_name="Alice Agent")

    engine.offer(fetch("cb-1").pk, agent, timezone.now(), ACTOR)
    search_live.push(sales)

    message = listener.next()
    assert message["rows"] == [search_row(fetch("cb-1"), sales)]
    row = message["rows"][0]
    assert (row["state"], row["cells"]["state"], row["cells"]["location"], row["cells"]["current_agent"]) == (
        "routing",
        "Offered",
        "HandlingByAgent",
        "Alice Agent",
    )


def test_snapshot_plus_pushed_changes_equals_the_list_computed_fresh(sales, listener):
    """The invariant that keeps an open tab honest."""
    for n in range(4):
        request(sales, f"cb-{n}", 10 - n)
    shown = {row["id"]: row for row in search_live.snapshot(sales)["rows"]}
    agent = Agent.objects.create(login_id="alice")

    engine.purge(fetch("cb-0").pk, timezone.now(), ACTOR)
    engine.offer(fetch("cb-1").pk, agent, timezone.now(), ACTOR)
    request(sales, "cb-9", 0, desired_time=timezone.now() + timedelta(hours=2))
    search_live.push(sales)
    engine.accept(fetch("cb-1").pk, agent, timezone.now(), ACTOR)
    search_live.push(sales)

    for _ in range(2):
        message = listener.next()
        for callback_id in message["removed"]:
            shown.pop(callback_id)
        shown.update({row["id"]: row for row in message["rows"]})
    assert sorted(shown.values(), key=lambda row: -row["sort"]["created"]) == fresh_rows(sales)
    assert search_live.snapshot(sales)["rows"] == fresh_rows(sales)


def test_only_the_newest_rows_up_to_the_limit_are_pushed(sales, listener, monkeypatch):
    monkeypatch.setattr(search_live, "ROW_LIMIT", 3)
    for n in range(4):
        request(sales, f"cb-{n}", 10 - n)
    search_live.push(sales)
    first = listener.next()
    assert (ids(first["rows"]), first["total"], first["limit"]) == (["cb-3", "cb-2", "cb-1"], 4, 3)

    request(sales, "cb-new")
    search_live.push(sales)

    message = listener.next()
    assert (ids(message["rows"]), message["removed"], message["total"]) == (["cb-new"], ["cb-1"], 5)


def test_a_list_redis_forgot_comes_back_as_a_snapshot(sales, listener, clean_redis):
    request(sales, "cb-1")
    search_live.push(sales)
    first = listener.next()
    for key in clean_redis.keys(search_live.KEY_PREFIX + "*"):
        if not key.endswith(b":seq"):
            clean_redis.delete(key)  # as when the list expired

    request(sales, "cb-2")
    search_live.push(sales)

    message = listener.next()
    assert (message["type"], message["seq"], ids(message["rows"])) == ("snapshot", first["seq"] + 1, ["cb-2", "cb-1"])
    assert clean_redis.ttl(search_live._keys(sales.pk)[0]) > 0, "a list nobody touches is forgotten in time"


def test_the_snapshot_is_what_was_pushed_and_is_rebuilt_when_missing(sales, listener):
    request(sales, "cb-1", 2)
    built = search_live.snapshot(sales)  # nothing stored yet: from the database, no seq used
    assert (built["type"], built["seq"], ids(built["rows"]), built["total"]) == ("snapshot", 0, ["cb-1"], 1)
    assert listener.nothing()

    request(sales, "cb-2", 1)
    seq = search_live.push(sales)
    stored = search_live.snapshot(sales)
    assert (stored["seq"], ids(stored["rows"]), stored["total"]) == (seq, ["cb-2", "cb-1"], 2)


def test_the_push_costs_the_same_queries_for_3_or_30_callbacks(sales, django_assert_num_queries):
    owner = Agent.objects.create(login_id="owner")
    for n in range(3):
        request(sales, f"cb-{n}", n, owner_agent=owner)
    with django_assert_num_queries(1):
        search_live.push(sales)
    for n in range(3, 30):
        request(sales, f"cb-{n}", n, owner_agent=owner)
    with django_assert_num_queries(1):
        search_live.push(sales)


def test_push_dirty_pushes_each_dirty_business_process_once(sales, listener, make_business_process, clean_redis):
    other = make_business_process("OTHER")
    other_listener = SearchListener(other)
    request(sales, "cb-1")
    request(other, "cb-2")
    clean_redis.sadd(search_live.DIRTY, sales.pk, other.pk, sales.pk)

    assert search_live.push_dirty() == 2

    assert ids(listener.next()["rows"]) == ["cb-1"] and listener.nothing()
    assert ids(other_listener.next()["rows"]) == ["cb-2"]
    other_listener.close()


def test_only_a_watched_list_is_pushed(sales, make_business_process, clean_redis):
    other = make_business_process("OTHER")
    search_live.request_push([sales.pk])
    assert clean_redis.smembers(search_live.DIRTY) == set(), "no tab open: not even a dirty mark"

    assert search_live.watch(sales.pk) is True
    search_live.request_push([sales.pk])
    search_live.request_push([other.pk, sales.pk])

    assert clean_redis.smembers(search_live.DIRTY) == {str(sales.pk).encode()}
    assert 0 < clean_redis.ttl(search_live._watched_key(sales.pk)) <= search_live.WATCH_SECONDS
    assert search_live.watch(sales.pk) is False, "still watched"


def test_a_list_nobody_watched_for_a_while_is_read_afresh(sales, listener, clean_redis):
    search_live.watch(sales.pk)
    request(sales, "cb-1", 2)
    search_live.push(sales)
    listener.next()
    clean_redis.delete(search_live._watched_key(sales.pk))  # the last tab closed long ago
    request(sales, "cb-2", 1)  # …and nobody pushed this

    assert search_live.watch(sales.pk) is True
    assert ids(search_live.snapshot(sales)["rows"]) == ["cb-2", "cb-1"]


# --- The WebSocket consumer -------------------------------------------------------------------------------


def path(code: str = "SALES") -> str:
    return f"/ws/business-processes/{code}/callbacks/"


@pytest.mark.django_db(transaction=True)
def test_a_manager_gets_the_snapshot_then_answers_to_frames(sales, make_user):
    request(sales, "cb-1")
    headers = session_headers(make_user("managers"))

    async def scenario():
        communicator = WebsocketCommunicator(application, path(), headers=headers)
        connected, _ = await communicator.connect()
        assert connected
        snapshot = await reply(communicator)
        assert snapshot["type"] == "snapshot" and ids(snapshot["rows"]) == ["cb-1"]
        await answers_client_frames(communicator, unknown_type="purge")
        await sync_to_async(live.redis_client().delete)(search_live._watched_key(sales.pk))  # pings were lost
        await communicator.send_json_to({"type": "ping"})
        assert await reply(communicator) == {"type": "pong"}
        assert (await reply(communicator))["type"] == "snapshot", "pushes may have been missed meanwhile"
        assert await sync_to_async(live.redis_client().exists)(search_live._watched_key(sales.pk))
        await communicator.disconnect()

    run(scenario)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("who", ["anonymous", "no role", "foreign origin", "unknown business process"])
def test_the_websocket_refuses(sales, make_user, who):
    where = path("NOPE") if who == "unknown business process" else path()
    if who == "anonymous":
        headers = [(b"origin", b"http://localhost")]
    elif who == "no role":
        headers = session_headers(make_user(None))
    elif who == "foreign origin":
        headers = session_headers(make_user("supervisors"), origin=b"http://evil.example.com")
    else:
        headers = session_headers(make_user("supervisors"))

    async def scenario():
        communicator = WebsocketCommunicator(application, where, headers=headers)
        connected, _ = await communicator.connect()
        assert not connected
        await communicator.disconnect()

    run(scenario)


@pytest.mark.worker
def test_an_engine_change_reaches_the_open_tab_through_a_real_worker(
    sales, make_business_process, make_user, api, celery_worker
):
    other = make_business_process("OTHER")
    request(sales, "cb-old", 5)
    headers = session_headers(make_user("supervisors"))

    def post_request(ext: str, code: str) -> None:
        body = {
            "event_id": f"evt-{ext}",
            "type": "callback.requested",
            "occurred_at": timezone.now().isoformat(),
            "callback": ext,
            "business_process": code,
            "phone": "+12125550134",
        }
        assert api.post("/api/v1/events/", body, format="json").status_code == 201

    def purge_old() -> None:
        engine.purge(fetch("cb-old").pk, timezone.now(), ACTOR)

    async def next_push(communicator, after: int) -> dict:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            message = await communicator.receive_json_from(timeout=15)
            if message["type"] in ("rows", "snapshot") and message["seq"] > after:
                return message
        raise AssertionError("nothing was pushed")

    async def scenario():
        communicator = WebsocketCommunicator(application, path(), headers=headers)
        assert (await communicator.connect())[0]
        snapshot = await reply(communicator)
        assert ids(snapshot["rows"]) == ["cb-old"]
        await sync_to_async(post_request)("cb-elsewhere", "OTHER")
        await sync_to_async(post_request)("cb-new", "SALES")
        added = await next_push(communicator, snapshot["seq"])
        await sync_to_async(purge_old)()
        removed = await next_push(communicator, added["seq"])
        await communicator.disconnect()
        return snapshot, added, removed

    snapshot, added, removed = run(scenario)

    assert ids(added["rows"]) == ["cb-new"], "only this business process's changed row"
    assert (removed["seq"], removed["rows"], removed["removed"], removed["total"]) == (
        added["seq"] + 1,
        [],
        ["cb-old"],
        1,
    )
    assert other.pk != sales.pk


@pytest.mark.parametrize("zone", ["Europe/Paris", "Asia/Tokyo", "America/New_York", "UTC"])
def test_the_fast_local_time_reads_as_djangos(zone):
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from django.utils import dateformat

    from monitoring.tables_business_process import local_minute

    tz = ZoneInfo(zone)
    # Around both DST changes of 2026 in Europe and the US, and at the turn of a month and a year.
    for moment in [
        "2026-03-29T00:59:00+00:00",
        "2026-03-08T07:30:00+00:00",
        "2026-10-25T01:00:00+00:00",
        "2026-11-01T05:59:00+00:00",
        "2026-12-31T23:59:59+00:00",
        "2026-01-31T15:04:05+00:00",
    ]:
        value = datetime.fromisoformat(moment)
        assert local_minute(value, tz) == dateformat.format(value.astimezone(tz), "j M H:i")
    assert local_minute(None, tz) == "—"
