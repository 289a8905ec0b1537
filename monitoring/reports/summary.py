"""The summary report: per business process per day (or hour), what was requested and how callbacks ended.

A callback counts as requested in the period it was created in, and under its end state in the period it
ended in; its attempts count with it (average attempts per ended callback). Handle time is an attempt's, from
accept to the end of After Call Work, in the period its After Call Work ended (as the monitor's Clbk Avg Time).
Periods are days or hours in a chosen time zone. Counted from the callbacks (four aggregate queries, whatever
the range) or, for the hours it holds, summed from the pre-aggregated SummaryHour table (summary_hours).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db.models import Count, DurationField, ExpressionWrapper, F, Sum
from django.db.models.functions import TruncDay, TruncHour

from callbacks.choices import EndState
from callbacks.models import Attempt, BusinessProcess, Callback

from .agents import day_range
from .database import without_jit

DAY, HOUR = "day", "hour"
END_STATES = [EndState.REACHED, EndState.FAILED, EndState.WRONG_DESTINATION, EndState.PURGED, EndState.CANCELLED,
              EndState.ABORTED]  # fmt: skip


@dataclass
class Period:
    """One business process in one day or hour."""

    business_process: BusinessProcess
    start: datetime
    requested: int = 0
    ended: dict[str, int] = field(default_factory=lambda: dict.fromkeys(END_STATES, 0))
    attempts: int = 0
    handled_attempts: int = 0
    handle_time: timedelta = timedelta()  # exact (microseconds): a period summed from parts adds up the same

    @property
    def processed(self) -> int:
        """Ended other than purged or cancelled, as the monitor's Proc."""
        return sum(n for state, n in self.ended.items() if state in EndState.processed())

    @property
    def reach_rate(self) -> float | None:
        return 100 * self.ended[EndState.REACHED] / self.processed if self.processed else None

    @property
    def average_attempts(self) -> float | None:
        ended = sum(self.ended.values())
        return self.attempts / ended if ended else None

    @property
    def handle_seconds(self) -> float:
        return self.handle_time.total_seconds()

    @property
    def average_handle_seconds(self) -> float | None:
        return self.handle_seconds / self.handled_attempts if self.handled_attempts else None

    def add(self, other: Period) -> None:
        self.requested += other.requested
        for state, n in other.ended.items():
            self.ended[state] += n
        self.attempts += other.attempts
        self.handled_attempts += other.handled_attempts
        self.handle_time += other.handle_time

    def figures(self) -> tuple:
        """Every number, to compare two periods."""
        return self.requested, tuple(self.ended.values()), self.attempts, self.handled_attempts, self.handle_time


class Periods(dict):
    """Periods by (business process id, start), made on first use."""

    def __init__(self, business_processes: dict[int, BusinessProcess]):
        super().__init__()
        self.business_processes = business_processes

    def __missing__(self, key: tuple[int, datetime]) -> Period:
        period = self[key] = Period(business_process=self.business_processes[key[0]], start=key[1])
        return period


def count_directly(
    periods: Periods, start: datetime, end: datetime, trunc, business_process_ids: list[int] | None = None
) -> None:
    """Add to ``periods`` what happened in [start, end), counted from the callbacks and attempts, each in the
    period ``trunc`` (a TruncDay or TruncHour of a time) puts it in. Four aggregate queries."""
    callbacks, attempts = Callback.objects.all(), Attempt.objects.all()
    if business_process_ids:
        callbacks = callbacks.filter(business_process_id__in=business_process_ids)
        attempts = attempts.filter(business_process_id__in=business_process_ids)
    requested = (
        callbacks.filter(created__gte=start, created__lt=end)
        .annotate(period=trunc("created"))
        .values("business_process_id", "period")
        .annotate(n=Count("pk"))
        .order_by()
    )
    for row in requested:
        periods[row["business_process_id"], row["period"]].requested += row["n"]
    ended = (
        callbacks.filter(completed_at__gte=start, completed_at__lt=end)
        .annotate(period=trunc("completed_at"))
        .values("business_process_id", "period", "end_state")
        .annotate(n=Count("pk"))
        .order_by()
    )
    for row in ended:
        periods[row["business_process_id"], row["period"]].ended[row["end_state"]] += row["n"]
    tries = (
        attempts.filter(callback__completed_at__gte=start, callback__completed_at__lt=end)
        .annotate(period=trunc("callback__completed_at"))
        .values("business_process_id", "period")
        .annotate(n=Count("pk"))
        .order_by()
    )
    for row in tries:
        periods[row["business_process_id"], row["period"]].attempts += row["n"]
    handle_time = ExpressionWrapper(F("acw_ended_at") - F("accepted_at"), output_field=DurationField())
    handled = (
        attempts.filter(acw_ended_at__gte=start, acw_ended_at__lt=end, accepted_at__isnull=False)
        .annotate(period=trunc("acw_ended_at"))
        .values("business_process_id", "period")
        .annotate(n=Count("pk"), total=Sum(handle_time))
        .order_by()
    )
    for row in handled:
        period = periods[row["business_process_id"], row["period"]]
        period.handled_attempts += row["n"]
        period.handle_time += row["total"]


def summarize(
    first: date, last: date, tz: ZoneInfo, granularity: str = DAY, business_process_ids: list[int] | None = None
) -> list[Period]:
    """Periods with any activity, ordered by time then business process.

    The hours the pre-aggregated table covers (summary_hours) are summed from it, the rest counted from the
    callbacks themselves; a time zone whose offset is not a whole number of hours in the range (India, Nepal,
    Newfoundland…) cannot be made of UTC hours, and is counted from the callbacks throughout.
    """
    from . import summary_hours

    start, end = day_range(first, last, tz)
    business_processes = BusinessProcess.objects.all()
    if business_process_ids:
        business_processes = business_processes.filter(pk__in=business_process_ids)
    periods = Periods({bp.pk: bp for bp in business_processes})
    trunc_class = TruncHour if granularity == HOUR else TruncDay

    def trunc(expression):
        return trunc_class(expression, tzinfo=tz)

    split = summary_hours.covered_until(start, end, tz)
    with without_jit():
        if split > start:
            summary_hours.sum_hours(periods, start, split, trunc, business_process_ids)
        if split < end:
            count_directly(periods, split, end, trunc, business_process_ids)
    return sorted(periods.values(), key=lambda p: (p.start, p.business_process.code))


def over_time(periods: list[Period], first: date, last: date, tz: ZoneInfo, granularity: str) -> list[Period]:
    """All business processes together, one period per day or hour of the range (empty ones included)."""
    if granularity == HOUR:  # hours step in absolute time: a DST day has 23 or 25 of them
        start, end = day_range(first, last, tz)
        moments, moment = [], start.astimezone(UTC)
        while moment < end:
            moments.append(moment.astimezone(tz))
            moment += timedelta(hours=1)
    else:
        moments = [
            datetime.combine(first + timedelta(days=n), time(), tzinfo=tz) for n in range((last - first).days + 1)
        ]
    totals = {moment: Period(business_process=None, start=moment) for moment in moments}
    for p in periods:
        totals[p.start].add(p)
    return list(totals.values())
