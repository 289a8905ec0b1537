"""A Celery worker SIGKILLed in the middle of the timer task: every timer is applied exactly once.

How the kill lands mid-task, deterministically: the workers run tests/faults/pausing_worker.py's app, which
pauses the timer task right after a chosen SQL statement — inside the transaction of one timer, its write done
and not committed — and writes the pid of the pool process to a file. The test waits for that file and kills:

1. the whole worker (parent and pool) in the first no-answer expiry: the message stays unacknowledged in Redis
   (acks_late); the next worker applies the timers at the next tick, as beat sends one every second;
2. the whole worker again in the schedule closing (after it committed every no-answer);
3. only the pool process, in the first batch of releases: the parent sees its child lost and requeues the
   message (reject_on_worker_lost), and its new pool process runs the task again without any new tick.

Each timer re-checks its condition under a lock in a transaction of its own, so the killed transaction leaves
nothing behind and the next run applies it once.
"""

import os
import signal
from datetime import timedelta

import pytest
from django.utils import timezone

from callbacks.choices import AgentPhase, AuditAction, CallbackState, CompletionStatus, EndState
from callbacks.engine import TIMER_BATCH
from callbacks.models import Agent, Attempt, AuditEntry, BusinessProcess, Callback

from .conftest import wait_for

pytestmark = [pytest.mark.slow, pytest.mark.worker]

TIMER_TASK = "callbacks.tasks.apply_due_timers"
DIALING, DUE, UNTRIED = 30, TIMER_BATCH + 100, 20


def make_due_timers(make_business_process) -> None:
    """Due now: DIALING no-answer deadlines, DUE recall releases (two batches), a schedule closing over UNTRIED
    queued callbacks. Written straight to the database: no event, no timer applied yet."""
    now = timezone.now()
    dial = make_business_process("DIAL", no_answer_seconds=10, schedule_open=True)
    recall = make_business_process("RECALL", schedule_open=True)
    closing = make_business_process("CLOSING", open=False, schedule_open=True)  # closed now, open at its last look
    agent = Agent.objects.create(login_id="agent-k", display_name="Kim")
    dialing = Callback.objects.bulk_create(
        Callback(
            external_id=f"dial-{n}",
            business_process=dial,
            phone="+12125550100",
            state=CallbackState.PROCESSING,
            agent_phase=AgentPhase.DIALING,
            current_agent=agent,
            created=now - timedelta(seconds=40),
            queued_at=now - timedelta(seconds=40),
            last_attempt_at=now - timedelta(seconds=30),
            due_at=now - timedelta(seconds=15),
        )
        for n in range(DIALING)
    )
    Attempt.objects.bulk_create(
        Attempt(
            callback=callback,
            business_process=dial,
            number=1,
            agent=agent,
            offered_at=now - timedelta(seconds=30),
            accepted_at=now - timedelta(seconds=25),
        )
        for callback in dialing
    )
    Callback.objects.bulk_create(
        Callback(
            external_id=f"recall-{n}",
            business_process=recall,
            phone="+12125550101",
            state=CallbackState.SCHEDULED,
            attempts=1,
            created=now - timedelta(minutes=10),
            due_at=now - timedelta(seconds=1),
        )
        for n in range(DUE)
    )
    Callback.objects.bulk_create(
        Callback(
            external_id=f"untried-{n}",
            business_process=closing,
            phone="+12125550102",
            state=CallbackState.QUEUED,
            created=now - timedelta(minutes=1),
            queued_at=now - timedelta(minutes=1),
        )
        for n in range(UNTRIED)
    )


def audits(action: str) -> int:
    return AuditEntry.objects.filter(action=action).count()


def timer_tasks_succeeded(worker) -> int:
    return sum(TIMER_TASK in line and " succeeded " in line for line in worker.log_tail(100_000).splitlines())


