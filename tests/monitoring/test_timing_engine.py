"""A saved Callback Timing change applies to the engine's very next decision; waiting callbacks keep their place."""

from datetime import time, timedelta

import pytest
from django.utils import timezone

from callbacks import engine, timing
from callbacks.choices import AuditAction, CallbackState, CompletionStatus, EndState
from callbacks.models import Agent, AuditEntry, BusinessProcess
from tests.conftest import fetch

ADMIN = engine.Actor("user:admin")
ACTOR = engine.Actor("tests")
ALWAYS = {day: [(time(0), time(0))] for day in range(7)}
NEVER = {day: [] for day in range(7)}


def change(bp: BusinessProcess, **changes) -> BusinessProcess:
    """Save settings the way the Timing tab does (the other values unchanged)."""
    bp = BusinessProcess.objects.get(pk=bp.pk)
    values = timing.settings_values(bp) | {"max_schedule_ahead": bp.max_schedule_ahead} | changes
    return timing.change_settings(bp.pk, values, ADMIN, timing.timing_version(bp.pk))


def change_schedule(bp: BusinessProcess, weekly) -> None:
    timing.change_schedule(bp.pk, weekly, [], ADMIN, timing.timing_version(bp.pk))


@pytest.fixture
def agent(db) -> Agent:
    return Agent.objects.create(login_id="agent-1")


def request(bp: BusinessProcess, external_id: str = "cb-1", **fields):
    return engine.request_callback(
        external_id=external_id, business_process=bp, phone="+33142685300", at=timezone.now(), actor=ACTOR, **fields
    )


def unanswered_attempt(callback_id, agent: Agent) -> None:
    now = timezone.now()
    engine.offer(callback_id, agent, now, ACTOR)
    engine.accept(callback_id, agent, now, ACTOR)
    engine.complete(callback_id, agent, CompletionStatus.NO_ANSWER, now, ACTOR)


def test_lowering_attempts_before_failure_fails_the_callback_on_its_next_unanswered_attempt(business_process, agent):
    callback = request(business_process)
    unanswered_attempt(callback.pk, agent)
    assert fetch().state == CallbackState.SCHEDULED and fetch().attempts == 1  # 1 of 3: waits for a recall

    change(business_process, attempts_before_failure=2)
    engine.send_to_queue(callback.pk, timezone.now(), ACTOR)
    unanswered_attempt(callback.pk, agent)

    callback = fetch()
    assert (callback.state, callback.end_state, callback.attempts) == (CallbackState.COMPLETED, EndState.FAILED, 2)


def test_a_shorter_duration_for_no_answer_applies_to_the_next_accept(business_process, agent):
    callback = request(business_process)
    change(business_process, no_answer_seconds=15)
    now = timezone.now()
    engine.offer(callback.pk, agent, now, ACTOR)
    engine.accept(callback.pk, agent, now, ACTOR)
    assert fetch().due_at == now + timedelta(seconds=15)

    engine.apply_due_timers(now + timedelta(seconds=16))
    assert fetch().attempts == 1 and fetch().state == CallbackState.SCHEDULED


def test_new_recall_intervals_apply_to_the_next_recall_and_waiting_callbacks_keep_their_time(business_process, agent):
    waiting = request(business_process, "waiting")
    unanswered_attempt(waiting.pk, agent)
    waiting_until = fetch("waiting").due_at

    change(business_process, recall_intervals=[42, 4200])
    assert fetch("waiting").due_at == waiting_until, "a callback already waiting keeps its place"

    callback = request(business_process, "next")
    before = timezone.now()
    unanswered_attempt(callback.pk, agent)
    due = fetch("next").due_at
    assert before + timedelta(seconds=42) <= due <= timezone.now() + timedelta(seconds=42)


def test_opening_the_schedule_decides_the_next_dispatch(make_business_process):
    bp = make_business_process("SHUT", open=False)
    callback = request(bp)
    assert fetch().state == CallbackState.SCHEDULED  # Off Schedule: waits, due now
    engine.apply_due_timers()
    assert fetch().state == CallbackState.SCHEDULED

    change_schedule(bp, ALWAYS)
    result = engine.apply_due_timers()

    assert result["released"] == 1 and fetch().state == CallbackState.QUEUED
    assert callback.pk == fetch().pk


def test_closing_the_schedule_now_follows_the_aborted_rule_at_once(business_process, agent):
    engine.apply_due_timers()  # the tick sees the schedule open
    untried = request(business_process, "untried")
    tried = request(business_process, "tried")
    engine.offer(tried.pk, agent, timezone.now(), ACTOR)
    engine.complete(tried.pk, agent, CompletionStatus.CANCEL, timezone.now(), ACTOR)
    pending = request(business_process, "pending", desired_time=timezone.now() + timedelta(hours=2))

    change_schedule(business_process, NEVER)

    assert fetch("untried").end_state == EndState.ABORTED, "the save closed the schedule: the timers need not look"
    assert BusinessProcess.objects.get(pk=business_process.pk).schedule_open is False
    assert engine.apply_due_timers()["aborted"] == 0, "closed once"
    assert fetch("tried").state == CallbackState.QUEUED, "tried today: keeps its place for the next opening"
    assert fetch("pending").state == CallbackState.SCHEDULED and fetch("pending").due_at == pending.due_at
    assert untried.pk != tried.pk
    actions = list(AuditEntry.objects.filter(business_process=business_process).values_list("action", flat=True))
    assert AuditAction.SCHEDULE_CHANGED in actions and AuditAction.SCHEDULE_CLOSED in actions
    with pytest.raises(engine.TransitionRefused, match="off schedule"):
        engine.offer(tried.pk, agent, timezone.now(), ACTOR)
