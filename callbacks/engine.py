"""The callback lifecycle engine: every rule about how a callback moves, and the only code that moves one.

Read this module to learn the rules. Each public function is one transition: it runs in one transaction,
locks the callback's row, checks that the transition fits the current state, changes the callback (and its
attempt), writes the audit log — or raises ``TransitionRefused`` with the reason and changes nothing.

States (seed 004) and locations (seed 001)
    SCHEDULED   Pending                    waiting for its desired time or for a recall interval to pass
    QUEUED      HandlingByBusinessProcess  in queue, waiting to be offered to an agent
    ROUTING     HandlingByAgent (Offered)  offered to an agent
    PROCESSING  HandlingByAgent            Dialing, then Handling once voicemail or a person answered
    COMPLETED   —                          end state REACHED, FAILED, WRONG_DESTINATION, PURGED, CANCELLED, ABORTED

Requesting
    A callback with a desired time in the future is Pending until then. An immediate one goes to queue at
    once if its business process is dispatchable (not Stopped, schedule open), else it is Pending, due now.
    A desired time must lie within the business process's schedule-ahead window.

Dispatching
    A Pending callback goes to queue by itself when it is due and its business process is dispatchable
    (``release_due``); a supervisor may send it to queue at once (``send_to_queue``). Nothing is offered
    while the business process is Stopped or Off Schedule. A callback owned by an agent is offered only to
    that agent.

An attempt (agent side, seed 001)
    offered → accepted (Dialing; the no-answer timer starts) → connected (Handling) → completed → ACW ended.
    While Offered the agent may decline with Cancel: back to queue, attempts unchanged.
    While Dialing the agent may complete with Cancel, No Answer, Callback Requested or Wrong Destination;
    Handled and Answering Machine need an answer first.
    While Handling: Handled, Answering Machine, No Answer, Callback Requested or Wrong Destination.
    If Dialing lasts Duration For No Answer, the timer completes the attempt No Answer. Until the agent
    ends After Call Work, the agent may amend that status to Callback Requested or Wrong Destination (the
    timer's attempt count is taken back), but not to Cancel.

Completion statuses
    Handled             end state REACHED (the attempt records whether a person or a voicemail answered)
    Answering Machine   attempts + 1, Pending for the recall interval
    No Answer           attempts + 1, Pending for the recall interval
    Cancel              back to queue, attempts unchanged
    Callback Requested  Pending until the given time, owned by the given agent (or none), attempts unchanged
    Wrong Destination   end state WRONG_DESTINATION
    When attempts reach Attempts Before Failure the callback ends FAILED instead of waiting.
    The recall interval after attempt n is the n-th value of Recall Intervals; the last value repeats.

Supervisor actions
    Send to queue: Pending only. Purge (PURGED) and Cancel (CANCELLED): any open callback except one in
    PROCESSING (seed 004); a callback that was only Offered has its attempt closed as Withdrawn.
    Reschedule: Pending (SCHEDULED) only, to a desired time inside the schedule-ahead window; the callback
    then counts as one that began scheduled.
    Recreate: a Completed callback only, once: a new immediate callback with the same business process, phone,
    customer name and owner agent, and the external id "<old id>-r<n>"; both audit trails name the other.
    Stale pages: an action on one callback may carry the state the user's page showed (``expected_state``).
    If the callback is in another state by the time its row is locked, the action is refused, naming the
    state it is in now — so of two supervisors acting on one callback at once, exactly one action applies
    and the other is told what happened.
    Stop / Resume a business process: nothing is dispatched while Stopped; callbacks keep their place.

The schedule (rule chosen for ABORTED)
    When the schedule of a business process closes — the timer tick sees it open at its previous look and
    closed now, or an edit of its schedule or time zone closes it at once — every callback of that business
    process that is in queue (QUEUED) and has no attempt offered since local midnight of that day ends ABORTED,
    with an attempt of status Aborted. Callbacks tried that day keep their place in queue for the next opening;
    Pending callbacks, callbacks with an agent, and business processes stopped by a supervisor are not touched.
    The flip is recorded on the business process under a row lock, so it happens once however many ticks see it.

Timers
    Every timer is a column: ``Callback.due_at`` (end of a Pending wait, or the no-answer deadline while
    Dialing), ``BusinessProcess.schedule_open`` (the monitor's CLBK Stat) and ``BusinessProcess.shift_started_at``
    (the monitor counts its shift counters from it). ``apply_due_timers`` applies whatever is due, and an edit of
    a schedule or of the Callback Timing records the business process's two at once; each step
    re-checks its condition under a lock, so a lost, late or repeated tick never loses or doubles a timer.
    An agent event that occurs after the no-answer deadline is judged after the No Answer the timer owed:
    a late connection is refused, a late completion is an amendment of the automatic No Answer.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Exists, Max, OuterRef
from django.utils import timezone

from .choices import (
    LOCATION_OF_STATE,
    AgentPhase,
    AuditAction,
    CallbackState,
    CompletionStatus,
    EndState,
)
from .models import Agent, Attempt, AuditEntry, BusinessProcess, Callback
from .schedule import is_dispatchable, is_open, load_schedules, local_day_start, open_at, shift_start_at
from .signals import business_process_changed

# Attempt states from which the agent may choose each completion status.
ALLOWED_WHILE_OFFERED = {CompletionStatus.CANCEL}
ALLOWED_WHILE_DIALING = {
    CompletionStatus.CANCEL,
    CompletionStatus.NO_ANSWER,
    CompletionStatus.CALLBACK_REQUESTED,
    CompletionStatus.WRONG_DESTINATION,
}
ALLOWED_WHILE_HANDLING = {
    CompletionStatus.HANDLED,
    CompletionStatus.ANSWERING_MACHINE,
    CompletionStatus.NO_ANSWER,
    CompletionStatus.CALLBACK_REQUESTED,
    CompletionStatus.WRONG_DESTINATION,
}
ALLOWED_AMENDMENTS_OF_TIMER_NO_ANSWER = {CompletionStatus.CALLBACK_REQUESTED, CompletionStatus.WRONG_DESTINATION}

# A desired time a little in the past is a clock difference, not an error: the callback is simply due now.
DESIRED_TIME_TOLERANCE = timedelta(minutes=5)

# Fields whose before → after the audit log records.
AUDITED_FIELDS = (
    "state",
    "agent_phase",
    "end_state",
    "attempts",
    "desired_time",
    "due_at",
    "owner_agent_id",
    "current_agent_id",
)

TIMER_BATCH = 500


class TransitionRefused(Exception):
    """The transition does not fit the callback's current state; nothing was changed."""


