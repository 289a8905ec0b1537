"""The Business Process monitor's columns (seed 001), each defined once, here.

    CLBK Stat        Stopped if a supervisor stopped callbacks; else Active if the schedule is open now (as the
                     timers recorded it); else Off Schedule HRS.
    Proc             callbacks that reached an end state other than Purged or Cancelled during the current
                     shift (succeeded + failed: Reached, Failed, Wrong destination, Aborted).
    Clbk To Be Proc  callbacks not in an end state (Pending + HandlingByBusinessProcess + HandlingByAgent).
    Clbk Avg Time    mean handle time (accept → end of After Call Work) of attempts whose After Call Work
                     ended during the current shift.
    Clbk Purged      callbacks purged during the current shift.
    % Clbk Reached   Reached ÷ Proc × 100 (none when Proc is 0).
    % Clbk Fail      (Proc − Reached) ÷ Proc × 100 (none when Proc is 0).

"The current shift" began at the most recent of the business process's shift starts, in its time zone.
The totals row sums the counts and weighs the percentages and the average by what they are made of.

Whether the schedule is open and when the current shift began are the timers' to record, every second, on the
business process (``schedule_open``, ``shift_started_at``: callbacks.engine.apply_schedule_changes), which announces
each opening, closing and new shift; an edit of the schedule or of the shift starts records them at once. The engine
acts on the same records (a closing aborts the untried queue), so the monitor shows what the engine does, and
``compute_rows`` only counts: each business process is joined with its own callbacks (and attempts) from its own
recorded shift start, one range of a covering index per business process, read from the index alone. The same
filters (``proc_filter``, ``TO_BE_PROCESSED``…) select the callbacks behind a number when a supervisor asks which
ones they are.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from functools import reduce
from operator import or_
from zoneinfo import ZoneInfo

from django.db import connection, transaction
from django.db.models import (
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    FilteredRelation,
    Q,
    QuerySet,
    Sum,
)
from django.utils import timezone

from callbacks.choices import CallbackState, EndState
from callbacks.models import BusinessProcess, Callback

STOPPED, ACTIVE, OFF_SCHEDULE = "stopped", "active", "off_schedule"
STATUS_LABELS = {STOPPED: "Stopped", ACTIVE: "Active", OFF_SCHEDULE: "Off Schedule HRS"}

TO_BE_PROCESSED = Q(state__in=CallbackState.open_states())
PROCESSED = Q(end_state__in=EndState.processed())  # an end state other than Purged or Cancelled
REACHED = Q(end_state=EndState.REACHED)
PURGED = Q(end_state=EndState.PURGED)
ACCEPTED = Q(accepted_at__isnull=False)


def ended_since(since) -> Q:
    return Q(completed_at__gte=since)


def wrapped_up_since(since) -> Q:
    return Q(acw_ended_at__gte=since)


def proc_filter(since) -> Q:
    """Proc: an end state other than Purged or Cancelled, reached since the shift began."""
    return PROCESSED & ended_since(since)


def reached_filter(since) -> Q:
    return REACHED & ended_since(since)


def failed_filter(since) -> Q:
    """Proc − Reached: processed callbacks where no customer was reached."""
    return proc_filter(since) & ~REACHED


def purged_filter(since) -> Q:
    return PURGED & ended_since(since)


def handled_attempts_filter(since) -> Q:
    """Attempts counted in Clbk Avg Time: accepted, and their After Call Work ended since the shift began."""
    return ACCEPTED & wrapped_up_since(since)


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    rule: str  # what the number counts, stated above the list of those callbacks


COLUMNS = [
    Column(
        "status",
        "CLBK Stat",
        "Stopped if callbacks were stopped; else Active while the schedule is open; else Off Schedule HRS",
    ),
    Column(
        "proc",
        "Proc",
        "callbacks that reached an end state other than Purged or Cancelled since the shift began at {shift}",
    ),
    Column("to_be_processed", "Clbk To Be Proc", "callbacks not in an end state (Pending, in queue, with an agent)"),
    Column(
        "avg_time",
        "Clbk Avg Time",
        "mean handle time (accept → end of After Call Work) of attempts that ended since the shift began at {shift}",
    ),
    Column("purged", "Clbk Purged", "callbacks purged since the shift began at {shift}"),
    Column("pct_reached", "% Clbk Reached", "Reached ÷ Proc × 100, Proc being {proc_rule}"),
    Column("pct_failed", "% Clbk Fail", "(Proc − Reached) ÷ Proc × 100, Proc being {proc_rule}"),
]
COLUMNS_BY_KEY = {column.key: column for column in COLUMNS}


def clbk_stat(is_stopped: bool, schedule_open: bool) -> str:
    return STOPPED if is_stopped else ACTIVE if schedule_open else OFF_SCHEDULE


def status(business_process: BusinessProcess) -> str:
    return clbk_stat(business_process.is_stopped, business_process.schedule_open)


@dataclass
class Row:
    """One business process's line of the monitor (or the totals line, with no business process)."""

    code: str
    name: str
    status: str = ""
    shift_started_at: datetime | None = None  # as the timers recorded it (UTC)
    time_zone: str = ""
    proc: int = 0
    reached: int = 0
    to_be_processed: int = 0
    purged: int = 0
    handled_attempts: int = 0
    handle_seconds: float = 0.0
    to_be_processed_threshold: int | None = None
    failed_pct_threshold: int | None = None
    computed_at: datetime | None = field(default=None, compare=False)

    @property
    def shift_start(self) -> datetime | None:
        """When the current shift began, in the business process's time zone (converted only when shown: the
        worker compares and pushes rows by their numbers)."""
        if self.shift_started_at is None:
            return None
        return self.shift_started_at.astimezone(ZoneInfo(self.time_zone)) if self.time_zone else self.shift_started_at

    @property
    def avg_time_seconds(self) -> float | None:
        return self.handle_seconds / self.handled_attempts if self.handled_attempts else None

    @property
    def pct_reached(self) -> float | None:
        return 100 * self.reached / self.proc if self.proc else None

    @property
    def pct_failed(self) -> float | None:
        return 100 * (self.proc - self.reached) / self.proc if self.proc else None

    @property
    def over_to_be_processed_threshold(self) -> bool:
        return self.to_be_processed_threshold is not None and self.to_be_processed > self.to_be_processed_threshold

    @property
    def over_failed_threshold(self) -> bool:
        return self.failed_pct_threshold is not None and (self.pct_failed or 0) > self.failed_pct_threshold

    def cells(self) -> dict[str, str]:
        """Each column as the monitor shows it."""
        return {
            "status": STATUS_LABELS.get(self.status, ""),
            "proc": str(self.proc),
            "to_be_processed": str(self.to_be_processed),
            "avg_time": format_duration(self.avg_time_seconds),
            "purged": str(self.purged),
            "pct_reached": format_percent(self.pct_reached),
            "pct_failed": format_percent(self.pct_failed),
        }

    def as_message(self) -> dict:
        """The row as the WebSocket pushes it: display cells plus what the page needs to colour it."""
        return {
            "code": self.code,
            "name": self.name,
            "status": self.status,
            "cells": self.cells(),
            "over": {
                "to_be_processed": self.over_to_be_processed_threshold,
                "pct_failed": self.over_failed_threshold,
            },
        }

    def as_api(self) -> dict:
        """The row as the read API returns it (numbers, null for a percentage or average without data)."""
        return {
            "code": self.code or None,
            "name": self.name,
            "status": self.status or None,
            "proc": self.proc,
            "to_be_processed": self.to_be_processed,
            "avg_time_seconds": _round(self.avg_time_seconds),
            "purged": self.purged,
            "pct_reached": _round(self.pct_reached),
            "pct_failed": _round(self.pct_failed),
            "shift_start": self.shift_start.isoformat() if self.shift_start else None,
            "computed_at": self.computed_at.isoformat() if self.computed_at else None,
        }


