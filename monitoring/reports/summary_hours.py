"""The summary report's figures pre-aggregated per business process per UTC hour (SummaryHour).

Counting a month of callbacks for 1,000 business processes took 5–7 s (four aggregates over millions of rows);
summing their hours takes a fraction of that. The figures of an hour are those the report counts directly
(summary.count_directly, with hours for periods), so a report made of hours is the report counted directly.

- Kept by ``refresh`` (a Celery beat task, every SUMMARY_REFRESH_SECONDS): it rewrites the closed hours of the
  last SUMMARY_RECOMPUTE_HOURS whole, then says (SummaryCoverage) that every hour before the current one is in
  the table. The first run builds every hour there is. Rewriting, never incrementing: run twice, or twice at
  once (the coverage row is locked), it gives the same rows.
- The current hour, and anything after the coverage, is counted from the callbacks: it shows at once.
- Late events: an event that lands in an hour already written (an After Call Work ending reported late, a
  callback reopened) shows at the next refresh if the hour is within SUMMARY_RECOMPUTE_HOURS; older than that,
  only a rebuild of those days brings it in (``manage.py rebuild_summary_hours FIRST LAST``).
- Callbacks deleted by retention stay in their hours: the summary keeps its figures past
  CALLBACK_RETENTION_DAYS (a rebuild of those days drops them).
- Time zones: the table's hours make up the days and hours of any zone whose offset is a whole number of hours
  over the range (DST included); for the others (India +05:30, Nepal +05:45…) ``covered_until`` says nothing is
  covered and the report counts from the callbacks.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from django.db import transaction
from django.db.models import Min, Sum
from django.db.models.functions import TruncHour

from callbacks.models import Attempt, BusinessProcess, Callback

from ..models import SummaryCoverage, SummaryHour
from . import hours
from .hours import floor_hour
from .summary import END_STATES, Periods, count_directly

HOUR = timedelta(hours=1)


def whole_hour_offsets(tz: ZoneInfo, start: datetime, end: datetime) -> bool:
    """Whether every local day and hour boundary in [start, end) is a whole UTC hour: the zone's offset at
    each hour of the range is a whole number of hours."""
    moment = floor_hour(start)
    if moment != start:
        return False
    while moment < end:
        if tz.utcoffset(moment) % HOUR:
            return False
        moment += HOUR
    return True


def covered_until(start: datetime, end: datetime, tz: ZoneInfo) -> datetime:
    """Where in [start, end) the table stops serving this zone: ``start`` when it cannot serve at all."""
    coverage = SummaryCoverage.objects.values_list("complete_until", flat=True).first()
    if coverage is None or coverage <= start or not whole_hour_offsets(tz, start, min(end, coverage)):
        return start
    return min(coverage, end)


def sum_hours(periods: Periods, start: datetime, end: datetime, trunc, business_process_ids=None) -> None:
    """Add the table's hours in [start, end) to ``periods``, each in the period ``trunc`` puts its hour in."""
    hours = SummaryHour.objects.filter(hour__gte=start, hour__lt=end)
    if business_process_ids:
        hours = hours.filter(business_process_id__in=business_process_ids)
    sums = {name: Sum(name) for name in ["requested", *END_STATES, "attempts", "handled_attempts", "handle_time"]}
    rows = hours.annotate(period=trunc("hour")).values("business_process_id", "period").annotate(**sums).order_by()
    for row in rows:
        period = periods[row["business_process_id"], row["period"]]
        period.requested += row["requested"]
        for state in END_STATES:
            period.ended[state] += row[state]
        period.attempts += row["attempts"]
        period.handled_attempts += row["handled_attempts"]
        period.handle_time += row["handle_time"]


def rebuild(start: datetime, end: datetime) -> int:
    """Rewrite the hours in [start, end) (whole UTC hours) from the callbacks and attempts; returns the rows
    written. One transaction: a report reads the old hours or the new ones."""
    periods = Periods(BusinessProcess.objects.in_bulk())
    count_directly(periods, start, end, lambda expression: TruncHour(expression, tzinfo=UTC))
    rows = [
        SummaryHour(
            business_process_id=bp_id,
            hour=hour,
            requested=p.requested,
            **p.ended,
            attempts=p.attempts,
            handled_attempts=p.handled_attempts,
            handle_time=p.handle_time,
        )
        for (bp_id, hour), p in periods.items()
    ]
    with transaction.atomic():
        SummaryHour.objects.filter(hour__gte=start, hour__lt=end).delete()
        SummaryHour.objects.bulk_create(rows, batch_size=2000)
    return len(rows)


def earliest_hour() -> datetime | None:
    """The first hour anything happened in (a first refresh builds from there)."""
    times = [
        Callback.objects.aggregate(first=Min("created"))["first"],
        Callback.objects.aggregate(first=Min("completed_at"))["first"],
        Attempt.objects.aggregate(first=Min("acw_ended_at"))["first"],
    ]
    times = [moment for moment in times if moment is not None]
    return floor_hour(min(times)) if times else None


def refresh(now: datetime | None = None) -> int:
    """Rewrite the closed hours of the last SUMMARY_RECOMPUTE_HOURS (every hour there is, the first time) and
    mark the table complete up to the current hour. Returns the rows written."""
    return hours.refresh(SummaryCoverage, earliest_hour, rebuild, now)