@dataclass(frozen=True)
class Actor:
    """Who asked for a transition, as the audit log names it."""

    label: str
    user: AbstractBaseUser | None = None

    @classmethod
    def for_user(cls, user: AbstractBaseUser) -> Actor:
        return cls(f"user:{user.get_username()}", user)


SYSTEM = Actor("system")


# ---------------------------------------------------------------------------------------------------------
# Requesting


def request_callback(
    *,
    external_id: str,
    business_process: BusinessProcess,
    phone: str,
    at: datetime,
    actor: Actor,
    customer_name: str = "",
    desired_time: datetime | None = None,
    owner_agent: Agent | None = None,
    note: str = "",
) -> Callback:
    """A customer asks to be called back (phone already normalized to E.164)."""
    if desired_time is not None:
        _check_in_window(business_process, desired_time, "desired_time")
    callback = Callback(
        external_id=external_id,
        business_process=business_process,
        phone=phone,
        customer_name=customer_name,
        desired_time=desired_time,
        owner_agent=owner_agent,
        was_scheduled=desired_time is not None and desired_time > at,
        created=at,
    )
    if callback.was_scheduled:
        _make_pending(callback, until=desired_time)
    else:
        _make_pending(callback, until=at)
        if is_dispatchable(business_process, at):
            _put_in_queue(callback, at)
    changes = _diff({}, _snapshot(callback))
    if (current := _current_batch.get()) is not None:
        # Inserted with the batch's other requests, before a transition on one of them or at its end (``batch``).
        current.requested.append(callback)
        _audit(AuditAction.CALLBACK_REQUESTED, actor, callback, changes=changes, note=note)
        return callback
    try:
        with transaction.atomic():
            callback.save(force_insert=True)
            _audit(AuditAction.CALLBACK_REQUESTED, actor, callback, changes=changes, note=note)
    except IntegrityError:
        # The unique external id: asking first would cost every request a query for a case that is rare.
        raise already_exists(external_id) from None
    return callback


def already_exists(external_id: str) -> TransitionRefused:
    return TransitionRefused(f"Callback {external_id} already exists.")


# ---------------------------------------------------------------------------------------------------------
# The agent side


def offer(callback_id, agent: Agent, at: datetime, actor: Actor) -> Callback:
    """The platform offers a queued callback to an agent (interaction state Offered)."""
    with _transition(callback_id):
        callback = _lock(callback_id)
        before = _snapshot(callback)
        _require_state(callback, CallbackState.QUEUED, "be offered")
        business_process = callback.business_process
        load_schedules([business_process])
        if business_process.is_stopped:
            raise TransitionRefused(f"Callbacks of {business_process.code} are stopped: nothing is dispatched.")
        if not is_open(business_process, at):
            raise TransitionRefused(f"{business_process.code} is off schedule: nothing is dispatched.")
        if callback.owner_agent_id and callback.owner_agent_id != agent.pk:
            raise TransitionRefused(f"This callback is owned by agent {callback.owner_agent.login_id}.")
        number = (callback.attempt_set.aggregate(n=Max("number"))["n"] or 0) + 1
        attempt = Attempt.objects.create(
            callback=callback,
            business_process_id=callback.business_process_id,
            number=number,
            agent=agent,
            offered_at=at,
        )
        callback.state = CallbackState.ROUTING
        callback.agent_phase = AgentPhase.OFFERED
        callback.current_agent = agent
        callback.last_attempt_at = at
        callback.save()
        _audit(AuditAction.ATTEMPT_OFFERED, actor, callback, before, note=f"attempt {attempt.number} to {agent}")
    return callback