@dataclass
class Monitor:
    rows: list[Row]
    totals: Row
    computed_at: datetime


def compute_rows(now: datetime | None = None, business_process_ids: list[int] | None = None) -> Monitor:
    """Every column of every active business process (or of the given ones), with a constant number of queries.

    CLBK Stat and the shift start are as the timers recorded them last; ``now`` stamps the rows.
    """
    with _one_snapshot():
        return _compute_rows(now or timezone.now(), business_process_ids)


@contextmanager
def _one_snapshot():
    """Run the computation's queries on one snapshot of the database (PostgreSQL REPEATABLE READ), so that a
    callback ending between two of them is not counted both as to be processed and as processed.

    And without JIT compilation: the planner cannot estimate how much of each business process's history lies in
    its current shift, takes a third of it, and past a few million callbacks would spend 50–100 ms compiling queries
    that take 20 ms. Both settings in one statement, one round trip.

    Inside a transaction already (a test, a caller's atomic block) the caller's settings apply.
    """
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        yield
        return
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY; SET LOCAL jit = off")
        yield


# What a row needs of its business process (the model has many more fields: Callback Timing…).
ROW_FIELDS = (
    "pk",
    "code",
    "name",
    "time_zone",
    "is_stopped",
    "schedule_open",
    "shift_started_at",
    "to_be_processed_threshold",
    "failed_pct_threshold",
)
SHIFT_START = F("shift_started_at")  # the business process's, as the timers recorded it


def _compute_rows(now: datetime, business_process_ids: list[int] | None) -> Monitor:
    business_processes = BusinessProcess.objects.filter(is_active=True)
    if business_process_ids is not None:
        business_processes = business_processes.filter(pk__any=set(business_process_ids))
    rows = _rows_with_shift_counts(business_processes, now)
    if rows:
        _count_to_be_processed(rows, every_business_process=business_process_ids is None)
        _sum_handle_times(business_processes, rows)
    ordered = list(rows.values())
    return Monitor(rows=ordered, totals=totals(ordered, now), computed_at=now)