def paused_worker(system, name: str, statement: str):
    """A worker that pauses in the timer task right after `statement`; returns it and the file its pid goes to."""
    pause_file = system.tmp / f"{name}.pid"
    worker = system.worker(
        name,
        app="tests.faults.pausing_worker",
        extra_env={"CALLBACKS_FAULT_PAUSE_ON": statement, "CALLBACKS_FAULT_PAUSE_FILE": str(pause_file)},
    )
    return worker, pause_file


def test_a_worker_killed_mid_task_applies_every_timer_exactly_once(system, make_business_process):
    make_due_timers(make_business_process)

    # 1. Killed (all of it) inside the first no-answer expiry: that transaction leaves nothing.
    first, paused = paused_worker(system, "first", 'UPDATE "callbacks_attempt"')
    system.send_task(TIMER_TASK)
    wait_for(paused.exists, 60, "the first worker paused in a no-answer expiry")
    first.kill(signal.SIGKILL)
    assert audits(AuditAction.NO_ANSWER_TIMEOUT) == 0
    assert not Attempt.objects.filter(completion_status=CompletionStatus.NO_ANSWER).exists()

    # 2. The next worker takes the next tick; killed (all of it) inside the schedule closing, after the expiries.
    second, paused = paused_worker(system, "second", 'UPDATE "callbacks_businessprocess"')
    system.send_task(TIMER_TASK)
    wait_for(paused.exists, 60, "the second worker paused in the schedule closing")
    second.kill(signal.SIGKILL)
    assert audits(AuditAction.NO_ANSWER_TIMEOUT) == DIALING
    assert audits(AuditAction.SCHEDULE_CLOSED) == audits(AuditAction.ABORTED) == 0
    assert BusinessProcess.objects.get(code="CLOSING").schedule_open

    # 3. Only the pool process is killed, in the first batch of releases: its message is redelivered.
    third, paused = paused_worker(system, "third", 'UPDATE "callbacks_callback" SET "state"')
    system.send_task(TIMER_TASK)
    wait_for(paused.exists, 60, "the third worker paused in a batch of releases")
    assert audits(AuditAction.RELEASED_TO_QUEUE) == 0
    pool_process = int(paused.read_text())
    assert pool_process != third.pid
    os.kill(pool_process, signal.SIGKILL)  # the worker's parent reaps it and starts another
    wait_for(lambda: audits(AuditAction.RELEASED_TO_QUEUE) == DUE, 60, "the redelivered task releasing everything")
    third.check_alive()

    # Two more ticks change nothing: every timer was applied once.
    for _ in range(2):
        system.send_task(TIMER_TASK)
    wait_for(lambda: timer_tasks_succeeded(third) == 3, 60, "the redelivered task and two more ticks done")

    assert audits(AuditAction.NO_ANSWER_TIMEOUT) == DIALING
    assert audits(AuditAction.RELEASED_TO_QUEUE) == DUE
    assert audits(AuditAction.SCHEDULE_CLOSED) == 1
    assert audits(AuditAction.ABORTED) == UNTRIED
    dialed = Callback.objects.filter(external_id__startswith="dial-")
    assert set(dialed.values_list("state", "attempts")) == {(CallbackState.SCHEDULED, 1)}
    assert Attempt.objects.filter(callback__in=dialed).count() == DIALING  # no attempt made twice
    assert (
        Attempt.objects.filter(
            callback__in=dialed, completion_status=CompletionStatus.NO_ANSWER, completed_by_timer=True
        ).count()
        == DIALING
    )
    assert set(Callback.objects.filter(external_id__startswith="recall-").values_list("state", flat=True)) == {
        CallbackState.QUEUED
    }
    untried = Callback.objects.filter(external_id__startswith="untried-")
    assert set(untried.values_list("state", "end_state")) == {(CallbackState.COMPLETED, EndState.ABORTED)}
    assert Attempt.objects.filter(callback__in=untried, completion_status=CompletionStatus.ABORTED).count() == UNTRIED
    closing = BusinessProcess.objects.get(code="CLOSING")
    assert not closing.schedule_open