def accept(callback_id, agent: Agent, at: datetime, actor: Actor) -> Callback:
    """The agent accepts the offer: Dialing starts, and with it the no-answer timer."""
    with _transition(callback_id):
        callback = _lock(callback_id)
        before = _snapshot(callback)
        attempt = _current_attempt(callback, agent, AgentPhase.OFFERED, "be accepted")
        attempt.accepted_at = at
        attempt.save(update_fields=["accepted_at"])
        callback.state = CallbackState.PROCESSING
        callback.agent_phase = AgentPhase.DIALING
        callback.due_at = at + timedelta(seconds=callback.business_process.no_answer_seconds)
        callback.save()
        _audit(AuditAction.ATTEMPT_ACCEPTED, actor, callback, before)
    return callback


def connect(callback_id, agent: Agent, answered_by: str, at: datetime, actor: Actor) -> Callback:
    """A voicemail box or a person answered: Handling; the no-answer timer stops."""
    with _transition(callback_id):
        callback = _lock(callback_id)
        deadline = callback.due_at
        if _expire_if_overdue(callback, at):
            raise TransitionRefused(
                f"Callback {callback.external_id} ran out of Duration For No Answer at {deadline:%H:%M:%S} UTC and "
                f"is No Answer (the timer applies it); a connection at {at:%H:%M:%S} UTC comes too late."
            )
        before = _snapshot(callback)
        attempt = _current_attempt(callback, agent, AgentPhase.DIALING, "be connected")
        attempt.connected_at = at
        attempt.answered_by = answered_by
        attempt.save(update_fields=["connected_at", "answered_by"])
        callback.agent_phase = AgentPhase.HANDLING
        callback.due_at = None
        callback.save()
        _audit(AuditAction.ATTEMPT_CONNECTED, actor, callback, before, note=f"answered by {answered_by}")
    return callback


def complete(
    callback_id,
    agent: Agent,
    status: str,
    at: datetime,
    actor: Actor,
    *,
    reschedule_time: datetime | None = None,
    reschedule_agent: Agent | None = None,
) -> Callback:
    """The agent sets the attempt's completion status (or amends the timer's No Answer during wrap-up)."""
    if status == CompletionStatus.CALLBACK_REQUESTED and reschedule_time is None:
        raise ValidationError({"reschedule_time": "Callback Requested needs the time to call back."})
    with _transition(callback_id):
        callback = _lock(callback_id)
        _expire_if_overdue(callback, at)
        if reschedule_time is not None and status == CompletionStatus.CALLBACK_REQUESTED:
            _check_in_window(callback.business_process, reschedule_time, "reschedule_time")
        before = _snapshot(callback)
        if callback.state in (CallbackState.ROUTING, CallbackState.PROCESSING):
            attempt = _current_attempt(callback, agent, None, "be completed")
            allowed = {
                AgentPhase.OFFERED: ALLOWED_WHILE_OFFERED,
                AgentPhase.DIALING: ALLOWED_WHILE_DIALING,
                AgentPhase.HANDLING: ALLOWED_WHILE_HANDLING,
            }[callback.agent_phase]
            if status not in allowed:
                phase = AgentPhase(callback.agent_phase).label
                raise TransitionRefused(
                    f"{CompletionStatus(status).label} is not allowed while {phase}; allowed: {_labels(allowed)}."
                )
            attempt.completed_at = at
            attempt.completion_status = status
            attempt.save(update_fields=["completed_at", "completion_status"])
            action, note = AuditAction.ATTEMPT_COMPLETED, CompletionStatus(status).label
        else:
            attempt = _amendable_attempt(callback, agent, status)
            callback.attempts -= 1  # the timer's No Answer no longer counts
            attempt.completion_status = status
            attempt.save(update_fields=["completion_status"])
            action, note = AuditAction.ATTEMPT_AMENDED, f"No Answer → {CompletionStatus(status).label}"
        _apply_completion(callback, status, at, reschedule_time=reschedule_time, reschedule_agent=reschedule_agent)
        callback.save()
        _audit(action, actor, callback, before, note=note)
    return callback


def end_wrapup(callback_id, agent: Agent, at: datetime, actor: Actor) -> Callback:
    """The agent finishes After Call Work; the attempt's handle time (accept → ACW end) is now known."""
    with _transition(callback_id):
        callback = _lock(callback_id)
        attempt = callback.attempt_set.filter(agent=agent).order_by("-number").first()
        if attempt is None:
            raise TransitionRefused(f"Agent {agent.login_id} has no attempt on this callback.")
        if not attempt.completion_status:
            raise TransitionRefused("The attempt is still in progress: complete it before ending wrap-up.")
        if attempt.acw_ended_at is not None:
            raise TransitionRefused("After Call Work of this attempt has already ended.")
        if at < attempt.completed_at:
            raise TransitionRefused("Wrap-up cannot end before the attempt was completed.")
        attempt.acw_ended_at = at
        attempt.save(update_fields=["acw_ended_at"])
        _audit(
            AuditAction.WRAPUP_COMPLETED,
            actor,
            callback,
            changes={"acw_ended_at": [None, _json(at)]},
            note=f"attempt {attempt.number}",
        )
    return callback


# ---------------------------------------------------------------------------------------------------------
# Supervisor and integration actions


def send_to_queue(callback_id, at: datetime, actor: Actor, expected_state: str | None = None) -> Callback:
    """A supervisor sends a Pending callback to queue at once (it is still only offered while Active)."""
    with _transition(callback_id):
        callback = _lock(callback_id)
        _check_expected_state(callback, expected_state)
        before = _snapshot(callback)
        _require_state(callback, CallbackState.SCHEDULED, "be sent to queue")
        _put_in_queue(callback, at)
        callback.save()
        _audit(AuditAction.SENT_TO_QUEUE, actor, callback, before)
    return callback


