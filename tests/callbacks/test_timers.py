"""Timers by the system: one tick applies whatever is due, and a lost or repeated tick loses or doubles nothing."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from callbacks import engine, tasks
from callbacks.choices import AuditAction, CallbackState, CompletionStatus
from callbacks.models import Agent, AuditEntry
from tests.conftest import fetch

ACTOR = engine.Actor("tests")


def dialing_since(business_process, external_id: str, seconds_ago: float):
    """A callback whose agent accepted it `seconds_ago`: its no-answer deadline is counted from then."""
    at = timezone.now() - timedelta(seconds=seconds_ago)
    agent, _ = Agent.objects.get_or_create(login_id="agent-1")
    callback = engine.request_callback(
        external_id=external_id, business_process=business_process, phone="+12125550134", at=at, actor=ACTOR
    )
    engine.offer(callback.pk, agent, at, ACTOR)
    return engine.accept(callback.pk, agent, at, ACTOR)


def pending_until(business_process, external_id: str, seconds_from_now: float):
    """A callback waiting out a recall interval that ends `seconds_from_now`."""
    callback = dialing_since(business_process, external_id, 0)
    agent = callback.current_agent
    engine.complete(callback.pk, agent, CompletionStatus.NO_ANSWER, timezone.now(), ACTOR)
    callback = fetch(external_id)
    callback.due_at = timezone.now() + timedelta(seconds=seconds_from_now)
    callback.save(update_fields=["due_at"])
    return callback


def test_the_task_applies_a_due_no_answer(business_process):
    dialing_since(business_process, "late", seconds_ago=business_process.no_answer_seconds + 1)
    dialing_since(business_process, "on-time", seconds_ago=business_process.no_answer_seconds - 5)

    tasks.apply_due_timers()

    late, on_time = fetch("late"), fetch("on-time")
    assert (late.state, late.attempts) == (CallbackState.SCHEDULED, 1)
    assert late.attempt_set.get().completion_status == CompletionStatus.NO_ANSWER
    assert late.attempt_set.get().completed_by_timer
    assert (on_time.state, on_time.agent_phase, on_time.attempts) == (CallbackState.PROCESSING, "dialing", 0)


def test_the_timer_completes_at_the_deadline_not_at_the_tick(business_process):
    callback = dialing_since(business_process, "late", seconds_ago=600)

    tasks.apply_due_timers()

    attempt = fetch("late").attempt_set.get()
    assert attempt.completed_at == callback.due_at
    assert attempt.completed_at - attempt.accepted_at == timedelta(seconds=business_process.no_answer_seconds)


def test_a_lost_tick_loses_nothing_the_next_one_applies_everything_due(business_process):
    """No tick ran for ten minutes: the next one applies every kind of timer that came due meanwhile."""
    # Its deadline passed a minute ago; its recall interval (5 min) has not.
    dialing_since(business_process, "no-answer", seconds_ago=120)
    pending_until(business_process, "recall", seconds_from_now=-300)
    pending_until(business_process, "not-yet", seconds_from_now=300)

    applied = engine.apply_due_timers()

    assert applied["no_answer"] == 1
    assert applied["released"] == 1
    assert fetch("no-answer").state == CallbackState.SCHEDULED
    assert fetch("recall").state == CallbackState.QUEUED
    assert fetch("not-yet").state == CallbackState.SCHEDULED


def test_a_repeated_tick_doubles_nothing(business_process):
    dialing_since(business_process, "no-answer", seconds_ago=120)
    pending_until(business_process, "recall", seconds_from_now=-1)
    now = timezone.now()

    engine.apply_due_timers(now)
    first = (fetch("no-answer").attempts, fetch("recall").state, AuditEntry.objects.count())
    again = engine.apply_due_timers(now)

    assert again == {"no_answer": 0, "aborted": 0, "released": 0}
    assert (fetch("no-answer").attempts, fetch("recall").state, AuditEntry.objects.count()) == first
    assert first[0] == 1


def test_a_no_answer_does_not_fire_once_the_call_is_answered(business_process):
    callback = dialing_since(business_process, "answered", seconds_ago=30)
    engine.connect(callback.pk, callback.current_agent, "person", timezone.now(), ACTOR)

    engine.apply_due_timers(timezone.now() + timedelta(hours=1))

    answered = fetch("answered")
    assert (answered.state, answered.agent_phase, answered.attempts) == (CallbackState.PROCESSING, "handling", 0)


@pytest.mark.worker
def test_a_real_worker_applies_each_timer_exactly_once(make_business_process, celery_worker):
    """Three copies of the tick reach a real Celery worker over Redis: the timer is applied once."""
    business_process = make_business_process()
    dialing_since(business_process, "no-answer", seconds_ago=120)
    pending_until(business_process, "recall", seconds_from_now=-1)

    for _ in range(3):
        tasks.apply_due_timers.delay()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and fetch("recall").state != CallbackState.QUEUED:
        time.sleep(0.1)
    time.sleep(0.5)  # let the remaining copies of the tick run too

    assert fetch("no-answer").attempts == 1
    assert fetch("recall").state == CallbackState.QUEUED
    assert AuditEntry.objects.filter(action=AuditAction.NO_ANSWER_TIMEOUT).count() == 1
    assert AuditEntry.objects.filter(action=AuditAction.RELEASED_TO_QUEUE).count() == 1


def test_a_connection_after_the_deadline_is_refused_even_if_no_tick_ran(events, business_process):
    """The timer owed a No Answer at the deadline: an answer reported later comes too late."""
    accepted_at = timezone.now() - timedelta(seconds=90)
    assert events.request().status_code == 201
    events.offer(at=accepted_at)
    events.accept(at=accepted_at)

    response = events.connect()

    assert response.status_code == 409
    assert "No Answer" in response.json()["error"]
    callback = events.callback()
    assert (callback["state"], callback["interaction_state"], callback["attempts"]) == ("processing", "dialing", 0)
    engine.apply_due_timers()
    assert events.callback()["attempts"] == 1


def test_a_completion_after_the_deadline_amends_the_no_answer_the_timer_owed(events, business_process):
    accepted_at = timezone.now() - timedelta(seconds=90)
    assert events.request().status_code == 201
    events.offer(at=accepted_at)
    events.accept(at=accepted_at)

    response = events.complete("wrong_destination")

    assert response.status_code == 201
    callback = events.callback()
    assert (callback["end_state"], callback["attempts"]) == ("wrong_destination", 0)
    attempt = callback["attempt_history"][0]
    assert (attempt["completion_status"], attempt["completed_by_timer"]) == ("wrong_destination", True)
