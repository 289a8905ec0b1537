"""Random sequences of events, supervisor actions and passing time driven through the lifecycle engine, checked
after every step against a small model of the rules of /work/shared/DESIGN.md ("Agent-side rules", "Supervisor
actions", "Timers"), written here again from the design, independently of callbacks/engine.py.

Each step is applied by the engine and by the model; the model says whether the engine must refuse it. After each
step the database must equal the model (so a refused step changed nothing), and:
    - attempts never exceed Attempts Before Failure;
    - state, interaction state, end state and agent agree with each other;
    - a callback that ended never moves again (the one exception the design makes: until wrap-up ends, the agent
      may amend the timer's No Answer, even once it made the callback fail);
    - the monitor's counters (monitoring.columns.compute_rows) equal a count made from the model.
Time passes by steps (1 s to 3 h) and ``engine.apply_due_timers`` runs then: no-answer expiry, recall intervals and
desired times coming due, a schedule opening and closing (08:00-18:00 UTC on the business process DAY).
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta

import pytest
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from callbacks import engine
from callbacks.choices import AgentPhase, CallbackState, CompletionStatus, EndState
from callbacks.models import Agent, Attempt, BusinessProcess, Callback, ScheduleRange
from monitoring.columns import compute_rows

S, Q, R, P, C = (CallbackState.SCHEDULED, CallbackState.QUEUED, CallbackState.ROUTING, CallbackState.PROCESSING,
                 CallbackState.COMPLETED)  # fmt: skip
OFFERED, DIALING, HANDLING = AgentPhase.OFFERED, AgentPhase.DIALING, AgentPhase.HANDLING
NO_ANSWER, AM, HANDLED = CompletionStatus.NO_ANSWER, CompletionStatus.ANSWERING_MACHINE, CompletionStatus.HANDLED
CANCEL, CB_REQUESTED, WRONG = (
    CompletionStatus.CANCEL,
    CompletionStatus.CALLBACK_REQUESTED,
    CompletionStatus.WRONG_DESTINATION,
)
AGENT_STATUSES = [HANDLED, AM, NO_ANSWER, CANCEL, CB_REQUESTED, WRONG]
ALLOWED = {
    OFFERED: {CANCEL},
    DIALING: {CANCEL, NO_ANSWER, CB_REQUESTED, WRONG},
    HANDLING: {HANDLED, AM, NO_ANSWER, CB_REQUESTED, WRONG},
}
AGENTS = ["agent-1", "agent-2"]
ACTOR = engine.Actor("state-machine")
DAY_OPENS, DAY_CLOSES = time(8), time(18)
# The business processes of the model: Callback Timing settings small enough for a few steps to exhaust them.
SETTINGS = {
    "ALWAYS": {"no_answer_seconds": 30, "attempts_before_failure": 3, "recall_intervals": [60, 600]},
    "DAY": {"no_answer_seconds": 60, "attempts_before_failure": 2, "recall_intervals": [300]},
}


@dataclass
class ModelAttempt:
    number: int
    agent: str | None
    offered: datetime | None = None
    accepted: datetime | None = None
    completed: datetime | None = None
    status: str = ""
    by_timer: bool = False
    acw: datetime | None = None


@dataclass
class ModelCallback:
    external_id: str
    bp: str
    state: str
    due: datetime | None
    owner: str | None = None
    phase: str = ""
    agent: str | None = None
    end_state: str = ""
    completed: datetime | None = None
    attempts: int = 0
    history: list[ModelAttempt] = field(default_factory=list)
    recreated: bool = False

    def key(self) -> tuple:
        """What the database must hold for this callback."""
        history = [
            (a.number, a.agent, a.offered, a.accepted, a.completed, a.status, a.by_timer, a.acw) for a in self.history
        ]
        return (
            self.state, self.phase, self.end_state, self.attempts, self.due, self.agent, self.owner, self.completed,
            history,
        )  # fmt: skip


class Refused(Exception):
    """The model's word: the engine must refuse this step and change nothing."""


class EngineMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        # Every run of the machine happens in a savepoint rolled back at its end: runs never see each other.
        self.atomic = transaction.atomic()
        self.atomic.__enter__()
        # Tomorrow 07:50 UTC: the same day every run of a test (examples replay alike), DAY opens ten minutes in, and
        # every desired time lies within the schedule-ahead window, which the engine measures from the real clock.
        tomorrow = timezone.now().astimezone(UTC).date() + timedelta(days=1)
        self.now = datetime.combine(tomorrow, time(7, 50), tzinfo=UTC)
        self.callbacks: dict[str, ModelCallback] = {}
        self.stopped = {code: False for code in SETTINGS}
        self.schedule_open = {code: False for code in SETTINGS}  # as recorded on the business process
        self.frozen: dict[str, tuple] = {}
        self.counter = 0
        self.bps = {}
        for code, timing in SETTINGS.items():
            # Its shift (from 00:00 UTC) as the timers record it; time passing records the next ones.
            shift = datetime.combine(self.now.date(), time(0), tzinfo=UTC)
            bp = BusinessProcess.objects.create(
                code=code, name=code.title(), time_zone="UTC", shift_started_at=shift, **timing
            )
            opens, closes = (time(0), time(0)) if code == "ALWAYS" else (DAY_OPENS, DAY_CLOSES)
            ScheduleRange.objects.bulk_create(
                ScheduleRange(business_process=bp, weekday=day, start=opens, end=closes) for day in range(7)
            )
            self.bps[code] = bp
        self.agents = {login: Agent.objects.create(login_id=login, display_name=login) for login in AGENTS}

    def teardown(self):
        transaction.set_rollback(True)
        self.atomic.__exit__(None, None, None)

    # --- the model's reading of the rules ------------------------------------------------------------------

    def is_open(self, code: str, at: datetime) -> bool:
        return code == "ALWAYS" or DAY_OPENS <= at.astimezone(UTC).time() < DAY_CLOSES

    def dispatchable(self, code: str, at: datetime) -> bool:
        return not self.stopped[code] and self.is_open(code, at)

    def recall(self, code: str, attempts: int) -> timedelta:
        intervals = SETTINGS[code]["recall_intervals"]
        return timedelta(seconds=intervals[min(max(attempts, 1), len(intervals)) - 1])

    @staticmethod
    def leave_agent(cb: ModelCallback) -> None:
        cb.phase, cb.agent = "", None
        if cb.state != C:
            cb.end_state, cb.completed = "", None

    def pending(self, cb: ModelCallback, until: datetime) -> None:
        cb.state, cb.due = S, until
        self.leave_agent(cb)

    def queue(self, cb: ModelCallback) -> None:
        cb.state, cb.due = Q, None
        self.leave_agent(cb)

    def end(self, cb: ModelCallback, end_state: str, at: datetime) -> None:
        cb.state, cb.end_state, cb.completed, cb.due = C, end_state, at, None
        self.leave_agent(cb)

    def completion(self, cb: ModelCallback, status: str, at: datetime, later=None, later_agent=None) -> None:
        if status == HANDLED:
            self.end(cb, EndState.REACHED, at)
        elif status == WRONG:
            self.end(cb, EndState.WRONG_DESTINATION, at)
        elif status in (NO_ANSWER, AM):
            cb.attempts += 1
            if cb.attempts >= SETTINGS[cb.bp]["attempts_before_failure"]:
                self.end(cb, EndState.FAILED, at)
            else:
                self.pending(cb, at + self.recall(cb.bp, cb.attempts))
        elif status == CANCEL:
            self.queue(cb)
        elif status == CB_REQUESTED:
            cb.owner = later_agent
            self.pending(cb, later)

    def expire_if_overdue(self, cb: ModelCallback, at: datetime) -> bool:
        if cb.phase != DIALING or cb.due > at:
            return False
        deadline, attempt = cb.due, cb.history[-1]
        attempt.completed, attempt.status, attempt.by_timer = deadline, NO_ANSWER, True
        self.completion(cb, NO_ANSWER, deadline)
        return True

    def current_attempt(self, cb: ModelCallback, agent: str, phase: str | None) -> ModelAttempt:
        if cb.state not in (R, P) or (phase is not None and cb.phase != phase) or cb.agent != agent:
            raise Refused
        return cb.history[-1]

    def request(self, code: str, external_id: str, at: datetime, desired: datetime | None, owner: str | None):
        cb = ModelCallback(external_id, code, S, desired or at, owner=owner)
        if desired is None and self.dispatchable(code, at):
            self.queue(cb)
        return cb

    # --- applying a step to both ---------------------------------------------------------------------------

    def step(self, apply_to_model, apply_to_engine) -> None:
        """Apply to a copy of the model; the engine must refuse exactly when the model does."""
        before = self.snapshot()
        try:
            apply_to_model()
        except Refused:
            self.restore(before)
            with pytest.raises(engine.TransitionRefused):
                apply_to_engine()
            return
        apply_to_engine()

    def snapshot(self):
        return copy.deepcopy((self.callbacks, self.stopped))

    def restore(self, saved) -> None:
        self.callbacks, self.stopped = saved

    def pk(self, external_id: str):
        return Callback.objects.values_list("pk", flat=True).get(external_id=external_id)

    def any_in(self, *states: str) -> bool:
        """Agent steps are drawn while some callback may take them (they still pick others, to be refused, at times)."""
        return any(cb.state in states for cb in self.callbacks.values())

    def pick(self, data, *states: str) -> ModelCallback:
        """A callback, most often one in a state where the step may apply (uniform picks are mostly refused)."""
        fitting = sorted(key for key, cb in self.callbacks.items() if cb.state in states)
        if fitting and data.draw(st.integers(0, 4), label="fitting"):
            return self.callbacks[data.draw(st.sampled_from(fitting), label="callback")]
        return self.callbacks[data.draw(st.sampled_from(sorted(self.callbacks)), label="callback")]

    def agent_for(self, data, cb: ModelCallback) -> str:
        """Most often the agent the callback is with (or was last, or is owned by); else any agent."""
        usual = cb.agent or (cb.history[-1].agent if cb.history else None) or cb.owner or AGENTS[0]
        return data.draw(st.sampled_from([usual, usual, usual, *AGENTS]), label="agent")

    # --- rules -----------------------------------------------------------------------------------------------

    @rule(
        code=st.sampled_from(sorted(SETTINGS)),
        delay=st.sampled_from([None, None, 60, 3600, 86400]),
        owner=st.sampled_from([None, None, "agent-1"]),
    )
    def request_callback(self, code, delay, owner):
        self.counter += 1
        external_id = f"cb-{self.counter}"
        desired = self.now + timedelta(seconds=delay) if delay else None
        self.callbacks[external_id] = self.request(code, external_id, self.now, desired, owner)
        engine.request_callback(
            external_id=external_id,
            business_process=BusinessProcess.objects.get(code=code),
            phone="+12125550134",
            at=self.now,
            actor=ACTOR,
            desired_time=desired,
            owner_agent=self.agents[owner] if owner else None,
        )

    # --- the agent side: each step for a callback named by id (the model's objects are replaced on a refusal) ------

    def do_offer(self, external_id: str, agent: str) -> None:
        cb, at = self.callbacks[external_id], self.now

        def model():
            if cb.state != Q or not self.dispatchable(cb.bp, at) or (cb.owner and cb.owner != agent):
                raise Refused
            cb.history.append(ModelAttempt(len(cb.history) + 1, agent, offered=at))
            cb.state, cb.phase, cb.agent = R, OFFERED, agent

        self.step(model, lambda: engine.offer(self.pk(external_id), self.agents[agent], at, ACTOR))

    def do_accept(self, external_id: str, agent: str) -> None:
        cb, at = self.callbacks[external_id], self.now

        def model():
            self.current_attempt(cb, agent, OFFERED).accepted = at
            cb.state, cb.phase, cb.due = P, DIALING, at + timedelta(seconds=SETTINGS[cb.bp]["no_answer_seconds"])

        self.step(model, lambda: engine.accept(self.pk(external_id), self.agents[agent], at, ACTOR))

    def do_connect(self, external_id: str, agent: str, answered_by: str) -> None:
        cb, at = self.callbacks[external_id], self.now

        def model():
            if cb.phase == DIALING and cb.due <= at:
                raise Refused  # too late: the timer owes a No Answer (and applies it at its next tick)
            self.current_attempt(cb, agent, DIALING)
            cb.phase, cb.due = HANDLING, None

        self.step(model, lambda: engine.connect(self.pk(external_id), self.agents[agent], answered_by, at, ACTOR))

    def do_complete(self, external_id: str, agent: str, status: str, later: int, later_agent: str | None) -> None:
        cb, at = self.callbacks[external_id], self.now
        reschedule_time = at + timedelta(seconds=later)

        def model():
            self.expire_if_overdue(cb, at)
            if cb.state in (R, P):
                attempt = self.current_attempt(cb, agent, None)
                if status not in ALLOWED[cb.phase]:
                    raise Refused
                attempt.completed, attempt.status = at, status
            else:  # amending the timer's No Answer, during wrap-up only
                attempt = cb.history[-1] if cb.history else None
                if (
                    attempt is None
                    or not attempt.by_timer
                    or attempt.agent != agent
                    or (cb.state == C and cb.end_state != EndState.FAILED)
                    or attempt.acw is not None
                    or attempt.status != NO_ANSWER
                    or status not in (CB_REQUESTED, WRONG)
                ):
                    raise Refused
                cb.attempts -= 1
                attempt.status = status
            self.completion(cb, status, at, reschedule_time, later_agent)

        self.step(
            model,
            lambda: engine.complete(
                self.pk(external_id),
                self.agents[agent],
                status,
                at,
                ACTOR,
                reschedule_time=reschedule_time,
                reschedule_agent=self.agents[later_agent] if later_agent else None,
            ),
        )

    def do_end_wrapup(self, external_id: str, agent: str) -> None:
        cb, at = self.callbacks[external_id], self.now

        def model():
            mine = [a for a in cb.history if a.agent == agent]
            if not mine or not mine[-1].status or mine[-1].acw is not None or at < mine[-1].completed:
                raise Refused
            mine[-1].acw = at

        self.step(model, lambda: engine.end_wrapup(self.pk(external_id), self.agents[agent], at, ACTOR))

    def status_for(self, data, cb: ModelCallback) -> str:
        """Most often a status the current phase allows (or an amendment, after the timer's No Answer)."""
        fitting = sorted(ALLOWED.get(cb.phase, {CB_REQUESTED, WRONG}))
        return data.draw(st.sampled_from(fitting) | st.sampled_from(AGENT_STATUSES), label="status")

    @precondition(lambda self: self.any_in(Q))
    @rule(data=st.data())
    def offer(self, data):
        cb = self.pick(data, Q)
        self.do_offer(cb.external_id, self.agent_for(data, cb))

    @precondition(lambda self: self.any_in(R))
    @rule(data=st.data())
    def accept(self, data):
        cb = self.pick(data, R)
        self.do_accept(cb.external_id, self.agent_for(data, cb))

    @precondition(lambda self: self.any_in(P))
    @rule(data=st.data(), answered_by=st.sampled_from(["person", "voicemail"]))
    def connect(self, data, answered_by):
        cb = self.pick(data, P)
        self.do_connect(cb.external_id, self.agent_for(data, cb), answered_by)

    @precondition(lambda self: self.any_in(R, P))
    @rule(data=st.data(), later=st.sampled_from([60, 7200]), later_agent=st.sampled_from([None, "agent-2"]))
    def complete(self, data, later, later_agent):
        cb = self.pick(data, R, P, C)
        self.do_complete(cb.external_id, self.agent_for(data, cb), self.status_for(data, cb), later, later_agent)

    @precondition(lambda self: self.callbacks)
    @rule(data=st.data())
    def end_wrapup(self, data):
        cb = self.pick(data, S, Q, C)
        self.do_end_wrapup(cb.external_id, self.agent_for(data, cb))

    @precondition(lambda self: self.any_in(Q))
    @rule(
        data=st.data(),
        connected=st.booleans(),
        answered_by=st.sampled_from(["person", "voicemail"]),
        wrap_up=st.booleans(),
        later=st.sampled_from([60, 7200]),
    )
    def an_agent_works_a_callback(self, data, connected, answered_by, wrap_up, later):
        """Offer, accept, maybe connect, complete, maybe end wrap-up: one attempt through, each step checked as above
        (a single-step rule would seldom follow another on the same callback)."""
        cb = self.pick(data, Q)
        external_id, agent = cb.external_id, self.agent_for(data, cb)
        self.do_offer(external_id, agent)
        self.do_accept(external_id, agent)
        if connected:
            self.do_connect(external_id, agent, answered_by)
        self.do_complete(external_id, agent, self.status_for(data, self.callbacks[external_id]), later, None)
        if wrap_up:
            self.do_end_wrapup(external_id, agent)

    @precondition(lambda self: self.callbacks)
    @rule(data=st.data())
    def send_to_queue(self, data):
        cb, at = self.pick(data, S), self.now

        def model():
            if cb.state != S:
                raise Refused
            self.queue(cb)

        self.step(model, lambda: engine.send_to_queue(self.pk(cb.external_id), at, ACTOR))

    @precondition(lambda self: self.callbacks)
    @rule(data=st.data(), purge=st.booleans())
    def remove(self, data, purge):
        cb, at = self.pick(data, S, Q, R), self.now

        def model():
            if cb.state in (C, P):
                raise Refused
            if cb.state == R:
                cb.history[-1].completed, cb.history[-1].status = at, CompletionStatus.WITHDRAWN
            self.end(cb, EndState.PURGED if purge else EndState.CANCELLED, at)

        action = engine.purge if purge else engine.cancel
        self.step(model, lambda: action(self.pk(cb.external_id), at, ACTOR))

    @precondition(lambda self: self.callbacks)
    @rule(data=st.data(), delay=st.sampled_from([60, 5400]))
    def reschedule(self, data, delay):
        cb, at = self.pick(data, S), self.now
        desired = at + timedelta(seconds=delay)

        def model():
            if cb.state != S:
                raise Refused
            cb.due = desired

        self.step(model, lambda: engine.reschedule(self.pk(cb.external_id), desired, at, ACTOR))

    @precondition(lambda self: self.callbacks)
    @rule(data=st.data())
    def recreate(self, data):
        cb, at = self.pick(data, C), self.now
        base = re.sub(r"-r\d+$", "", cb.external_id)
        number = 1
        while f"{base}-r{number}" in self.callbacks:
            number += 1
        new_id = f"{base}-r{number}"

        def model():
            if cb.state != C or cb.recreated:
                raise Refused
            cb.recreated = True
            self.callbacks[new_id] = self.request(cb.bp, new_id, at, None, cb.owner)

        self.step(model, lambda: engine.recreate(self.pk(cb.external_id), at, ACTOR))

    # Resuming is drawn more often than stopping: a business process mostly stopped would dispatch nothing.
    @rule(code=st.sampled_from(sorted(SETTINGS)), stop=st.sampled_from([True, False, False, False]))
    def stop_or_resume(self, code, stop):
        def model():
            if self.stopped[code] == stop:
                raise Refused
            self.stopped[code] = stop

        self.step(model, lambda: engine.set_stopped(self.bps[code].pk, stop, ACTOR))

    @rule(seconds=st.sampled_from([1, 20, 31, 61, 301, 1800, 3 * 3600]))
    def time_passes(self, seconds):
        """The clock moves on and the timer tick applies what came due (in the engine's order)."""
        now = self.now = self.now + timedelta(seconds=seconds)
        for cb in list(self.callbacks.values()):
            self.expire_if_overdue(cb, now)
        for code in SETTINGS:
            open_now = self.is_open(code, now)
            if open_now == self.schedule_open[code]:
                continue
            self.schedule_open[code] = open_now
            if open_now or self.stopped[code]:
                continue
            midnight = datetime.combine(now.astimezone(UTC).date(), time(0), tzinfo=UTC)
            for cb in self.callbacks.values():  # closing: the queue not tried today ends Aborted
                tried_today = any(a.offered and a.offered >= midnight for a in cb.history)
                if cb.bp == code and cb.state == Q and not tried_today:
                    cb.history.append(ModelAttempt(len(cb.history) + 1, None, completed=now, status="aborted"))
                    self.end(cb, EndState.ABORTED, now)
        for cb in self.callbacks.values():
            if cb.state == S and cb.due <= now and self.dispatchable(cb.bp, now):
                self.queue(cb)
        engine.apply_due_timers(now)

    # --- invariants ------------------------------------------------------------------------------------------

    def database(self) -> dict[str, tuple]:
        history: dict[str, list] = {}
        for a in Attempt.objects.filter(callback__business_process__in=self.bps.values()).order_by("number"):
            history.setdefault(a.callback_id, []).append(
                (a.number, a.agent.login_id if a.agent_id else None, a.offered_at, a.accepted_at, a.completed_at,
                 a.completion_status, a.completed_by_timer, a.acw_ended_at)
            )  # fmt: skip
        rows = Callback.objects.filter(business_process__in=self.bps.values()).select_related(
            "current_agent", "owner_agent"
        )
        return {
            c.external_id: (
                c.state, c.agent_phase, c.end_state, c.attempts, c.due_at,
                c.current_agent.login_id if c.current_agent else None,
                c.owner_agent.login_id if c.owner_agent else None, c.completed_at, history.get(c.pk, []),
            )
            for c in rows
        }  # fmt: skip

    @invariant()
    def the_database_equals_the_model(self):
        database = self.database()
        assert set(database) == set(self.callbacks)
        for external_id, cb in self.callbacks.items():
            assert database[external_id] == cb.key(), external_id

    @invariant()
    def the_rules_hold(self):
        for cb in self.callbacks.values():
            assert 0 <= cb.attempts <= SETTINGS[cb.bp]["attempts_before_failure"]
            assert (cb.state == R) == (cb.phase == OFFERED)
            assert (cb.state == P) == (cb.phase in (DIALING, HANDLING))
            assert (cb.agent is not None) == (cb.state in (R, P))
            assert (cb.state == C) == bool(cb.end_state) == (cb.completed is not None)
            assert (cb.due is not None) == (cb.state == S or cb.phase == DIALING)
            if cb.end_state == EndState.FAILED and not cb.history[-1].by_timer:
                assert cb.attempts == SETTINGS[cb.bp]["attempts_before_failure"]

    @invariant()
    def an_ended_callback_never_moves(self):
        """Checked on the database: once ended (and no longer amendable), nothing of the callback or its attempts
        changes, but the end of the last attempt's After Call Work, which the agent reports after the call."""
        database = self.database()
        for external_id, cb in self.callbacks.items():
            last = cb.history[-1] if cb.history else None
            amendable = cb.end_state == EndState.FAILED and last and last.by_timer and last.acw is None
            *fields, history = database[external_id]
            ended = (*fields, [attempt[:-1] for attempt in history])
            if cb.state == C and not amendable:
                self.frozen.setdefault(external_id, ended)
            if external_id in self.frozen:
                assert ended == self.frozen[external_id], f"{external_id} moved after it ended"

    @invariant()
    def the_monitor_counts_what_the_model_holds(self):
        since = datetime.combine(self.now.astimezone(UTC).date(), time(0), tzinfo=UTC)  # shift start 00:00 UTC
        rows = {row.code: row for row in compute_rows(self.now, [bp.pk for bp in self.bps.values()]).rows}
        for code in SETTINGS:
            mine = [cb for cb in self.callbacks.values() if cb.bp == code]
            ended = [cb for cb in mine if cb.completed and cb.completed >= since]
            handled = [a for cb in mine for a in cb.history if a.accepted and a.acw and a.acw >= since]
            # CLBK Stat as the timers recorded the schedule at their last look, as the engine acts on it.
            status = "stopped" if self.stopped[code] else "active" if self.schedule_open[code] else "off_schedule"
            expected = {
                "status": status,
                "to_be_processed": sum(cb.state != C for cb in mine),
                "proc": sum(cb.end_state in EndState.processed() for cb in ended),
                "reached": sum(cb.end_state == EndState.REACHED for cb in ended),
                "purged": sum(cb.end_state == EndState.PURGED for cb in ended),
                "handled_attempts": len(handled),
                "handle_seconds": sum((a.acw - a.accepted).total_seconds() for a in handled),
            }
            row = rows[code]
            assert {key: getattr(row, key) for key in expected} == expected, code


@pytest.mark.slow
@pytest.mark.timeout(600)  # ~10 s on an idle machine; generous for a loaded CI runner
def test_random_sequences_keep_the_rules_and_the_monitor_true(db):
    run_state_machine_as_test(
        EngineMachine,
        # Derandomized: CI runs the same sequences every time (never failing by chance); a bug found by a longer
        # random run (drop derandomize, raise max_examples) is then pinned here by the example hypothesis prints.
        settings=settings(
            derandomize=True,
            max_examples=30,
            stateful_step_count=60,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        ),
    )