def purge(callback_id, at: datetime, actor: Actor, expected_state: str | None = None) -> Callback:
    """A supervisor removes a callback: end state PURGED."""
    return _remove(callback_id, EndState.PURGED, AuditAction.PURGED, at, actor, "", expected_state)


def cancel(callback_id, at: datetime, actor: Actor, reason: str = "", expected_state: str | None = None) -> Callback:
    """The customer, the platform or a supervisor cancels a callback: end state CANCELLED."""
    return _remove(callback_id, EndState.CANCELLED, AuditAction.CANCELLED, at, actor, reason, expected_state)


def reschedule(
    callback_id, desired_time: datetime, at: datetime, actor: Actor, expected_state: str | None = None
) -> Callback:
    """A supervisor moves a Pending callback to another desired time (inside the schedule-ahead window)."""
    with _transition(callback_id):
        callback = _lock(callback_id)
        _check_expected_state(callback, expected_state)
        _require_state(callback, CallbackState.SCHEDULED, "be rescheduled")
        _check_in_window(callback.business_process, desired_time, "desired_time")
        before = _snapshot(callback)
        callback.desired_time = desired_time
        callback.due_at = desired_time
        callback.was_scheduled = True
        callback.save()
        _audit(AuditAction.RESCHEDULED, actor, callback, before)
    return callback


def recreate(callback_id, at: datetime, actor: Actor, expected_state: str | None = None) -> Callback:
    """A supervisor asks for a Completed callback again: a new immediate callback, the old one is kept as it was.

    Returns the new callback. A callback is recreated once; asking again is refused, naming the new one.
    """
    with _transition(callback_id):
        old = _lock(callback_id)
        _check_expected_state(old, expected_state)
        if old.state != CallbackState.COMPLETED:
            raise TransitionRefused(
                f"Callback {old.external_id} cannot be recreated: it is {_describe(old)}, not Completed."
            )
        if not old.business_process.is_active:
            raise TransitionRefused(
                f"Callback {old.external_id} cannot be recreated: business process {old.business_process.code} "
                "is no longer active."
            )
        earlier = AuditEntry.objects.filter(callback=old, action=AuditAction.RECREATED).values_list("note", flat=True)
        if earlier:
            raise TransitionRefused(f"Callback {old.external_id} was already {earlier[0]}. Nothing was changed.")
        new = request_callback(
            external_id=_recreated_id(old.external_id),
            business_process=old.business_process,
            phone=old.phone,
            customer_name=old.customer_name,
            owner_agent=old.owner_agent,
            at=at,
            actor=actor,
            note=f"recreated from {old.external_id}",
        )
        _audit(AuditAction.RECREATED, actor, old, changes={}, note=f"recreated as {new.external_id}")
    return new


def set_stopped(business_process_id: int, stopped: bool, actor: Actor) -> BusinessProcess:
    """Stop callbacks (nothing is dispatched) or resume them. Callbacks keep their place."""
    with transaction.atomic():
        business_process = BusinessProcess.objects.select_for_update().get(pk=business_process_id)
        if business_process.is_stopped == stopped:
            raise TransitionRefused(f"Callbacks of {business_process.code} are already {_stopped_word(stopped)}.")
        business_process.is_stopped = stopped
        business_process.save(update_fields=["is_stopped", "updated"])
        action = AuditAction.STOPPED if stopped else AuditAction.RESUMED
        audit_administration(action, actor, business_process, {"is_stopped": [not stopped, stopped]})
    return business_process


def audit_administration(
    action: str, actor: Actor, business_process: BusinessProcess | None, changes: dict, note: str = ""
) -> None:
    """Record a change made to a business process (or to the product's set-up: business_process None), and
    announce it to whoever watches that business process once the transaction commits."""
    if business_process is not None:
        _notify(business_process.pk)
    AuditEntry.objects.create(
        at=timezone.now(),
        user=actor.user,
        actor=actor.label,
        action=action,
        business_process=business_process,
        changes=changes,
        note=note,
    )


# ---------------------------------------------------------------------------------------------------------
# Timers


def apply_due_timers(now: datetime | None = None) -> dict[str, int]:
    """Apply every timer that is due at ``now``: no-answer deadlines, schedule flips, Pending releases."""
    now = now or timezone.now()
    expired = expire_no_answers(now)
    dispatchable_ids, aborted = apply_schedule_changes(now)
    released = release_due(now, dispatchable_ids)
    return {"no_answer": expired, "aborted": aborted, "released": released}


def expire_no_answers(now: datetime) -> int:
    """Dialing past Duration For No Answer: the timer completes the attempt with No Answer."""
    count = 0
    due_ids = list(
        Callback.objects.filter(
            state=CallbackState.PROCESSING, agent_phase=AgentPhase.DIALING, due_at__lte=now
        ).values_list("pk", flat=True)[:TIMER_BATCH]
    )
    for callback_id in due_ids:
        with transaction.atomic():
            count += _expire_if_overdue(_lock(callback_id), now)
    return count


