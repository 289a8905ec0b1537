"""Report 6.04, Completed Callback Interaction (seed 001): one entry per completed callback, with its attempts.

An entry: business process, callback ID, phone, customer name, end state, original entrance time (``created``),
completion time, last attempt time, total attempts, and for each attempt its time, agent name and attempt state.

- Total attempts counts the attempts recorded, whatever their status (an attempt declined with Cancel
  included) — not ``Callback.attempts``, which counts only those towards Attempts Before Failure.
- An attempt's time is when it was offered; the Aborted attempt the engine records when the schedule closes
  was never offered, so its time is when it was recorded (the callback's removal).
- The last attempt time is the time of the callback's last attempt (so an aborted callback shows its removal).
- The attempt state is the attempt's completion status: Aborted for the schedule's removal, Withdrawn for an
  offer taken back by Purge or Cancel.
"""

from __future__ import annotations

from datetime import datetime
from typing import TypeVar

from django.db.models import Prefetch, QuerySet

from callbacks.choices import CompletionStatus
from callbacks.models import Agent, Attempt, Callback

REPORT = "completed-callbacks"
TITLE = "Completed Callback Interaction"


def completed_callbacks() -> QuerySet[Callback]:
    """Every completed callback, business process joined. ``completed_at`` is set exactly when a callback is
    completed (a check constraint says so), and filtering on it lets the completion-time indexes serve."""
    return Callback.objects.filter(completed_at__isnull=False).select_related("business_process")


def with_attempts(callbacks: QuerySet[Callback]) -> QuerySet[Callback]:
    """The callbacks with their attempts (agent joined, in order) in one more query for the whole page."""
    attempts = Attempt.objects.select_related("agent").order_by("number")
    return callbacks.prefetch_related(Prefetch("attempt_set", queryset=attempts))


# Times are datetimes on screen, formatted text in the downloads (monitoring.reports.exports.ReportTime).
Moment = TypeVar("Moment", datetime, str)


def attempt_time(offered_at: Moment | None, completed_at: Moment | None) -> Moment | None:
    return offered_at if offered_at is not None else completed_at


def agent_name(display_name: str | None, login_id: str | None) -> str:
    return display_name or login_id or ""


ATTEMPT_STATES = dict(CompletionStatus.choices)


def attempt_state(completion_status: str) -> str:
    return ATTEMPT_STATES.get(completion_status, completion_status)


def last_attempt_time(times: list[Moment | None]) -> Moment | None:
    """The time of the last attempt, the attempts in number order (numbers follow time: an Aborted attempt
    is always the last one)."""
    return next((t for t in reversed(times) if t is not None), None)


class Entry:
    """One completed callback as the report shows it, from a callback whose attempts are prefetched."""

    def __init__(self, callback: Callback):
        self.callback = callback
        self.attempts = [AttemptLine(attempt) for attempt in callback.attempt_set.all()]
        self.last_attempt_time = last_attempt_time([line.time for line in self.attempts])


class AttemptLine:
    def __init__(self, attempt: Attempt):
        agent: Agent | None = attempt.agent
        self.number = attempt.number
        self.time = attempt_time(attempt.offered_at, attempt.completed_at)
        self.agent = agent_name(agent.display_name, agent.login_id) if agent else ""
        self.state = attempt_state(attempt.completion_status)
        self.status = attempt.completion_status
