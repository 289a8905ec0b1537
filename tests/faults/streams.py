"""Event streams for the fault tests, with what the database must hold once every event was applied once."""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.utils import timezone

from callbacks.choices import CallbackState, EndState
from callbacks.models import AuditEntry, Callback, IngestedEvent

# outcome → (state, end state, attempts) once all of the callback's events are applied
OUTCOMES = {
    "handled": (CallbackState.COMPLETED, EndState.REACHED, 0),
    "no_answer": (CallbackState.SCHEDULED, "", 1),
    "wrong_destination": (CallbackState.COMPLETED, EndState.WRONG_DESTINATION, 0),
    "cancelled": (CallbackState.COMPLETED, EndState.CANCELLED, 0),
    "queued": (CallbackState.QUEUED, "", 0),
}


@dataclass
class Stream:
    """Callback lifecycles of one business process, their events interleaved as a contact center sends them."""

    code: str
    events: list[dict] = field(default_factory=list)
    expected: dict[str, tuple[str, str, int]] = field(default_factory=dict)  # callback → (state, end, attempts)


def lifecycles(code: str, count: int, *, start: datetime | None = None, prefix: str = "") -> Stream:
    """count callbacks cycling through OUTCOMES; their events interleaved step by step (all requests first, then
    the offers…), 10 ms apart in occurred_at (well within Duration For No Answer), ending before now."""
    prefix = prefix or uuid.uuid4().hex[:6]
    outcomes = itertools.cycle(OUTCOMES)
    per_callback = []
    stream = Stream(code)
    for n in range(count):
        outcome = next(outcomes)
        callback, agent = f"{prefix}-{n}", f"agent-{n % 25}"
        steps = [("callback.requested", {"business_process": code, "phone": f"+1212555{n % 10000:04d}"})]
        attempt = [("attempt.offered", {}), ("attempt.accepted", {})]
        if outcome == "handled":
            steps += attempt + [("attempt.connected", {"answered_by": "person"})]
            steps += [("attempt.completed", {"status": "handled"}), ("attempt.wrapup_completed", {})]
        elif outcome == "no_answer":
            steps += attempt + [("attempt.completed", {"status": "no_answer"}), ("attempt.wrapup_completed", {})]
        elif outcome == "wrong_destination":
            steps += attempt + [("attempt.connected", {"answered_by": "person"})]
            steps += [("attempt.completed", {"status": "wrong_destination"}), ("attempt.wrapup_completed", {})]
        elif outcome == "cancelled":
            steps += [("callback.cancelled", {"reason": "customer hung up"})]
        per_callback.append([(callback, agent, kind, fields) for kind, fields in steps])
        stream.expected[callback] = OUTCOMES[outcome]
    longest = max(len(steps) for steps in per_callback)
    ordered = [steps[i] for i in range(longest) for steps in per_callback if i < len(steps)]
    at = start or timezone.now() - timedelta(seconds=len(ordered) / 100 + 1)
    for number, (callback, agent, kind, fields) in enumerate(ordered):
        body = {
            "event_id": f"{prefix}-e{number}",
            "type": kind,
            "occurred_at": (at + timedelta(milliseconds=10 * number)).isoformat(),
            "callback": callback,
            **fields,
        }
        if kind.startswith("attempt."):
            body["agent"] = agent
        stream.events.append(body)
    return stream


def check_database(stream: Stream) -> None:
    """Nothing lost, nothing counted twice: every callback in its expected state with the expected attempts,
    every event recorded once, one audit entry per event applied."""
    callbacks = {
        c.external_id: c
        for c in Callback.objects.filter(external_id__in=stream.expected).prefetch_related("attempt_set")
    }
    assert set(callbacks) == set(stream.expected), f"lost callbacks: {set(stream.expected) - set(callbacks)}"
    wrong = {
        external_id: ((c.state, c.end_state, c.attempts), stream.expected[external_id])
        for external_id, c in callbacks.items()
        if (c.state, c.end_state, c.attempts) != stream.expected[external_id]
    }
    assert not wrong, f"callbacks not as their events say (got, expected): {dict(list(wrong.items())[:10])}"
    for external_id, c in callbacks.items():
        offers = sum(1 for e in stream.events if e["callback"] == external_id and e["type"] == "attempt.offered")
        attempts = len(c.attempt_set.all())
        assert attempts == offers, f"{external_id}: {attempts} attempts for {offers} offers"
    event_ids = [e["event_id"] for e in stream.events]
    assert IngestedEvent.objects.filter(event_id__in=event_ids).count() == len(set(event_ids))
    audited = AuditEntry.objects.filter(callback_ref__in=stream.expected).count()
    assert audited == len(set(event_ids)), f"{audited} audit entries for {len(set(event_ids))} events"