def apply_schedule_changes(now: datetime, business_process_ids: set[int] | None = None) -> tuple[set[int], int]:
    """Record schedule openings and closings, a closing aborting the untried queue (see the module docstring), and
    the start of each new shift, from which the monitor's shift counters count (CLBK Stat and the shift counters
    are read from these records).

    The timer tick applies it to every business process; an edit of a business process's schedule or timing
    applies it to that one at once (``business_process_ids``).

    Returns the ids of the business processes that are dispatchable now, and how many callbacks were aborted.
    """
    # Every second, every business process: tuples of only the fields the timers need (model objects for a
    # thousand business processes and their ranges cost most of a worker's time).
    business_processes = BusinessProcess.objects.filter(is_active=True).order_by()
    if business_process_ids is not None:
        business_processes = business_processes.filter(pk__any=business_process_ids)
    facts = list(
        business_processes.values_list(
            "pk", "time_zone", "shift_starts", "is_stopped", "schedule_open", "shift_started_at"
        )
    )
    open_ids = open_at(business_processes, {pk: zone for pk, zone, *_ in facts}, now)
    dispatchable_ids, aborted = set(), 0
    new_shifts: dict[datetime, set[int]] = defaultdict(set)
    for pk, zone, shift_starts, is_stopped, was_open, shift_started_at in facts:
        open_now = pk in open_ids
        if open_now and not is_stopped:
            dispatchable_ids.add(pk)
        if open_now != was_open:
            aborted += _flip_schedule(pk, open_now, now)
        if (shift_start := shift_start_at(zone, tuple(shift_starts), now)) != shift_started_at:
            new_shifts[shift_start].add(pk)
    for shift_start, pks in new_shifts.items():
        _record_shift_start(pks, shift_start)
    return dispatchable_ids, aborted


def record_schedule_now(business_process: BusinessProcess) -> None:
    """What the timers record of this business process (schedule open or closed, shift start), recorded now, on
    its creation or an edit of its schedule or timing, rather than at the timers' next look: the monitor shows what
    they recorded, and a schedule the edit closed aborts the untried queue now. The instance is read again."""
    apply_schedule_changes(timezone.now(), {business_process.pk})
    business_process.refresh_from_db(fields=["schedule_open", "schedule_changed_at", "shift_started_at"])


def _record_shift_start(business_process_ids: set[int], shift_start: datetime) -> None:
    """A new shift began: the monitor's shift counters start over."""
    with transaction.atomic():
        BusinessProcess.objects.filter(pk__any=business_process_ids).update(shift_started_at=shift_start)
        _notify_many(business_process_ids)


def release_due(now: datetime, dispatchable_ids: set[int]) -> int:
    """Pending callbacks whose time has come go to queue, in business processes that are dispatchable."""
    released = 0
    while True:
        with transaction.atomic():
            batch = list(
                Callback.objects.select_for_update(skip_locked=True)
                .filter(
                    state=CallbackState.SCHEDULED,
                    due_at__lte=now,
                    business_process_id__in=dispatchable_ids,
                )
                .only("pk", "business_process_id", "external_id", "due_at")[:TIMER_BATCH]
            )
            if not batch:
                return released
            updated = Callback.objects.filter(pk__in=[c.pk for c in batch], state=CallbackState.SCHEDULED).update(
                state=CallbackState.QUEUED, queued_at=now, due_at=None, updated=now
            )
            if not updated:
                return released
            for business_process_id in {c.business_process_id for c in batch}:
                _notify(business_process_id)
            audit_at = timezone.now()
            AuditEntry.objects.bulk_create(
                AuditEntry(
                    at=audit_at,
                    actor=SYSTEM.label,
                    action=AuditAction.RELEASED_TO_QUEUE,
                    business_process_id=c.business_process_id,
                    callback_id=c.pk,
                    callback_ref=c.external_id,
                    changes={
                        "state": [CallbackState.SCHEDULED, CallbackState.QUEUED],
                        "due_at": [_json(c.due_at), None],
                    },
                )
                for c in batch
            )
            released += len(batch)


def _flip_schedule(business_process_id: int, open_now: bool, now: datetime) -> int:
    with _transition():
        business_process = (
            BusinessProcess.objects.select_for_update()
            .prefetch_related("schedule_ranges", "schedule_exceptions")
            .get(pk=business_process_id)
        )
        if business_process.schedule_open == open_now:
            return 0  # another tick got here first
        business_process.schedule_open = open_now
        business_process.schedule_changed_at = now
        business_process.save(update_fields=["schedule_open", "schedule_changed_at"])
        action = AuditAction.SCHEDULE_OPENED if open_now else AuditAction.SCHEDULE_CLOSED
        audit_administration(action, SYSTEM, business_process, {"schedule_open": [not open_now, open_now]})
        if open_now or business_process.is_stopped:
            return 0
        return _abort_untried_queue(business_process, now)