def _rows_with_shift_counts(business_processes: QuerySet[BusinessProcess], now: datetime) -> dict[int, Row]:
    """The rows, with CLBK Stat, Proc, Reached and Purged: each business process joined with its callbacks that ended
    during its current shift, which PostgreSQL reads as one range of the index callback_bp_completed per business
    process, from the index alone. Only those are read, so the end state alone tells which column counts them;
    completed_at (never null in the shift) is counted, being in the index (the ids are not)."""
    ended = (
        business_processes.annotate(
            shift=FilteredRelation("callbacks", condition=through("callbacks", ended_since(SHIFT_START)))
        )
        .values_list(*ROW_FIELDS)
        .annotate(
            proc=Count("shift__completed_at", filter=through("shift", PROCESSED)),
            reached=Count("shift__completed_at", filter=through("shift", REACHED)),
            purged=Count("shift__completed_at", filter=through("shift", PURGED)),
        )
        .order_by("name")
    )
    rows = {}
    for pk, code, name, zone, is_stopped, schedule_open, shift_start, waiting, failing, *counts in ended:
        rows[pk] = Row(
            code=code,
            name=name,
            status=clbk_stat(is_stopped, schedule_open),
            shift_started_at=shift_start,
            time_zone=zone,
            proc=counts[0],
            reached=counts[1],
            purged=counts[2],
            to_be_processed_threshold=waiting,
            failed_pct_threshold=failing,
            computed_at=now,
        )
    return rows


def totals(rows: list[Row], now: datetime) -> Row:
    """Sums of the counts; the percentages and the average come out weighted from the sums."""
    return Row(
        code="",
        name="Total",
        proc=sum(r.proc for r in rows),
        reached=sum(r.reached for r in rows),
        to_be_processed=sum(r.to_be_processed for r in rows),
        purged=sum(r.purged for r in rows),
        handled_attempts=sum(r.handled_attempts for r in rows),
        handle_seconds=sum(r.handle_seconds for r in rows),
        computed_at=now,
    )


def group_by_shift_start(shift_starts: dict[int, datetime]) -> list[tuple[datetime, set[int]]]:
    """The business processes (ids) whose shifts began at each distinct instant: few, however many processes."""
    groups: dict[datetime, set[int]] = defaultdict(set)
    for pk, instant in shift_starts.items():
        groups[instant].add(pk)  # a dict, not a sort: comparing datetimes of different time zones is slow
    return list(groups.items())


def per_business_process(shift_filter: Callable[[datetime], Q], shift_starts: dict[int, datetime]) -> Q:
    """OR over the business processes of: that business process, and the filter from its own shift start.

    Business processes whose shifts began at the same instant share one term.
    """
    terms = [
        Q(business_process_id__any=pks) & shift_filter(instant) for instant, pks in group_by_shift_start(shift_starts)
    ]
    return reduce(or_, terms) if terms else Q(pk__in=[])


def through(relation: str, condition: Q) -> Q:
    """A filter written for callbacks (or attempts), applied to them from the business process, through
    ``relation``: so that the count and the list of the callbacks behind it share one definition."""
    children = [
        through(relation, child) if isinstance(child, Q) else (f"{relation}__{child[0]}", child[1])
        for child in condition.children
    ]
    return Q(*children, _connector=condition.connector, _negated=condition.negated)


def _count_to_be_processed(rows: dict[int, Row], every_business_process: bool) -> None:
    to_be_processed = Callback.objects.filter(TO_BE_PROCESSED)
    if not every_business_process:
        to_be_processed = to_be_processed.filter(business_process_id__any=rows.keys())
    # For every business process, the whole of the partial index callback_open_bp in one pass: matching it
    # against a thousand ids costs more than the few open callbacks of inactive business processes it reads.
    counts = (
        to_be_processed.values_list("business_process_id")
        .annotate(n=Count("*"))  # not Count("pk"): reading the id would forbid an index-only scan of callback_open_bp
        .order_by()
    )
    for pk, n in counts:
        if pk in rows:
            rows[pk].to_be_processed = n


def _sum_handle_times(business_processes: QuerySet[BusinessProcess], rows: dict[int, Row]) -> None:
    # As for Proc: a range of attempt_bp_acw_ended per business process, from the index alone.
    handled = (
        business_processes.annotate(
            shift=FilteredRelation("attempts", condition=through("attempts", handled_attempts_filter(SHIFT_START)))
        )
        .values_list("pk")
        .annotate(
            n=Count("shift__acw_ended_at"),
            total=Sum(
                ExpressionWrapper(F("shift__acw_ended_at") - F("shift__accepted_at"), output_field=DurationField())
            ),
        )
        .order_by()
    )
    for pk, n, total in handled:
        if n:
            rows[pk].handled_attempts, rows[pk].handle_seconds = n, total.total_seconds()


def format_duration(seconds: float | None) -> str:
    """m:ss (or h:mm:ss), — when there is nothing to average."""
    if seconds is None:
        return "—"
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def format_percent(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f} %"


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)
