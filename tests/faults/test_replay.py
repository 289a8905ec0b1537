"""Events replayed with 1% duplicates and 1% out of order: no drift between the live columns and the database."""

import random
import time
from collections import Counter

import pytest

from callbacks.models import AuditEntry, IngestedEvent
from monitoring.columns import compute_rows

from .conftest import Ingest, recomputed, wait_for
from .streams import database_state, forget_callbacks, simulated_events

pytestmark = [pytest.mark.slow, pytest.mark.worker]

BATCH = 25  # events per request, applied in order, each in its own transaction


def perturb(events: list[dict], rng: random.Random) -> tuple[list[tuple[str, dict]], set[str]]:
    """The stream as an unreliable platform delivers it: (how, event) in sending order, how being one of
        "in order"
        "late"       overtaken by up to 10 events of other callbacks (1% of the events): the rules make that
                     harmless, as events of different callbacks commute;
        "early"      sent just before the previous event of its own callback (0.2%, never a request): refused by
                     the rules, or applied when it fits the earlier state too; its callback then goes its own way;
        "duplicate"  sent again 1 to 20 places later, same event_id (1%).
    Returns also the callbacks that had an event sent early.
    """
    n = len(events)
    order = list(range(n))
    late = set()
    for i in rng.sample(range(n - 11), n // 100):
        position = order.index(i)
        k = 0
        while k < 10 and events[order[position + k + 1]]["callback"] != events[i]["callback"]:
            k += 1
        if k:
            order.insert(position + k, order.pop(position))
            late.add(i)
    sending = [("late" if i in late else "in order", events[i]) for i in order]

    early_callbacks = set()
    while len(early_callbacks) < max(1, n // 500):
        p = rng.randrange(1, len(sending))
        how, event = sending[p]
        if how != "in order" or event["type"] == "callback.requested" or event["callback"] in early_callbacks:
            continue
        before = max(q for q in range(p) if sending[q][1]["callback"] == event["callback"])
        if sending[before][0] == "in order":
            sending.insert(before, ("early", sending.pop(p)[1]))
            early_callbacks.add(event["callback"])

    for p in sorted(rng.sample(range(len(sending)), len(sending) // 100), reverse=True):
        sending.insert(min(p + rng.randint(1, 20), len(sending)), ("duplicate", sending[p][1]))
    return sending, early_callbacks


@pytest.mark.timeout(600)  # a safety net: ~1 min alone, several on a machine shared with other test runs
def test_replay_with_duplicates_and_out_of_order(system, monitors, make_business_process):
    make_business_process("SALES")
    make_business_process("SUPPORT", time_zone="Europe/Paris")
    started = time.monotonic()
    events = simulated_events(minutes=6.5, arrivals_per_second=1.0, agents=40, scale=5, seed=7)
    assert len(events) >= 2000, len(events)
    print(f"{len(events)} events generated in {time.monotonic() - started:.1f} s")
    expected = database_state()  # the in-order stream, applied once
    forget_callbacks()

    web = system.web()
    system.worker(pool="solo")
    clients = monitors(web, system.cookie, 2)
    ingest = Ingest(web, system.token)
    sending, early_callbacks = perturb(events, random.Random(11))
    kinds = Counter(how for how, _ in sending)
    assert kinds["duplicate"] == len(events) // 100 and len(events) // 200 <= kinds["late"] <= len(events) // 100
    assert kinds["early"] == len(early_callbacks) >= 1

    results = []  # (how, event, HTTP status or None inside an array, result)
    batch = []

    def flush():
        if batch:
            status, body = ingest.post([event for _, event in batch])
            assert status == 200, body
            answers = zip(batch, body["results"], strict=True)
            results.extend((how, event, None, answer) for (how, event), answer in answers)
            batch.clear()

    started = time.monotonic()
    for how, event in sending:
        if how == "in order":
            batch.append((how, event))
            if len(batch) == BATCH:
                flush()
        else:  # perturbations go alone, so their HTTP status shows
            flush()
            status, body = ingest.post(event)
            results.append((how, event, status, body))
    flush()
    print(f"{len(sending)} events replayed in {time.monotonic() - started:.1f} s")

    # Every answer is what the rules say.
    first_answers, refused_early = {}, 0
    for how, event, status, answer in results:
        where = f"{how} {event['type']} {event['callback']}: {status} {answer}"
        first = first_answers.setdefault(event["event_id"], answer)
        if how == "duplicate" and first.get("result") == "applied":
            assert (status, answer["result"]) == (200, "duplicate"), where
        elif how == "early":
            # Refused with a reason (409; 400 when it overtook the request: no such callback yet), or applied
            # when the rules allow it a step earlier too (an agent's Cancel fits Offered as well as Dialing).
            assert status in (201, 400, 409), where
            assert status == 201 or answer.get("error") or "No callback with id" in answer["callback"][0], where
            refused_early += status != 201
        else:
            # A refused event is not recorded: sent again, the rules judge it again (only after an early one).
            assert answer.get("result") == "applied" or event["callback"] in early_callbacks, where
    assert refused_early

    # No drift: every monitor and the snapshot in Redis equal a recompute from the database.
    wait_for(lambda: all(c.view() == recomputed() for c in clients), 30, "monitors equal to a recompute")
    assert system.monitor_snapshot() == recomputed()
    assert all(c.totals == compute_rows().totals.as_message() for c in clients)

    # The database equals the in-order stream applied once, except the callbacks an early event broke off.
    actual = database_state()
    assert set(actual) == set(expected)
    differing = [cb for cb in expected if actual[cb] != expected[cb] and cb not in early_callbacks]
    assert not differing, [(actual[cb], expected[cb]) for cb in differing[:3]]
    # Nothing counted twice: one recorded event id and one audit entry per event applied.
    applied = [event for _, event, _, answer in results if answer.get("result") == "applied"]
    assert len({e["event_id"] for e in applied}) == len(applied)
    assert IngestedEvent.objects.count() == len(applied)
    assert AuditEntry.objects.exclude(callback_ref="").count() == len(applied)