def _abort_untried_queue(business_process: BusinessProcess, now: datetime) -> int:
    tried_today = Attempt.objects.filter(
        callback=OuterRef("pk"), offered_at__gte=local_day_start(business_process, now)
    )
    untried = list(
        Callback.objects.select_for_update()
        .filter(business_process=business_process, state=CallbackState.QUEUED)
        .exclude(Exists(tried_today))
    )
    last_numbers = dict(
        Attempt.objects.filter(callback__in=untried)
        .values("callback")
        .annotate(n=Max("number"))
        .values_list("callback", "n")
    )
    for callback in untried:
        before = _snapshot(callback)
        Attempt.objects.create(
            callback=callback,
            business_process=business_process,
            number=last_numbers.get(callback.pk, 0) + 1,
            completed_at=now,
            completion_status=CompletionStatus.ABORTED,
        )
        _end(callback, EndState.ABORTED, now)
        callback.save()
        _audit(AuditAction.ABORTED, SYSTEM, callback, before, note="schedule closed before it was tried today")
    return len(untried)


# ---------------------------------------------------------------------------------------------------------
# Helpers: the pieces the transitions are made of


def _expire_if_overdue(callback: Callback, now: datetime) -> bool:
    """Apply the automatic No Answer if the locked callback is still Dialing past its deadline.

    The tick does this every second; agent events call it too, so an event that arrives after the deadline
    (a late tick, or a late event) is judged against the state the timer has already decided.
    """
    if not (callback.agent_phase == AgentPhase.DIALING and callback.due_at and callback.due_at <= now):
        return False  # answered, completed, or expired already
    before = _snapshot(callback)
    deadline = callback.due_at
    attempt = callback.attempt_set.order_by("-number").first()
    attempt.completed_at = deadline
    attempt.completion_status = CompletionStatus.NO_ANSWER
    attempt.completed_by_timer = True
    attempt.save(update_fields=["completed_at", "completion_status", "completed_by_timer"])
    _apply_completion(callback, CompletionStatus.NO_ANSWER, deadline)
    callback.save()
    _audit(AuditAction.NO_ANSWER_TIMEOUT, SYSTEM, callback, before, note=f"attempt {attempt.number}")
    return True


def _check_in_window(business_process: BusinessProcess, when: datetime, field: str) -> None:
    """A desired time must lie within the business process's schedule-ahead window."""
    now = timezone.now()
    latest = now + business_process.max_schedule_ahead
    if when < now - DESIRED_TIME_TOLERANCE or when > latest:
        raise ValidationError(
            {
                field: f"Must lie between now and {latest:%Y-%m-%d %H:%M} UTC "
                f"(the schedule-ahead window of {business_process.code})."
            }
        )


@contextmanager
def _transition(callback_id=None) -> Iterator[None]:
    """The transaction of a transition on a callback (a savepoint, inside a ``batch``), or on any callback without
    an id. If the batch has yet to insert that callback, it inserts its requested callbacks first, outside the
    savepoint, so that a refusal keeps them."""
    current = _current_batch.get()
    if current is not None and (callback_id is None or current.has_requested(callback_id)):
        current.insert_requested()
    with transaction.atomic():
        yield


def _lock(callback_id) -> Callback:
    try:
        return (
            # The agents are read only to word a refusal: joined here, they would cost every transition.
            Callback.objects.select_for_update(of=("self",)).select_related("business_process").get(pk=callback_id)
        )
    except Callback.DoesNotExist:
        raise TransitionRefused("No such callback.") from None


def _check_expected_state(callback: Callback, expected_state: str | None) -> None:
    """Refuse to act on a callback whose state changed since the user's page showed it."""
    if expected_state is not None and callback.state != expected_state:
        raise TransitionRefused(
            f"Callback {callback.external_id} is now {_describe_where(callback)}; it was "
            f"{_describe_where_state(expected_state)} when your page was drawn. Nothing was changed."
        )


def _recreated_id(external_id: str) -> str:
    """The id of a recreated callback: cb-7 → cb-7-r1 (or -r2… if taken); cb-7-r1 → cb-7-r2, not cb-7-r1-r1."""
    base = re.sub(r"-r\d+$", "", external_id)
    taken = set(Callback.objects.filter(external_id__startswith=f"{base}-r").values_list("external_id", flat=True))
    number = 1
    while (candidate := f"{base[: 100 - len(f'-r{number}')]}-r{number}") in taken:
        number += 1
    return candidate


def _require_state(callback: Callback, state: str, verb: str) -> None:
    if callback.state != state:
        raise TransitionRefused(
            f"Callback {callback.external_id} cannot {verb}: it is {_describe(callback)}, "
            f"not {CallbackState(state).label}."
        )


def _current_attempt(callback: Callback, agent: Agent, phase: str | None, verb: str) -> Attempt:
    """The attempt in progress, which must be with this agent (and in this phase, when given)."""
    if callback.state not in (CallbackState.ROUTING, CallbackState.PROCESSING):
        raise TransitionRefused(f"Callback {callback.external_id} cannot {verb}: it is {_describe(callback)}.")
    if phase is not None and callback.agent_phase != phase:
        raise TransitionRefused(
            f"Callback {callback.external_id} cannot {verb}: it is {_describe(callback)}, "
            f"not {AgentPhase(phase).label}."
        )
    if callback.current_agent_id != agent.pk:
        raise TransitionRefused(
            f"Callback {callback.external_id} is with agent {callback.current_agent.login_id}, not {agent.login_id}."
        )
    return callback.attempt_set.order_by("-number").first()


