"""Ingest arrays: applied in chunks that look things up once, and still answer every event as if it came alone."""

import threading
import time

import pytest
from django.db import connection, connections, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from callbacks.api import ingest as ingest_module
from callbacks.choices import AuditAction
from callbacks.models import Agent, Attempt, AuditEntry, Callback, IngestedEvent
from tests.conftest import event


def requested(callback: str, business_process: str = "SALES") -> dict:
    return event("callback.requested", callback, business_process=business_process, phone="+12125550134")


def lifecycles(count: int) -> list[list[dict]]:
    """The events of ``count`` callbacks, each reached on its first attempt by one of three agents."""
    result = []
    for n in range(count):
        callback, agent = f"cb-{n}", f"agent-{n % 3}"
        result.append(
            [
                requested(callback),
                event("attempt.offered", callback, agent=agent),
                event("attempt.accepted", callback, agent=agent),
                event("attempt.connected", callback, agent=agent, answered_by="person"),
                event("attempt.completed", callback, agent=agent, status="handled"),
                event("attempt.wrapup_completed", callback, agent=agent),
            ]
        )
    return result


def selects_from(queries, table: str) -> int:
    return sum(1 for q in queries if q["sql"].startswith("SELECT") and f'FROM "{table}"' in q["sql"])


def test_a_chunk_looks_up_event_ids_agents_and_business_processes_once(events, business_process):
    Agent.objects.bulk_create(Agent(login_id=f"agent-{n}", display_name=f"Agent {n}") for n in range(3))
    steps = lifecycles(20)
    batch = [lifecycle[step] for step in range(6) for lifecycle in steps]  # all requests, then all offers…

    with CaptureQueriesContext(connection) as queries:
        results = events.post(batch).json()["results"]

    assert [r["result"] for r in results] == ["applied"] * 120
    chunks = -(-len(batch) // ingest_module.CHUNK)
    assert chunks == 2
    assert selects_from(queries, "callbacks_ingestedevent") == chunks, "answered event ids: one query per chunk"
    assert selects_from(queries, "callbacks_agent") == chunks, "agents: one query per chunk"
    assert selects_from(queries, "callbacks_businessprocess") == 1, "business processes: once, in the chunk of requests"
    inserts = [q for q in queries if q["sql"].startswith('INSERT INTO "callbacks_ingestedevent"')]
    assert len(inserts) == chunks, "event ids recorded in one insert per chunk"
    audits = [q for q in queries if q["sql"].startswith('INSERT INTO "callbacks_auditentry"')]
    assert len(audits) == chunks, "audit entries written in one insert per chunk"
    assert Callback.objects.filter(end_state="reached").count() == 20
    assert IngestedEvent.objects.count() == 120 and AuditEntry.objects.count() == 120


def test_a_chunk_announces_each_business_process_once(
    events, make_business_process, business_process, django_capture_on_commit_callbacks
):
    make_business_process("SUPPORT")
    batch = [requested(f"cb-{n}", "SALES" if n % 2 else "SUPPORT") for n in range(30)]

    with django_capture_on_commit_callbacks() as announcements:
        events.post(batch)

    assert len(announcements) == 1, "one announcement for the chunk, naming both business processes"


def test_an_agent_first_named_by_a_refused_event_is_created_by_the_next_one_that_applies(events, business_process):
    """The refused event's savepoint takes the new agent away with it: the chunk must not keep using that agent."""
    batch = [
        event("attempt.offered", "cb-1", agent="new-agent"),  # 400: no callback cb-1 yet
        requested("cb-1"),
        event("attempt.accepted", "cb-1", agent="new-agent"),  # 409: not offered yet — creates, then loses, the agent
        event("attempt.offered", "cb-1", agent="new-agent"),
    ]

    with CaptureQueriesContext(connection) as queries:
        results = events.post(batch).json()["results"]

    assert [r["result"] for r in results] == ["rejected", "applied", "rejected", "applied"]
    agent = Agent.objects.get(login_id="new-agent")
    assert Attempt.objects.get().agent == agent
    assert selects_from(queries, "callbacks_ingestedevent") == 1, "applied in one chunk, not one event at a time"


def test_a_callback_requested_twice_in_one_array_is_refused_the_second_time(events, business_process):
    results = events.post([requested("cb-1"), requested("cb-1"), requested("cb-2")]).json()["results"]

    assert [r["result"] for r in results] == ["applied", "rejected", "applied"]
    assert results[1]["error"] == "Callback cb-1 already exists."
    assert Callback.objects.count() == 2
    assert list(AuditEntry.objects.order_by("pk").values_list("callback_ref", flat=True)) == ["cb-1", "cb-2"]


def test_a_callback_requested_again_alone_is_a_409_and_changes_nothing(events, business_process):
    assert events.post(requested("cb-1")).status_code == 201

    again = events.post(requested("cb-1"))

    assert again.status_code == 409 and again.json()["error"] == "Callback cb-1 already exists."
    assert Callback.objects.count() == 1 and AuditEntry.objects.count() == 1 and IngestedEvent.objects.count() == 1


def test_a_request_for_a_callback_id_already_taken_is_refused_without_redoing_the_chunk(events, business_process):
    assert events.post(requested("cb-1")).status_code == 201

    with CaptureQueriesContext(connection) as queries:
        results = events.post([requested("cb-2"), requested("cb-1"), requested("cb-3")]).json()["results"]

    assert [r["result"] for r in results] == ["applied", "rejected", "applied"]
    assert results[1]["error"] == "Callback cb-1 already exists."
    assert selects_from(queries, "callbacks_ingestedevent") == 1, "one chunk, not applied again one by one"
    assert sorted(Callback.objects.values_list("external_id", flat=True)) == ["cb-1", "cb-2", "cb-3"]


def test_requests_in_an_array_take_no_savepoint_each(events, business_process):
    def savepoints(batch: list[dict]) -> int:
        with CaptureQueriesContext(connection) as queries:
            assert all(r["result"] == "applied" for r in events.post(batch).json()["results"])
        return sum(1 for q in queries if q["sql"].startswith("SAVEPOINT"))

    assert savepoints([requested("cb-1")]) == savepoints([requested(f"cb-{n}") for n in range(2, 12)])


def test_the_requests_of_an_array_are_inserted_together_until_an_event_needs_one(events, business_process):
    Agent.objects.create(login_id="agent-1", display_name="Agent 1")
    assert events.post(requested("cb-earlier")).status_code == 201
    batch = [requested(f"cb-{n}") for n in range(5)]
    batch += [event("attempt.offered", "cb-earlier", agent="agent-1")]  # needs none of them
    batch += [requested(f"cb-{n}") for n in range(5, 10)]
    batch += [event("attempt.offered", "cb-3", agent="agent-1")]  # needs cb-3
    batch += [requested(f"cb-{n}") for n in range(10, 15)]

    with CaptureQueriesContext(connection) as queries:
        results = events.post(batch).json()["results"]

    assert [r["result"] for r in results] == ["applied"] * 17
    inserts = [q for q in queries if q["sql"].startswith('INSERT INTO "callbacks_callback"')]
    assert len(inserts) == 2, "the ten before the offer of cb-3 in one insert, the five after it in another"
    assert Callback.objects.count() == 16
    assert set(Callback.objects.filter(state="routing").values_list("external_id", flat=True)) == {"cb-earlier", "cb-3"}


def test_a_refused_event_keeps_the_requests_before_it_in_its_chunk(events, business_process):
    """The requests wait to be inserted together, but not inside the next event's savepoint: its refusal, which
    rolls that savepoint back, keeps them — both the engine's savepoint and the one around a new agent."""
    Agent.objects.create(login_id="agent-1", display_name="Agent 1")
    batch = [
        requested("cb-1"),
        requested("cb-2"),
        event("attempt.accepted", "cb-1", agent="agent-1"),  # 409: not offered
        requested("cb-3"),
        event("attempt.accepted", "cb-3", agent="new-agent"),  # 409, and the agent it created goes with it
        requested("cb-4"),
    ]

    results = events.post(batch).json()["results"]

    assert [r["result"] for r in results] == ["applied", "applied", "rejected", "applied", "rejected", "applied"]
    assert sorted(Callback.objects.values_list("external_id", flat=True)) == ["cb-1", "cb-2", "cb-3", "cb-4"]
    assert AuditEntry.objects.filter(action=AuditAction.CALLBACK_REQUESTED).count() == 4 == AuditEntry.objects.count()
    assert IngestedEvent.objects.count() == 4
    assert not Agent.objects.filter(login_id="new-agent").exists()


def test_an_event_twice_in_one_array_is_applied_once(events, business_process):
    first = requested("cb-1")
    spaced = {**first, "event_id": f"  {first['event_id']}  "}  # the same id once stripped

    results = events.post([first, first, spaced]).json()["results"]

    assert [r["result"] for r in results] == ["applied", "duplicate", "duplicate"]
    assert IngestedEvent.objects.count() == 1 and Callback.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_copy_recorded_elsewhere_meanwhile_makes_the_chunk_apply_one_event_at_a_time(api, make_business_process):
    """Another request records one of the array's event ids while the chunk runs: the chunk's insert of its ids
    fails, its transaction changes nothing, and its events are applied again one by one — that one answered as a
    duplicate, the others applied."""
    if connection.vendor != "postgresql":
        pytest.skip("needs two concurrent writers (PostgreSQL)")
    make_business_process("SALES")
    copied, other = requested("cb-1"), requested("cb-2")

    def record_the_copy() -> None:
        IngestedEvent.objects.create(
            event_id=copied["event_id"],
            type="callback.requested",
            callback_ref="cb-elsewhere",
            response={"event_id": copied["event_id"], "result": "applied"},
        )

    response = _post_while_another_transaction_writes(api, [copied, other], record_the_copy)

    results = response.json()["results"]
    assert [r["result"] for r in results] == ["duplicate", "applied"]
    assert list(Callback.objects.values_list("external_id", flat=True)) == ["cb-2"]


@pytest.mark.django_db(transaction=True)
def test_a_callback_id_taken_elsewhere_meanwhile_makes_the_chunk_apply_one_event_at_a_time(api, make_business_process):
    """Another request inserts the same callback id while the chunk runs: the chunk's insert waits for it, then
    fails; its transaction changes nothing, and its events are applied again one by one — that request refused,
    the other applied."""
    if connection.vendor != "postgresql":
        pytest.skip("needs two concurrent writers (PostgreSQL)")
    business_process = make_business_process("SALES")
    taken, other = requested("cb-1"), requested("cb-2")

    def insert_the_callback() -> None:
        Callback.objects.create(
            external_id="cb-1", business_process=business_process, phone="+12125550199", created=timezone.now()
        )

    response = _post_while_another_transaction_writes(api, [taken, other], insert_the_callback)

    results = response.json()["results"]
    assert [r["result"] for r in results] == ["rejected", "applied"]
    assert results[0]["error"] == "Callback cb-1 already exists."
    assert Callback.objects.get(external_id="cb-1").phone == "+12125550199", "the other request's callback stays"
    assert list(AuditEntry.objects.values_list("callback_ref", flat=True)) == ["cb-2"]
    assert list(IngestedEvent.objects.values_list("callback_ref", flat=True)) == ["cb-2"]


def _post_while_another_transaction_writes(api, batch: list[dict], write):
    """Post ``batch`` while another transaction has run ``write`` and not yet committed: the chunk waits for that
    transaction's row, which then commits. Returns the answer to the post."""
    written, release = threading.Event(), threading.Event()

    def other_request() -> None:
        with transaction.atomic():
            write()
            written.set()
            release.wait(30)
        connections.close_all()

    writer = threading.Thread(target=other_request)
    writer.start()
    assert written.wait(30)
    answer = {}

    def post_the_array() -> None:
        answer["response"] = api.post("/api/v1/events/", batch, format="json")
        connections.close_all()

    poster = threading.Thread(target=post_the_array)
    poster.start()
    _wait_until_a_backend_waits_for_a_lock()
    release.set()
    writer.join(30)
    poster.join(30)
    return answer["response"]


def _wait_until_a_backend_waits_for_a_lock(timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    with connections["default"].cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")
            if cursor.fetchone()[0]:
                return
            time.sleep(0.02)
    raise AssertionError("the chunk never waited for the other request's row")
