"""When a business process is open (its weekly ranges, overridden on a given date by that date's exceptions), and
when its current shift began.

All times are wall-clock times in the business process's time zone, so a range keeps its local hours across
daylight-saving changes (on the spring-forward day, the skipped hour simply does not occur).
"""

from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from django.db.models import QuerySet

from .models import BusinessProcess, ScheduleException, ScheduleRange

MIDNIGHT = time(0)

Ranges = list[tuple[time, time]]


def _ranges_of_day(weekly: Ranges, exceptions: Iterable[tuple[time | None, time | None]] | None) -> Ranges:
    """A date's open ranges: its exceptions, if it has any, replace the weekday's ranges; an exception without
    times (closed all day) leaves none."""
    if exceptions is None:
        return weekly
    return [(start, end) for start, end in exceptions if start is not None]


def _covers(ranges: Ranges, local_time: time) -> bool:
    """Whether a local time of day falls in one of the ranges (end exclusive; an end of 00:00 means midnight)."""
    return any(start <= local_time and (end == MIDNIGHT or local_time < end) for start, end in ranges)


def open_ranges_on(business_process: BusinessProcess, day: date) -> Ranges:
    """The open ranges on a local date, as (start, end) with end exclusive; an end of 00:00 means midnight.

    Reads what ``load_schedules`` loaded, else the related managers (prefetched ones when the caller did so).
    """
    loaded = getattr(business_process, "loaded_schedule", None)
    if loaded is not None:
        weekly, exceptions = loaded
        return _ranges_of_day(weekly.get(day.weekday(), []), exceptions.get(day))
    dated = [(e.start, e.end) for e in business_process.schedule_exceptions.all() if e.date == day]
    weekly = [(r.start, r.end) for r in business_process.schedule_ranges.all() if r.weekday == day.weekday()]
    return _ranges_of_day(weekly, dated or None)


def load_schedules(business_processes: list[BusinessProcess]) -> None:
    """Load the schedules of many business processes in two flat queries, without building model objects."""
    by_pk = {bp.pk: bp for bp in business_processes}
    ranges = ScheduleRange.objects.filter(business_process_id__any=by_pk.keys())
    dated = ScheduleException.objects.filter(business_process_id__any=by_pk.keys())
    weekly: dict[int, dict[int, list]] = defaultdict(lambda: defaultdict(list))
    for pk, weekday, start, end in ranges.values_list("business_process_id", "weekday", "start", "end"):
        weekly[pk][weekday].append((start, end))
    exceptions: dict[int, dict[date, list]] = defaultdict(lambda: defaultdict(list))
    for pk, day, start, end in dated.values_list("business_process_id", "date", "start", "end"):
        exceptions[pk][day].append((start, end))
    for pk, business_process in by_pk.items():
        business_process.loaded_schedule = (weekly[pk], exceptions[pk])


def is_open(business_process: BusinessProcess, at: datetime) -> bool:
    """Whether the schedule is open at an instant."""
    local = at.astimezone(business_process.tz)
    return _covers(open_ranges_on(business_process, local.date()), local.time())


def open_at(business_processes: QuerySet[BusinessProcess], time_zones: Mapping[int, str], at: datetime) -> set[int]:
    """The ids of the ``business_processes`` whose schedule is open at an instant, as ``is_open`` decides, given
    their time zones (id → zone, as the caller read them from the queryset).

    The timer tick asks this of every business process every second (and records the answer, which the monitor
    shows as CLBK Stat): this reads only the ranges and exceptions of the instant's local dates (two at most,
    whatever the time zones), as tuples in two queries, and converts the instant once per time zone rather than
    once per business process. The ranges are selected by the queryset as a subquery: matching them against a list
    of a thousand ids costs PostgreSQL twice as much.
    """
    days = local_dates(time_zones.values(), at)
    selected = business_processes.values("pk")
    ranges = ScheduleRange.objects.filter(business_process__in=selected, weekday__in={day.weekday() for day in days})
    exceptions = ScheduleException.objects.filter(business_process__in=selected, date__in=days)
    return open_among(
        time_zones,
        ranges.order_by().values_list("business_process_id", "weekday", "start", "end"),
        exceptions.order_by().values_list("business_process_id", "date", "start", "end"),
        at,
    )


def local_dates(time_zones: Iterable[str], at: datetime) -> set[date]:
    """The local dates of an instant in the time zones: two at most."""
    return {at.astimezone(ZoneInfo(zone)).date() for zone in set(time_zones)}


def open_among(
    time_zones: Mapping[int, str],
    ranges: Iterable[tuple[int, int, time, time]],
    exceptions: Iterable[tuple[int, date, time | None, time | None]],
    at: datetime,
) -> set[int]:
    """Of the business processes given (id → time zone), those open at an instant, from their weekly ranges
    (business process, weekday, start, end) and dated exceptions (business process, date, start, end) of the
    instant's local dates."""
    local = {zone: at.astimezone(ZoneInfo(zone)) for zone in set(time_zones.values())}
    weekly: dict[tuple[int, int], Ranges] = defaultdict(list)
    for pk, weekday, start, end in ranges:
        weekly[pk, weekday].append((start, end))
    dated: dict[tuple[int, date], list] = defaultdict(list)
    for pk, day, start, end in exceptions:
        dated[pk, day].append((start, end))
    open_ids = set()
    for pk, zone in time_zones.items():
        moment = local[zone]
        day = moment.date()
        if _covers(_ranges_of_day(weekly.get((pk, day.weekday()), []), dated.get((pk, day))), moment.time()):
            open_ids.add(pk)
    return open_ids


def is_dispatchable(business_process: BusinessProcess, at: datetime) -> bool:
    """Callbacks may be put in queue and offered: not stopped, and the schedule is open (CLBK Stat Active)."""
    return not business_process.is_stopped and is_open(business_process, at)


def local_day_start(business_process: BusinessProcess, at: datetime) -> datetime:
    """Midnight of the local date of an instant, in the business process's time zone."""
    local = at.astimezone(business_process.tz)
    return datetime.combine(local.date(), MIDNIGHT, tzinfo=business_process.tz)


def current_shift_start(business_process: BusinessProcess, now: datetime) -> datetime:
    """The most recent of the business process's shift starts (local times of day) at or before now."""
    return shift_start_at(business_process.time_zone, tuple(business_process.shift_starts), now)


@lru_cache(maxsize=1024)
def shift_start_at(time_zone: str, shift_starts: tuple[str, ...], now: datetime) -> datetime:
    """The most recent of the shift starts (local times of day in the time zone) at or before now.

    Cached: a thousand business processes share a few dozen (time zone, shift starts) pairs, and the timer tick
    asks about every one of them at the same ``now``.
    """
    tz = ZoneInfo(time_zone)
    local_now = now.astimezone(tz)
    starts = [
        datetime.combine(day, time.fromisoformat(start), tzinfo=tz)
        for start in shift_starts
        for day in (local_now.date(), local_now.date() - timedelta(days=1))
    ]
    return max(start for start in starts if start <= now)