def _amendable_attempt(callback: Callback, agent: Agent, status: str) -> Attempt:
    """The timer's No Answer attempt the agent may still amend, or TransitionRefused explaining why not."""
    attempt = callback.attempt_set.order_by("-number").first()
    still_waiting = callback.state != CallbackState.COMPLETED or callback.end_state == EndState.FAILED
    if attempt is None or not attempt.completed_by_timer or attempt.agent_id != agent.pk or not still_waiting:
        raise TransitionRefused(
            f"Callback {callback.external_id} has no attempt in progress with agent {agent.login_id}: "
            f"it is {_describe(callback)}."
        )
    if attempt.acw_ended_at is not None:
        raise TransitionRefused("The automatic No Answer can no longer be amended: wrap-up has ended.")
    if attempt.completion_status != CompletionStatus.NO_ANSWER:
        raise TransitionRefused(
            f"The attempt was already amended to {CompletionStatus(attempt.completion_status).label}."
        )
    if status not in ALLOWED_AMENDMENTS_OF_TIMER_NO_ANSWER:
        raise TransitionRefused(
            f"After the automatic No Answer the status may only be amended to "
            f"{_labels(ALLOWED_AMENDMENTS_OF_TIMER_NO_ANSWER)}, not {CompletionStatus(status).label}."
        )
    return attempt


def _apply_completion(
    callback: Callback,
    status: str,
    at: datetime,
    *,
    reschedule_time: datetime | None = None,
    reschedule_agent: Agent | None = None,
) -> None:
    """What a completion status does to the callback (the table in the module docstring)."""
    business_process = callback.business_process
    if status == CompletionStatus.HANDLED:
        _end(callback, EndState.REACHED, at)
    elif status == CompletionStatus.WRONG_DESTINATION:
        _end(callback, EndState.WRONG_DESTINATION, at)
    elif status in (CompletionStatus.NO_ANSWER, CompletionStatus.ANSWERING_MACHINE):
        callback.attempts += 1
        if callback.attempts >= business_process.attempts_before_failure:
            _end(callback, EndState.FAILED, at)
        else:
            _make_pending(callback, until=at + business_process.recall_interval_after(callback.attempts))
    elif status == CompletionStatus.CANCEL:
        _put_in_queue(callback, at, keep_place=True)
    elif status == CompletionStatus.CALLBACK_REQUESTED:
        callback.desired_time = reschedule_time
        callback.owner_agent = reschedule_agent
        _make_pending(callback, until=reschedule_time)


def _remove(
    callback_id, end_state: str, action: str, at: datetime, actor: Actor, note: str, expected_state: str | None
) -> Callback:
    with _transition(callback_id):
        callback = _lock(callback_id)
        _check_expected_state(callback, expected_state)
        before = _snapshot(callback)
        verb = "be purged" if end_state == EndState.PURGED else "be cancelled"
        if callback.state == CallbackState.COMPLETED:
            raise TransitionRefused(f"Callback {callback.external_id} cannot {verb}: it is {_describe(callback)}.")
        if callback.state == CallbackState.PROCESSING:
            raise TransitionRefused(
                f"Callback {callback.external_id} cannot {verb} while an agent is on it ({_describe(callback)})."
            )
        if callback.state == CallbackState.ROUTING:
            attempt = callback.attempt_set.order_by("-number").first()
            attempt.completed_at = at
            attempt.completion_status = CompletionStatus.WITHDRAWN
            attempt.save(update_fields=["completed_at", "completion_status"])
        _end(callback, end_state, at)
        callback.save()
        _audit(action, actor, callback, before, note=note)
    return callback


def _make_pending(callback: Callback, until: datetime) -> None:
    callback.state = CallbackState.SCHEDULED
    callback.due_at = until
    _leave_agent(callback)


def _put_in_queue(callback: Callback, at: datetime, keep_place: bool = False) -> None:
    callback.state = CallbackState.QUEUED
    callback.due_at = None
    if not (keep_place and callback.queued_at):
        callback.queued_at = at
    _leave_agent(callback)


def _end(callback: Callback, end_state: str, at: datetime) -> None:
    callback.state = CallbackState.COMPLETED
    callback.end_state = end_state
    callback.completed_at = at
    callback.due_at = None
    _leave_agent(callback)


def _leave_agent(callback: Callback) -> None:
    callback.agent_phase = ""
    callback.current_agent = None
    if callback.state != CallbackState.COMPLETED:
        callback.end_state = ""
        callback.completed_at = None


def _describe(callback: Callback) -> str:
    if callback.state == CallbackState.COMPLETED:
        return f"Completed ({EndState(callback.end_state).label})"
    if callback.agent_phase:
        return f"{CallbackState(callback.state).label} ({AgentPhase(callback.agent_phase).label})"
    return CallbackState(callback.state).label


def _describe_where(callback: Callback) -> str:
    """The state with the seed's interaction location: "Queued (HandlingByBusinessProcess)", "Processing (Dialing,
    HandlingByAgent)", "Completed (Purged)"."""
    if callback.state == CallbackState.COMPLETED:
        return _describe(callback)
    phase = AgentPhase(callback.agent_phase).label if callback.agent_phase else ""
    return f"{CallbackState(callback.state).label} ({', '.join(filter(None, [phase, callback.location]))})"


def _describe_where_state(state: str) -> str:
    location = LOCATION_OF_STATE.get(state)
    return f"{CallbackState(state).label} ({location})" if location else CallbackState(state).label