# ---------------------------------------------------------------------------------------------------------
# The simulator's stream


class Recorder:
    """A simulator sender that applies each event in this process (as POST /api/v1/events/ would) and keeps the
    ones applied, in order."""

    def __init__(self):
        from callbacks.engine import Actor
        from callbacks.management.commands.simulate import InProcessSender

        self.sender = InProcessSender(Actor("faults-generator"))
        self.applied: list[dict] = []

    def __call__(self, event: dict) -> tuple[int, dict]:
        status, body = self.sender(event)
        if status == 201:
            self.applied.append(event)
        return status, body


def simulated_events(*, minutes: float, arrivals_per_second: float, agents: int, scale: float, seed: int) -> list[dict]:
    """The events the simulator's customers and agents send over `minutes` of virtual time ending a minute ago,
    applied in this process; only the applied ones are returned, in order.

    No timer runs (the agents give up ringing themselves, nobody releases a recall), so replaying the list in
    order gives the same database again: the engine decides from the events' own times. The live path is
    switched off meanwhile (no Redis involved): this only makes the stream.
    """
    import random

    from callbacks.management.commands.simulate import Simulator, VirtualClock
    from callbacks.signals import business_process_changed

    recorder = Recorder()
    end = timezone.now() - timedelta(minutes=1)
    simulator = Simulator(
        send=recorder,
        clock=VirtualClock(end - timedelta(minutes=minutes)),
        rng=random.Random(seed),
        agents=[f"agent.sim-{n}" for n in range(agents)],
        scale=scale,
        timer_share=0.0,
        arrivals_per_second=arrivals_per_second,
        out=lambda line: None,
    )
    live_path = business_process_changed.disconnect(dispatch_uid="monitoring.recompute")
    try:
        simulator.at(simulator.clock.now(), simulator.next_customer)
        simulator.every(1, simulator.dispatch)
        simulator.run(until=end)
    finally:
        if live_path:
            from monitoring.apps import _business_processes_changed

            business_process_changed.connect(_business_processes_changed, dispatch_uid="monitoring.recompute")
    return recorder.applied


CALLBACK_FIELDS = (
    "business_process__code",
    "phone",
    "customer_name",
    "desired_time",
    "owner_agent__login_id",
    "current_agent__login_id",
    "state",
    "agent_phase",
    "end_state",
    "attempts",
    "was_scheduled",
    "created",
    "queued_at",
    "due_at",
    "last_attempt_at",
    "completed_at",
)
ATTEMPT_FIELDS = (
    "number",
    "agent__login_id",
    "offered_at",
    "accepted_at",
    "connected_at",
    "answered_by",
    "completed_at",
    "completion_status",
    "completed_by_timer",
    "acw_ended_at",
)


def database_state() -> dict[str, dict]:
    """Every callback by external id: its fields and its attempts, as the events left them."""
    from callbacks.models import Attempt

    state = {
        row["external_id"]: {**row, "attempts_made": []}
        for row in Callback.objects.values("external_id", *CALLBACK_FIELDS)
    }
    for attempt in Attempt.objects.order_by("number").values("callback__external_id", *ATTEMPT_FIELDS):
        state[attempt.pop("callback__external_id")]["attempts_made"].append(attempt)
    return state


def forget_callbacks() -> None:
    """Delete every callback with its attempts, audit entries and recorded event ids (the agents stay)."""
    from callbacks.models import Attempt

    AuditEntry.objects.exclude(callback_ref="").delete()
    Attempt.objects.all().delete()
    Callback.objects.all().delete()
    IngestedEvent.objects.all().delete()
