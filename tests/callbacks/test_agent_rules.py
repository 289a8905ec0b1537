"""The agent-side rules and the states / locations of DESIGN.md, exercised through the ingest API.

Every test posts events to POST /api/v1/events/ and reads the callback back with GET /api/v1/callbacks/<id>/;
timers are applied with ``engine.apply_due_timers(now=...)`` at explicit instants, never by sleeping.
"""

from datetime import datetime, time, timedelta

import pytest
from django.utils import timezone

from callbacks import engine
from callbacks.models import Agent, Attempt, AuditEntry, Callback, IngestedEvent, ScheduleRange
from tests.conftest import event, fetch, in_

pytestmark = pytest.mark.django_db

SUPERVISOR = engine.Actor("user:x")
ALL_AGENT_STATUSES = [
    "handled",
    "answering_machine",
    "no_answer",
    "cancel",
    "callback_requested",
    "wrong_destination",
]


# ---------------------------------------------------------------------------------------------------------
# Helpers


def seconds(n: float) -> timedelta:
    return timedelta(seconds=n)


def parse(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def past(**delta) -> datetime:
    """A whole-second instant in the past: the start of a timeline whose every event lies before now."""
    return (timezone.now() - timedelta(**delta)).replace(microsecond=0)


def applied(response) -> dict:
    """The callback as the answer to an applied event shows it."""
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["result"] == "applied"
    return body["callback"]


def where(callback: dict) -> tuple:
    """(state, location, interaction state, end state, attempts) of a callback as the API shows it."""
    return (
        callback["state"],
        callback["location"],
        callback["interaction_state"],
        callback["end_state"],
        callback["attempts"],
    )


PENDING = ("scheduled", "Pending", "")
QUEUED = ("queued", "HandlingByBusinessProcess", "")
OFFERED = ("routing", "HandlingByAgent", "offered")
DIALING = ("processing", "HandlingByAgent", "dialing")
HANDLING = ("processing", "HandlingByAgent", "handling")


def is_(callback: dict, place: tuple, attempts: int) -> bool:
    return where(callback) == (*place, "", attempts)


def ended(callback: dict, end_state: str, attempts: int) -> bool:
    return where(callback) == ("completed", "", "", end_state, attempts)


def snapshot(events, callback: str = "cb-1") -> dict:
    """Everything a refused event must leave as it was."""
    return {
        "callback": events.callback(callback),
        "audit_entries": AuditEntry.objects.count(),
        "ingested_events": IngestedEvent.objects.count(),
        "agents": Agent.objects.count(),
        "attempts": Attempt.objects.count(),
    }


def assert_refused(events, response, before: dict, callback: str = "cb-1") -> None:
    """409 with a reason, and nothing changed."""
    assert response.status_code == 409, response.json()
    body = response.json()
    assert body["result"] == "rejected"
    assert isinstance(body["error"], str) and body["error"]
    assert snapshot(events, callback) == before


def unanswered_attempt(events, start: datetime, how: str, callback: str = "cb-1", agent: str = "agent-1") -> datetime:
    """One attempt from `start` that does not reach the customer; returns the instant it was completed."""
    applied(events.offer(callback, agent, at=start))
    applied(events.accept(callback, agent, at=start + seconds(2)))
    completed_at = start + seconds(30)
    if how == "no_answer":  # the agent gives up while dialing
        applied(events.complete("no_answer", callback, agent, at=completed_at))
    elif how == "answering_machine":
        applied(events.connect(callback, agent, "voicemail", at=start + seconds(10)))
        applied(events.complete("answering_machine", callback, agent, at=completed_at))
    elif how == "no_answer_while_handling":
        applied(events.connect(callback, agent, "person", at=start + seconds(10)))
        applied(events.complete("no_answer", callback, agent, at=completed_at))
    else:
        raise AssertionError(how)
    return completed_at


def handling(events, start: datetime | None = None, answered_by: str = "person") -> None:
    """Offer, accept and connect cb-1 to agent-1."""
    start = start or past(minutes=1)
    applied(events.offer(at=start))
    applied(events.accept(at=start + seconds(1)))
    applied(events.connect(answered_by=answered_by, at=start + seconds(5)))


# ---------------------------------------------------------------------------------------------------------
# States and locations along an attempt


def test_a_requested_immediate_callback_is_queued(events, business_process):
    """States and locations: an immediate request in an Active business process waits in queue."""
    callback = applied(events.request(customer_name="Ada"))
    assert is_(callback, QUEUED, 0)
    assert callback["desired_time"] is None
    assert events.callback() == callback


def test_offered_callback_is_routing_with_the_agent(events, business_process):
    """Rule 1 / locations: an offer puts the callback HandlingByAgent, state ROUTING, interaction Offered."""
    applied(events.request())
    offered_at = past(seconds=30)
    applied(events.offer(at=offered_at))
    callback = events.callback()
    assert is_(callback, OFFERED, 0)
    assert callback["current_agent"] == "agent-1"
    assert callback["last_attempt_at"] is not None
    [attempt] = callback["attempt_history"]
    assert attempt["number"] == 1
    assert attempt["agent"] == "agent-1"
    assert parse(attempt["offered_at"]) == offered_at
    assert attempt["completion_status"] == ""


def test_accepted_callback_is_dialing(events, business_process):
    """Rule 1: the agent accepts → Dialing (state PROCESSING)."""
    applied(events.request())
    accepted_at = past(seconds=20)
    applied(events.offer(at=accepted_at - seconds(5)))
    applied(events.accept(at=accepted_at))
    callback = events.callback()
    assert is_(callback, DIALING, 0)
    assert parse(callback["attempt_history"][0]["accepted_at"]) == accepted_at


@pytest.mark.parametrize("answered_by", ["person", "voicemail"])
def test_connected_callback_is_handling_and_records_who_answered(events, business_process, answered_by):
    """Rule 3: voicemail or a live answer → Handling; the attempt records who answered."""
    applied(events.request())
    events.dial()
    applied(events.connect(answered_by=answered_by))
    callback = events.callback()
    assert is_(callback, HANDLING, 0)
    [attempt] = callback["attempt_history"]
    assert attempt["answered_by"] == answered_by
    assert attempt["connected_at"] is not None


# ---------------------------------------------------------------------------------------------------------
# Completion statuses


@pytest.mark.parametrize("answered_by", ["person", "voicemail"])
def test_handled_ends_reached(events, business_process, answered_by):
    """Rule 3 Handled: removed from queue, end state REACHED, for a person and after leaving a voicemail."""
    applied(events.request())
    handling(events, answered_by=answered_by)
    applied(events.complete("handled"))
    callback = events.callback()
    assert ended(callback, "reached", 0)
    assert callback["current_agent"] is None
    assert callback["completed_at"] is not None
    [attempt] = callback["attempt_history"]
    assert (attempt["completion_status"], attempt["answered_by"]) == ("handled", answered_by)


@pytest.mark.parametrize("phase", ["dialing", "handling"])
def test_wrong_destination_ends_wrong_destination(events, business_process, phase):
    """Rules 1 and 3 Wrong Destination: from Dialing or Handling, end state WRONG_DESTINATION."""
    applied(events.request())
    events.dial()
    if phase == "handling":
        applied(events.connect())
    applied(events.complete("wrong_destination"))
    callback = events.callback()
    assert ended(callback, "wrong_destination", 0)
    assert callback["attempt_history"][0]["completion_status"] == "wrong_destination"


@pytest.mark.parametrize("phase", ["dialing", "handling"])
def test_callback_requested_reschedules_for_the_given_agent_and_time(events, business_process, phase):
    """Rule 3 Callback Requested: Pending until the given time, owned by the given agent, attempts unchanged."""
    start = past(hours=2)
    applied(events.request(at=start))
    done = unanswered_attempt(events, start, "no_answer")
    engine.apply_due_timers(now=done + seconds(300))
    applied(events.offer(at=done + seconds(400)))
    applied(events.accept(at=done + seconds(401)))
    if phase == "handling":
        applied(events.connect(at=done + seconds(410)))
    reschedule_time = in_(3600).replace(microsecond=0)
    applied(
        events.complete("callback_requested", reschedule_time=reschedule_time.isoformat(), reschedule_agent="agent-7")
    )

    callback = events.callback()
    assert is_(callback, PENDING, 1)
    assert parse(callback["desired_time"]) == reschedule_time
    assert callback["owner_agent"] == "agent-7"
    assert callback["attempt_history"][-1]["completion_status"] == "callback_requested"

    engine.apply_due_timers(now=reschedule_time - seconds(1))
    assert is_(events.callback(), PENDING, 1)
    engine.apply_due_timers(now=reschedule_time)
    assert is_(events.callback(), QUEUED, 1)

    # Only the owner agent may be offered it now.
    before = snapshot(events)
    assert_refused(events, events.offer(agent="agent-1"), before)
    assert "agent-7" in events.offer(agent="agent-2").json()["error"]
    assert snapshot(events) == before
    assert is_(applied(events.offer(agent="agent-7")), OFFERED, 1)


def test_callback_requested_without_an_agent_may_go_to_anyone(events, business_process):
    """Rule 3 Callback Requested: 'owner agent (or none)' — no reschedule_agent leaves it unowned."""
    applied(events.request())
    events.dial()
    reschedule_time = in_(600)
    applied(events.complete("callback_requested", reschedule_time=reschedule_time.isoformat()))
    assert events.callback()["owner_agent"] is None
    engine.apply_due_timers(now=reschedule_time)
    assert is_(applied(events.offer(agent="agent-9")), OFFERED, 0)


# ---------------------------------------------------------------------------------------------------------
# Attempts, recall intervals and failure


def test_three_unanswered_attempts_fail_with_default_settings(events, business_process):
    """Rules 3 and 4: No Answer and Answering Machine count; the third unanswered attempt ends FAILED."""
    start = past(days=1)
    applied(events.request(at=start))
    t = start
    for number, how in enumerate(["no_answer", "answering_machine", "no_answer_while_handling"], start=1):
        done = unanswered_attempt(events, t, how)
        callback = events.callback()
        if number < 3:
            assert is_(callback, PENDING, number)
            t = done + seconds(business_process.recall_interval_after(number).total_seconds())
            engine.apply_due_timers(now=t)
            assert is_(events.callback(), QUEUED, number)
    callback = events.callback()
    assert ended(callback, "failed", 3)
    assert [a["completion_status"] for a in callback["attempt_history"]] == [
        "no_answer",
        "answering_machine",
        "no_answer",
    ]
    assert [a["answered_by"] for a in callback["attempt_history"]] == ["", "voicemail", "person"]


@pytest.mark.parametrize("attempts_before_failure", [1, 3, 5])
def test_fails_after_exactly_attempts_before_failure(events, make_business_process, attempts_before_failure):
    """Rule 4: the callback ends FAILED exactly when attempts reach Attempts Before Failure, not before."""
    make_business_process("SALES", attempts_before_failure=attempts_before_failure, recall_intervals=[0])
    t = past(days=1)
    applied(events.request(at=t))
    for number in range(1, attempts_before_failure + 1):
        t = unanswered_attempt(events, t, "answering_machine" if number % 2 else "no_answer")
        callback = events.callback()
        assert callback["attempts"] == number
        if number < attempts_before_failure:
            assert is_(callback, PENDING, number)
            engine.apply_due_timers(now=t)
            assert is_(events.callback(), QUEUED, number)
    assert ended(events.callback(), "failed", attempts_before_failure)


@pytest.mark.parametrize("how", ["no_answer", "answering_machine"])
def test_recall_intervals_after_each_attempt_and_the_last_repeats(events, make_business_process, how):
    """Rule 3 / Recall Intervals: Pending for interval n after attempt n, the last value repeating."""
    make_business_process("SALES", attempts_before_failure=5)  # default intervals [300, 900, 3600]
    t = past(days=1)
    applied(events.request(at=t))
    for number, interval in enumerate([300, 900, 3600, 3600], start=1):
        done = unanswered_attempt(events, t, how)
        assert is_(events.callback(), PENDING, number)
        assert engine.apply_due_timers(now=done + seconds(interval - 1))["released"] == 0
        assert is_(events.callback(), PENDING, number), f"released early after attempt {number}"
        assert engine.apply_due_timers(now=done + seconds(interval))["released"] == 1
        assert is_(events.callback(), QUEUED, number), f"not released on time after attempt {number}"
        t = done + seconds(interval + 60)
    unanswered_attempt(events, t, how)
    assert ended(events.callback(), "failed", 5)


def test_pending_during_recall_interval_cannot_be_offered(events, business_process):
    """States: a callback Pending for its recall interval is not in queue, so it cannot be offered."""
    t = past(minutes=10)
    applied(events.request(at=t))
    unanswered_attempt(events, t, "no_answer")
    before = snapshot(events)
    assert_refused(events, events.offer(), before)


# ---------------------------------------------------------------------------------------------------------
# Cancel (by the agent)


def test_cancel_while_dialing_requeues_with_attempts_unchanged(events, business_process):
    """Rule 1 Cancel: back to queue, attempts unchanged (here after one counted attempt)."""
    t = past(hours=1)
    applied(events.request(at=t))
    done = unanswered_attempt(events, t, "no_answer")
    engine.apply_due_timers(now=done + seconds(300))
    applied(events.offer(at=done + seconds(310)))
    applied(events.accept(at=done + seconds(311)))
    callback = applied(events.complete("cancel", at=done + seconds(320)))
    assert is_(callback, QUEUED, 1)
    assert callback["current_agent"] is None
    assert [a["completion_status"] for a in callback["attempt_history"]] == ["no_answer", "cancel"]
    # Back in queue means it can be offered again, to anyone.
    assert is_(applied(events.offer(agent="agent-2")), OFFERED, 1)


def test_decline_while_offered_requeues(events, business_process):
    """Engine rule: while Offered the agent may decline with Cancel — back to queue, attempts unchanged."""
    applied(events.request())
    applied(events.offer())
    callback = applied(events.complete("cancel"))
    assert is_(callback, QUEUED, 0)
    assert callback["attempt_history"][0]["completion_status"] == "cancel"


def test_cancel_while_handling_is_refused(events, business_process):
    """Rule 3: once someone answered, Cancel is not a completion status the agent may choose."""
    applied(events.request())
    handling(events)
    before = snapshot(events)
    assert_refused(events, events.complete("cancel"), before)


# ---------------------------------------------------------------------------------------------------------
# Events that do not fit the current state: 409, nothing changed


@pytest.mark.parametrize("status", ["handled", "answering_machine"])
def test_completions_needing_an_answer_are_refused_while_dialing(events, business_process, status):
    """Rule 1: while Dialing only Cancel, No Answer, Callback Requested, Wrong Destination are allowed."""
    applied(events.request())
    events.dial()
    before = snapshot(events)
    assert_refused(events, events.complete(status), before)


def completion(status: str) -> dict:
    return {"reschedule_time": in_(3600).isoformat()} if status == "callback_requested" else {}


@pytest.mark.parametrize("status", ALL_AGENT_STATUSES)
def test_no_completion_while_queued(events, business_process, status):
    """Validation: a queued callback has no attempt in progress, so every completion is refused."""
    applied(events.request())
    before = snapshot(events)
    assert_refused(events, events.complete(status, **completion(status)), before)


@pytest.mark.parametrize("status", ALL_AGENT_STATUSES)
def test_no_completion_while_pending(events, business_process, status):
    """Validation: a Pending callback (after the agent's own No Answer) accepts no completion."""
    t = past(minutes=5)
    applied(events.request(at=t))
    unanswered_attempt(events, t, "no_answer")
    before = snapshot(events)
    assert_refused(events, events.complete(status, **completion(status)), before)


@pytest.mark.parametrize("status", ALL_AGENT_STATUSES)
def test_no_completion_once_ended(events, business_process, status):
    """Validation: a completed callback accepts no further completion."""
    applied(events.request())
    handling(events)
    applied(events.complete("handled"))
    before = snapshot(events)
    assert_refused(events, events.complete(status, **completion(status)), before)


@pytest.mark.parametrize("situation", ["pending", "offered", "dialing", "handling", "completed"])
def test_offer_while_not_queued_is_refused(events, business_process, situation):
    """Dispatching: only a queued callback can be offered."""
    t = past(minutes=5)
    applied(events.request(at=t))
    if situation == "pending":
        unanswered_attempt(events, t, "no_answer")
    elif situation in ("offered", "dialing", "handling", "completed"):
        applied(events.offer(at=t))
        if situation != "offered":
            applied(events.accept(at=t + seconds(1)))
        if situation in ("handling", "completed"):
            applied(events.connect(at=t + seconds(2)))
        if situation == "completed":
            applied(events.complete("handled", at=t + seconds(3)))
    before = snapshot(events)
    assert_refused(events, events.offer(agent="agent-2"), before)
    assert_refused(events, events.offer(agent="agent-1"), before)


def test_accept_by_another_agent_is_refused(events, business_process):
    """Rule 1: the offer is to one agent; another agent cannot accept it (and is not even created)."""
    applied(events.request())
    applied(events.offer())
    before = snapshot(events)
    assert_refused(events, events.accept(agent="agent-2"), before)
    assert not Agent.objects.filter(login_id="agent-2").exists()


def test_complete_by_another_agent_is_refused(events, business_process):
    """Rule 3: only the agent on the call sets its completion status."""
    applied(events.request())
    handling(events)
    before = snapshot(events)
    assert_refused(events, events.complete("handled", agent="agent-2"), before)


def test_connect_while_offered_is_refused(events, business_process):
    """Rule 1 → 3: a call must be accepted (Dialing) before anyone can answer it."""
    applied(events.request())
    applied(events.offer())
    before = snapshot(events)
    assert_refused(events, events.connect(), before)


def test_accept_twice_is_refused(events, business_process):
    """Rule 1: accept only fits an Offered callback."""
    applied(events.request())
    events.dial()
    before = snapshot(events)
    assert_refused(events, events.accept(), before)


def test_accept_while_queued_is_refused(events, business_process):
    """Rule 1: nothing to accept before an offer."""
    applied(events.request())
    before = snapshot(events)
    assert_refused(events, events.accept(), before)


# ---------------------------------------------------------------------------------------------------------
# The no-answer timer


@pytest.mark.parametrize("no_answer_seconds", [60, 10])
def test_no_answer_timer_fires_after_the_duration_and_not_before(events, make_business_process, no_answer_seconds):
    """Rule 2: Dialing for Duration For No Answer → the system tags the attempt No Answer, attempts + 1."""
    settings = {} if no_answer_seconds == 60 else {"no_answer_seconds": no_answer_seconds}
    make_business_process("SALES", **settings)
    accepted_at = past(minutes=5)
    applied(events.request(at=accepted_at - seconds(10)))
    applied(events.offer(at=accepted_at - seconds(5)))
    applied(events.accept(at=accepted_at))

    assert engine.apply_due_timers(now=accepted_at + seconds(no_answer_seconds - 1))["no_answer"] == 0
    assert is_(events.callback(), DIALING, 0)

    assert engine.apply_due_timers(now=accepted_at + seconds(no_answer_seconds))["no_answer"] == 1
    callback = events.callback()
    assert is_(callback, PENDING, 1)
    [attempt] = callback["attempt_history"]
    assert attempt["completion_status"] == "no_answer"
    assert attempt["completed_by_timer"] is True
    assert parse(attempt["completed_at"]) == accepted_at + seconds(no_answer_seconds)
    # The recall interval runs from the timer's No Answer.
    assert fetch().due_at == accepted_at + seconds(no_answer_seconds + 300)


def test_no_answer_timer_counts_once_however_often_it_ticks(events, business_process):
    """Rule 2 / timers: a repeated tick at the same instant (or later, still in the interval) counts nothing more."""
    accepted_at = past(minutes=5)
    applied(events.request(at=accepted_at))
    applied(events.offer(at=accepted_at))
    applied(events.accept(at=accepted_at))
    deadline = accepted_at + seconds(60)
    assert engine.apply_due_timers(now=deadline)["no_answer"] == 1
    audit_entries = AuditEntry.objects.count()
    after_first = events.callback()
    for now in (deadline, deadline, deadline + seconds(120)):
        assert engine.apply_due_timers(now=now) == {"no_answer": 0, "aborted": 0, "released": 0}
    assert events.callback() == after_first
    assert after_first["attempts"] == 1
    assert AuditEntry.objects.filter(action="attempt.no_answer_timeout").count() == 1
    assert AuditEntry.objects.count() == audit_entries


def test_an_answer_stops_the_no_answer_timer(events, business_process):
    """Rule 2: voicemail or a live answer within the duration means the timer never fires."""
    accepted_at = past(minutes=5)
    applied(events.request(at=accepted_at))
    applied(events.offer(at=accepted_at))
    applied(events.accept(at=accepted_at))
    applied(events.connect(at=accepted_at + seconds(59)))
    assert engine.apply_due_timers(now=accepted_at + seconds(600))["no_answer"] == 0
    assert is_(events.callback(), HANDLING, 0)


def test_agent_completion_while_dialing_stops_the_timer(events, business_process):
    """Rule 2: an attempt the agent already completed is not tagged again by the timer."""
    accepted_at = past(minutes=5)
    applied(events.request(at=accepted_at))
    applied(events.offer(at=accepted_at))
    applied(events.accept(at=accepted_at))
    applied(events.complete("no_answer", at=accepted_at + seconds(20)))
    assert engine.apply_due_timers(now=accepted_at + seconds(60))["no_answer"] == 0
    callback = events.callback()
    assert is_(callback, PENDING, 1)
    assert callback["attempt_history"][0]["completed_by_timer"] is False


def timer_no_answer(events, start: datetime, callback: str = "cb-1", agent: str = "agent-1") -> datetime:
    """Offer and accept at `start`, then let the 60 s timer tag No Answer; returns the deadline."""
    applied(events.offer(callback, agent, at=start))
    applied(events.accept(callback, agent, at=start))
    deadline = start + seconds(60)
    assert engine.apply_due_timers(now=deadline)["no_answer"] == 1
    return deadline


def test_timer_no_answer_may_be_amended_to_callback_requested(events, business_process):
    """Rule 2: after the automatic No Answer the agent may amend to Callback Requested; the count is taken back."""
    start = past(minutes=10)
    applied(events.request(at=start))
    timer_no_answer(events, start)
    assert events.callback()["attempts"] == 1
    reschedule_time = in_(7200).replace(microsecond=0)
    callback = applied(
        events.complete("callback_requested", reschedule_time=reschedule_time.isoformat(), reschedule_agent="agent-1")
    )
    assert is_(callback, PENDING, 0)
    assert parse(callback["desired_time"]) == reschedule_time
    assert callback["owner_agent"] == "agent-1"
    [attempt] = callback["attempt_history"]
    assert (attempt["completion_status"], attempt["completed_by_timer"]) == ("callback_requested", True)
    assert fetch().due_at == reschedule_time
    assert AuditEntry.objects.filter(action="attempt.amended", actor="api:tests").count() == 1


def test_timer_no_answer_may_be_amended_to_wrong_destination(events, business_process):
    """Rule 2: the automatic No Answer may be amended to Wrong Destination (end state WRONG_DESTINATION)."""
    start = past(minutes=10)
    applied(events.request(at=start))
    timer_no_answer(events, start)
    callback = applied(events.complete("wrong_destination"))
    assert ended(callback, "wrong_destination", 0)
    assert callback["attempt_history"][0]["completion_status"] == "wrong_destination"


@pytest.mark.parametrize("status", ["cancel", "handled", "answering_machine", "no_answer"])
def test_timer_no_answer_may_not_be_amended_to_other_statuses(events, business_process, status):
    """Rule 2: '… but not to Cancel' — only Callback Requested and Wrong Destination are amendments."""
    start = past(minutes=10)
    applied(events.request(at=start))
    timer_no_answer(events, start)
    before = snapshot(events)
    assert_refused(events, events.complete(status), before)


def test_timer_no_answer_may_not_be_amended_after_wrapup(events, business_process):
    """Rule 2: the amendment window closes when the agent finishes wrap-up."""
    start = past(minutes=10)
    applied(events.request(at=start))
    deadline = timer_no_answer(events, start)
    applied(events.wrapup(at=deadline + seconds(30)))
    before = snapshot(events)
    assert_refused(events, events.complete("wrong_destination"), before)
    assert_refused(events, events.complete("callback_requested", reschedule_time=in_(600).isoformat()), before)


def test_timer_no_answer_may_be_amended_only_once_and_only_by_its_agent(events, business_process):
    """Rule 2: the amendment belongs to the agent of the attempt, and replaces the No Answer once."""
    start = past(minutes=10)
    applied(events.request(at=start))
    timer_no_answer(events, start)
    before = snapshot(events)
    assert_refused(events, events.complete("wrong_destination", agent="agent-2"), before)
    applied(events.complete("callback_requested", reschedule_time=in_(600).isoformat()))
    before = snapshot(events)
    assert_refused(events, events.complete("wrong_destination"), before)


def test_amending_the_failing_timer_no_answer_gives_wrong_destination(events, business_process):
    """Rules 2 and 4: the timer's 3rd No Answer made it FAILED; amended to Wrong Destination it ends so instead."""
    t = past(days=1)
    applied(events.request(at=t))
    for interval in (300, 900):
        done = unanswered_attempt(events, t, "no_answer")
        t = done + seconds(interval)
        engine.apply_due_timers(now=t)
    timer_no_answer(events, t)
    assert ended(events.callback(), "failed", 3)
    callback = applied(events.complete("wrong_destination"))
    assert ended(callback, "wrong_destination", 2)
    assert [a["completion_status"] for a in callback["attempt_history"]] == [
        "no_answer",
        "no_answer",
        "wrong_destination",
    ]


def test_amending_the_failing_timer_no_answer_to_callback_requested_reopens_it(events, business_process):
    """Rules 2 and 4: amended to Callback Requested, the failed callback is Pending again with 2 attempts."""
    t = past(days=1)
    applied(events.request(at=t))
    for interval in (300, 900):
        done = unanswered_attempt(events, t, "no_answer")
        t = done + seconds(interval)
        engine.apply_due_timers(now=t)
    timer_no_answer(events, t)
    reschedule_time = in_(3600)
    callback = applied(events.complete("callback_requested", reschedule_time=reschedule_time.isoformat()))
    assert is_(callback, PENDING, 2)
    assert callback["completed_at"] is None


# ---------------------------------------------------------------------------------------------------------
# After Call Work


def test_wrapup_ends_after_call_work_once(events, business_process):
    """Rule 6: wrap-up sets the ACW end (handle time runs accept → ACW end); a second wrap-up is refused."""
    start = past(minutes=10)
    applied(events.request(at=start))
    applied(events.offer(at=start))
    applied(events.accept(at=start + seconds(5)))
    applied(events.connect(at=start + seconds(15)))
    applied(events.complete("handled", at=start + seconds(200)))
    acw_end = start + seconds(260)
    callback = applied(events.wrapup(at=acw_end))
    [attempt] = callback["attempt_history"]
    assert parse(attempt["acw_ended_at"]) == acw_end
    assert Attempt.objects.get().handle_time == seconds(255)
    assert AuditEntry.objects.filter(action="attempt.wrapup_completed", actor="api:tests").count() == 1

    before = snapshot(events)
    assert_refused(events, events.wrapup(at=acw_end + seconds(10)), before)


@pytest.mark.parametrize("phase", ["offered", "dialing", "handling"])
def test_wrapup_before_completion_is_refused(events, business_process, phase):
    """Rule 6: After Call Work follows the completion; wrap-up while the attempt is in progress is refused."""
    applied(events.request())
    applied(events.offer())
    if phase != "offered":
        applied(events.accept())
    if phase == "handling":
        applied(events.connect())
    before = snapshot(events)
    assert_refused(events, events.wrapup(), before)


def test_wrapup_by_an_agent_without_an_attempt_is_refused(events, business_process):
    """Rule 6: only the agent of the attempt ends its After Call Work."""
    applied(events.request())
    handling(events)
    applied(events.complete("handled"))
    before = snapshot(events)
    assert_refused(events, events.wrapup(agent="agent-2"), before)


def test_wrapup_after_the_timer_no_answer(events, business_process):
    """Rules 2 and 6: the agent ends wrap-up of an attempt the timer completed."""
    start = past(minutes=10)
    applied(events.request(at=start))
    deadline = timer_no_answer(events, start)
    callback = applied(events.wrapup(at=deadline + seconds(20)))
    assert parse(callback["attempt_history"][0]["acw_ended_at"]) == deadline + seconds(20)
    assert is_(callback, PENDING, 1)


# ---------------------------------------------------------------------------------------------------------
# Idempotency


def test_resubmitted_event_is_a_duplicate_that_changes_nothing(events, business_process):
    """Ingest: the same event_id again (even with other content) is a no-op answering 200 with the first answer."""
    request = event("callback.requested", "cb-1", business_process="SALES", phone="+12125550134")
    first = events.post(request)
    assert first.status_code == 201
    offer = event("attempt.offered", "cb-1", agent="agent-1")
    first_offer = events.post(offer)
    assert first_offer.status_code == 201
    applied(events.accept())

    before = snapshot(events)
    for resubmitted, original in (
        ({**request, "phone": "+442079460958", "customer_name": "Someone else"}, first),
        ({**offer, "type": "attempt.completed", "status": "handled"}, first_offer),
        (offer, first_offer),
        ({"event_id": offer["event_id"]}, first_offer),  # even with nothing else
    ):
        response = events.post(resubmitted)
        assert response.status_code == 200, response.json()
        body = response.json()
        assert body["result"] == "duplicate"
        assert {**body, "result": "applied"} == original.json()
        assert snapshot(events) == before
    assert is_(before["callback"], DIALING, 0)
    assert Callback.objects.get().phone == "+12125550134"


@pytest.mark.parametrize("event_id", [4242, " evt-spaced "])
def test_resubmitted_event_with_a_number_or_padded_id_is_a_duplicate(events, business_process, event_id):
    """Ingest: the id is compared as stored (a number or surrounding spaces do not make it a new event)."""
    applied(events.request())
    offer = {**event("attempt.offered", "cb-1", agent="agent-1"), "event_id": event_id}
    first = events.post(offer)
    assert first.status_code == 201, first.json()
    before = snapshot(events)
    again = events.post(offer)
    assert again.status_code == 200, again.json()
    assert {**again.json(), "result": "applied"} == first.json()
    assert snapshot(events) == before


# ---------------------------------------------------------------------------------------------------------
# Cancellation (integration) and supervisor actions


@pytest.mark.parametrize("situation", ["queued", "pending_desired_time", "pending_recall", "offered"])
def test_callback_cancelled_ends_cancelled(events, business_process, situation):
    """Rule 5: callback.cancelled ends CANCELLED from Pending and Queued (and Offered: attempt Withdrawn)."""
    t = past(minutes=10)
    if situation == "pending_desired_time":
        applied(events.request(desired_time=in_(3600).isoformat()))
    else:
        applied(events.request(at=t))
    if situation == "pending_recall":
        unanswered_attempt(events, t, "no_answer")
    if situation == "offered":
        applied(events.offer())
    callback = applied(events.cancel(reason="customer called in"))
    assert ended(callback, "cancelled", 1 if situation == "pending_recall" else 0)
    if situation == "offered":
        assert callback["attempt_history"][0]["completion_status"] == "withdrawn"
    entry = AuditEntry.objects.get(action="callback.cancelled")
    assert (entry.actor, entry.note) == ("api:tests", "customer called in")


@pytest.mark.parametrize("situation", ["dialing", "handling", "reached", "cancelled"])
def test_callback_cancelled_refused_while_processing_or_ended(events, business_process, situation):
    """Rule 7: a callback in PROCESSING cannot be cancelled; nor can one already ended."""
    applied(events.request())
    if situation == "cancelled":
        applied(events.cancel())
    else:
        events.dial()
        if situation in ("handling", "reached"):
            applied(events.connect())
        if situation == "reached":
            applied(events.complete("handled"))
    before = snapshot(events)
    assert_refused(events, events.cancel(), before)


@pytest.mark.parametrize("situation", ["queued", "pending", "offered"])
def test_purge_ends_purged(events, business_process, situation):
    """Rule 5: a supervisor's purge ends PURGED, audited under the supervisor's name."""
    if situation == "pending":
        applied(events.request(desired_time=in_(3600).isoformat()))
    else:
        applied(events.request())
    if situation == "offered":
        applied(events.offer())
    engine.purge(fetch().pk, timezone.now(), SUPERVISOR)
    assert ended(events.callback(), "purged", 0)
    entry = AuditEntry.objects.get(action="callback.purged")
    assert entry.actor == "user:x"
    assert entry.changes["end_state"] == ["", "purged"]


@pytest.mark.parametrize("situation", ["dialing", "handling", "reached", "purged"])
def test_purge_refused_while_processing_or_ended(events, business_process, situation):
    """Rule 7: never purge a callback in PROCESSING; an ended callback cannot be purged either."""
    applied(events.request())
    if situation == "purged":
        engine.purge(fetch().pk, timezone.now(), SUPERVISOR)
    else:
        events.dial()
        if situation in ("handling", "reached"):
            applied(events.connect())
        if situation == "reached":
            applied(events.complete("handled"))
    before = snapshot(events)
    with pytest.raises(engine.TransitionRefused):
        engine.purge(fetch().pk, timezone.now(), SUPERVISOR)
    assert snapshot(events) == before


def test_send_to_queue_moves_a_pending_callback_at_once(events, business_process):
    """States: a supervisor may send a Pending callback to queue before its time."""
    applied(events.request(desired_time=in_(3600).isoformat()))
    assert is_(events.callback(), PENDING, 0)
    engine.send_to_queue(fetch().pk, timezone.now(), SUPERVISOR)
    assert is_(events.callback(), QUEUED, 0)
    assert AuditEntry.objects.filter(action="callback.sent_to_queue", actor="user:x").count() == 1


@pytest.mark.parametrize("situation", ["queued", "offered", "dialing", "reached"])
def test_send_to_queue_only_from_pending(events, business_process, situation):
    """Supervisor actions: send to queue applies to Pending callbacks only."""
    applied(events.request())
    if situation != "queued":
        applied(events.offer())
    if situation in ("dialing", "reached"):
        applied(events.accept())
    if situation == "reached":
        applied(events.connect())
        applied(events.complete("handled"))
    before = snapshot(events)
    with pytest.raises(engine.TransitionRefused):
        engine.send_to_queue(fetch().pk, timezone.now(), SUPERVISOR)
    assert snapshot(events) == before


# ---------------------------------------------------------------------------------------------------------
# Stopped and Off Schedule: nothing is dispatched


def test_nothing_is_dispatched_while_stopped(events, business_process):
    """States: while Stopped, no offer and no release of due Pending callbacks; Resume releases them."""
    applied(events.request("cb-queued"))
    applied(events.request("cb-pending", desired_time=in_(60).isoformat()))
    engine.set_stopped(business_process.pk, True, SUPERVISOR)

    before = snapshot(events, "cb-queued")
    response = events.offer("cb-queued")
    assert_refused(events, response, before, "cb-queued")
    assert "stopped" in response.json()["error"]

    later = in_(120)
    engine.apply_due_timers(now=later)
    assert is_(events.callback("cb-pending"), PENDING, 0)
    # An immediate request while stopped waits as Pending.
    assert is_(applied(events.request("cb-new")), PENDING, 0)

    engine.set_stopped(business_process.pk, False, SUPERVISOR)
    assert engine.apply_due_timers(now=later)["released"] == 2
    assert is_(events.callback("cb-pending"), QUEUED, 0)
    assert is_(events.callback("cb-new"), QUEUED, 0)
    assert is_(events.callback("cb-queued"), QUEUED, 0)  # kept its place
    assert is_(applied(events.offer("cb-queued")), OFFERED, 0)


def test_nothing_is_dispatched_off_schedule(events, make_business_process):
    """States: with the schedule closed an immediate request is Pending, not offered, not released — until it opens."""
    night = make_business_process("NIGHT", open=False)
    callback = applied(events.request(business_process="NIGHT"))
    assert is_(callback, PENDING, 0)

    before = snapshot(events)
    assert_refused(events, events.offer(), before)
    assert engine.apply_due_timers()["released"] == 0
    assert is_(events.callback(), PENDING, 0)

    now = timezone.now()
    ScheduleRange.objects.create(business_process=night, weekday=now.weekday(), start=time(0), end=time(0))
    assert engine.apply_due_timers(now=now)["released"] == 1
    assert is_(events.callback(), QUEUED, 0)
    assert is_(applied(events.offer()), OFFERED, 0)


def test_a_callback_sent_to_queue_off_schedule_is_not_offered(events, make_business_process):
    """States: Off Schedule, even a queued callback (sent there by a supervisor) is not offered."""
    make_business_process("NIGHT", open=False)
    applied(events.request(business_process="NIGHT"))
    engine.send_to_queue(fetch().pk, timezone.now(), SUPERVISOR)
    before = snapshot(events)
    response = events.offer()
    assert_refused(events, response, before)
    assert "off schedule" in response.json()["error"]


def test_desired_time_in_the_future_waits_until_then(events, business_process):
    """States: a desired time in the future → Pending (SCHEDULED) until then, then in queue."""
    desired = in_(1800).replace(microsecond=0)
    callback = applied(events.request(desired_time=desired.isoformat()))
    assert is_(callback, PENDING, 0)
    assert parse(callback["desired_time"]) == desired
    before = snapshot(events)
    assert_refused(events, events.offer(), before)

    assert engine.apply_due_timers(now=desired - seconds(1))["released"] == 0
    assert is_(events.callback(), PENDING, 0)
    assert engine.apply_due_timers(now=desired)["released"] == 1
    assert is_(events.callback(), QUEUED, 0)


def test_an_agent_owned_callback_is_offered_only_to_its_owner(events, business_process):
    """Dispatching: a callback requested with an owner agent is offered to that agent only."""
    callback = applied(events.request(owner_agent="agent-7"))
    assert is_(callback, QUEUED, 0)
    assert callback["owner_agent"] == "agent-7"
    before = snapshot(events)
    assert_refused(events, events.offer(agent="agent-1"), before)
    assert is_(applied(events.offer(agent="agent-7")), OFFERED, 0)


def test_desired_time_slightly_past_is_immediate(events, business_process):
    """Requesting: a desired time up to 5 minutes in the past is a clock difference — the callback is due now."""
    callback = applied(events.request(desired_time=in_(-120).isoformat()))
    assert is_(callback, QUEUED, 0)


# ---------------------------------------------------------------------------------------------------------
# The audit log


def test_every_transition_is_audited_with_actor_and_changes(events, business_process):
    """Audit: every applied event writes one entry — actor api:tests, action, and before → after of what changed."""
    start = past(minutes=10)
    steps = [
        (lambda: events.request(at=start), "callback.requested", {"state": [None, "queued"], "attempts": [None, 0]}),
        (
            lambda: events.offer(at=start + seconds(1)),
            "attempt.offered",
            {"state": ["queued", "routing"], "agent_phase": ["", "offered"]},
        ),
        (
            lambda: events.accept(at=start + seconds(2)),
            "attempt.accepted",
            {"state": ["routing", "processing"], "agent_phase": ["offered", "dialing"]},
        ),
        (lambda: events.connect(at=start + seconds(3)), "attempt.connected", {"agent_phase": ["dialing", "handling"]}),
        (
            lambda: events.complete("answering_machine", at=start + seconds(4)),
            "attempt.completed",
            {"state": ["processing", "scheduled"], "agent_phase": ["handling", ""], "attempts": [0, 1]},
        ),
        (
            lambda: events.wrapup(at=start + seconds(5)),
            "attempt.wrapup_completed",
            {"acw_ended_at": [None, (start + seconds(5)).isoformat()]},
        ),
    ]
    for post, action, expected_changes in steps:
        count = AuditEntry.objects.count()
        applied(post())
        assert AuditEntry.objects.count() == count + 1
        entry = AuditEntry.objects.order_by("-id").first()
        assert (entry.actor, entry.action, entry.callback_ref) == ("api:tests", action, "cb-1")
        assert entry.callback_id == fetch().pk
        assert entry.business_process_id == business_process.pk
        for field, before_after in expected_changes.items():
            assert entry.changes[field] == before_after, (action, field, entry.changes)
        assert entry.changes, action
        for before, after in entry.changes.values():
            assert before != after

    offered = AuditEntry.objects.get(action="attempt.offered")
    assert offered.changes["current_agent_id"] == [None, Agent.objects.get(login_id="agent-1").pk]

    engine.apply_due_timers(now=start + seconds(4 + 300))
    released = AuditEntry.objects.order_by("-id").first()
    assert (released.actor, released.action) == ("system", "callback.released")
    assert released.changes["state"] == ["scheduled", "queued"]


def test_timer_no_answer_is_audited_as_system(events, business_process):
    """Audit: the timer's No Answer is written under the actor system, with the attempt count change."""
    start = past(minutes=10)
    applied(events.request(at=start))
    timer_no_answer(events, start)
    entry = AuditEntry.objects.get(action="attempt.no_answer_timeout")
    assert entry.actor == "system"
    assert entry.changes["attempts"] == [0, 1]
    assert entry.changes["state"] == ["processing", "scheduled"]


# ---------------------------------------------------------------------------------------------------------
# Batches


def test_batch_applies_in_order_each_in_its_own_transaction(events, business_process):
    """Ingest: an array is applied in order; a rejected event does not undo the others; results in order."""
    request = event("callback.requested", "cb-1", business_process="SALES", phone="+12125550134")
    offer = event("attempt.offered", "cb-1", agent="agent-1")
    batch = [
        request,
        offer,
        event("attempt.completed", "cb-1", agent="agent-1", status="handled"),  # 409: still Offered
        event("attempt.accepted", "cb-1", agent="agent-1"),
        offer,  # duplicate
        event("callback.requested", "cb-2", business_process="SALES", phone="not a phone"),  # 400
        event("attempt.connected", "cb-1", agent="agent-1", answered_by="voicemail"),
    ]
    response = events.post(batch)
    assert response.status_code == 200, response.json()
    results = response.json()["results"]
    assert [r["event_id"] for r in results] == [e["event_id"] for e in batch]
    assert [r["result"] for r in results] == [
        "applied",
        "applied",
        "rejected",
        "applied",
        "duplicate",
        "rejected",
        "applied",
    ]
    assert isinstance(results[2]["error"], str) and results[2]["error"]
    assert "phone" in results[5]["error"]
    assert is_(events.callback(), HANDLING, 0)
    assert not Callback.objects.filter(external_id="cb-2").exists()
    assert IngestedEvent.objects.count() == 4
    assert AuditEntry.objects.count() == 4


def test_batch_order_matters(events, business_process):
    """Ingest: events of an array are applied in the order sent — an offer before its request is rejected."""
    batch = [
        event("attempt.offered", "cb-1", agent="agent-1"),
        event("callback.requested", "cb-1", business_process="SALES", phone="+12125550134"),
    ]
    results = events.post(batch).json()["results"]
    assert [r["result"] for r in results] == ["rejected", "applied"]
    assert is_(events.callback(), QUEUED, 0)