def _labels(statuses) -> str:
    return ", ".join(str(CompletionStatus(s).label) for s in sorted(statuses))


def _stopped_word(stopped: bool) -> str:
    return "stopped" if stopped else "running"


def _snapshot(callback: Callback) -> dict:
    return {field: _json(getattr(callback, field)) for field in AUDITED_FIELDS}


def _diff(before: dict, after: dict) -> dict:
    return {field: [before.get(field), value] for field, value in after.items() if before.get(field) != value}


def _json(value):
    return value.isoformat() if isinstance(value, datetime) else value


@dataclass
class Batch:
    """What the transitions of a ``batch`` block leave for later: the business processes to announce, the audit
    entries to write, the requested callbacks to insert."""

    changed: set[int] = field(default_factory=set)
    audit_entries: list[AuditEntry] = field(default_factory=list)
    requested: list[Callback] = field(default_factory=list)

    def mark(self) -> tuple[int, int]:
        return len(self.audit_entries), len(self.requested)

    def forget_since(self, mark: tuple[int, int]) -> None:
        """The transitions since ``mark`` were rolled back (a savepoint): what they left for later goes with them."""
        del self.audit_entries[mark[0] :]
        del self.requested[mark[1] :]

    def has_requested(self, callback_id) -> bool:
        return any(str(callback.pk) == str(callback_id) for callback in self.requested)

    def insert_requested(self) -> None:
        Callback.objects.bulk_create(self.requested)
        self.requested.clear()


_current_batch: ContextVar[Batch | None] = ContextVar("current_batch", default=None)


@contextmanager
def batch() -> Iterator[Batch]:
    """Many transitions in one transaction (an array of ingest events): their audit entries are written in one insert
    when the block ends, and each business process changed is announced once, on commit, however many changes it
    saw. Whoever rolls a transition back to a savepoint inside the block calls ``forget_since``.

    The requested callbacks are inserted together too: before a transition on one of them (outside its savepoint,
    so that its refusal does not take them back), or when the block ends. A request for a callback id already
    taken is therefore not refused inside the block: the insert raises IntegrityError, which leaves the transaction
    unusable. The caller rolls the block back and applies its transitions again one by one; it saves that in the
    common case by refusing the ids it knows taken.
    """
    current = Batch()
    token = _current_batch.set(current)
    try:
        yield current
    finally:
        _current_batch.reset(token)
    current.insert_requested()
    AuditEntry.objects.bulk_create(current.audit_entries)
    if current.changed:
        _announce_on_commit(sorted(current.changed))


def _notify(business_process_id: int) -> None:
    """After the commit, tell whoever watches (the live monitor) that this business process changed."""
    _notify_many([business_process_id])


def _notify_many(business_process_ids) -> None:
    if (current := _current_batch.get()) is not None:
        current.changed.update(business_process_ids)
    else:
        _announce_on_commit(sorted(business_process_ids))


def _announce_on_commit(business_process_ids: list[int]) -> None:
    transaction.on_commit(
        lambda: business_process_changed.send(BusinessProcess, business_process_ids=business_process_ids)
    )


def _audit(action: str, actor: Actor, callback: Callback, before: dict | None = None, *, changes=None, note=""):
    if changes is None:
        changes = _diff(before or {}, _snapshot(callback)) if before is not None else {}
    _notify(callback.business_process_id)
    entry = AuditEntry(
        at=timezone.now(),
        user=actor.user,
        actor=actor.label,
        action=action,
        business_process_id=callback.business_process_id,
        callback=callback,
        callback_ref=callback.external_id,
        changes=changes,
        note=note,
    )
    if (current := _current_batch.get()) is not None:
        current.audit_entries.append(entry)  # the audit is each transition's last write: see ``batch``
    else:
        entry.save(force_insert=True)


# ---------------------------------------------------------------------------------------------------------
# Bulk cancel (Callbacks page)


@dataclass(frozen=True)
class CancelOutcome:
    """What a bulk cancel did to one callback: cancelled, or skipped and why."""

    callback: Callback
    previous_state: str
    cancelled: bool
    reason: str = ""


def cancel_many(callback_ids, at: datetime, actor: Actor, reason: str = "") -> list[CancelOutcome]:
    """Cancel many callbacks, each in its own transaction through ``cancel``; one refusal stops nothing.

    PROCESSING callbacks (an agent is on them) and completed ones are skipped and reported, as is any callback
    whose state changed since it was read (the refusal's reason is kept).
    """
    outcomes = []
    callbacks = Callback.objects.filter(pk__in=list(callback_ids)).select_related("business_process")
    for callback in callbacks.order_by("created", "pk"):
        previous = callback.state
        if previous == CallbackState.PROCESSING:
            outcomes.append(CancelOutcome(callback, previous, False, "an agent is on it (Processing)"))
            continue
        if previous == CallbackState.COMPLETED:
            outcomes.append(CancelOutcome(callback, previous, False, f"already {_describe(callback)}"))
            continue
        try:
            cancelled = cancel(callback.pk, at, actor, reason)
        except TransitionRefused as refusal:
            outcomes.append(CancelOutcome(callback, previous, False, str(refusal)))
        else:
            outcomes.append(CancelOutcome(cancelled, previous, True))
    return outcomes
