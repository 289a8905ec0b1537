"""When a business process is open: its weekly ranges, overridden on a given date by that date's exceptions.

All times are wall-clock times in the business process's time zone, so a range keeps its local hours across
daylight-saving changes (on the spring-forward day, the skipped hour simply does not occur).
"""

from collections import defaultdict
from datetime import date, datetime, time

from .models import BusinessProcess, ScheduleException, ScheduleRange

MIDNIGHT = time(0)


def open_ranges_on(business_process: BusinessProcess, day: date) -> list[tuple[time, time]]:
    """The open ranges on a local date, as (start, end) with end exclusive; an end of 00:00 means midnight.

    Reads what ``load_schedules`` loaded, else the related managers (prefetched ones when the caller did so).
    """
    loaded = getattr(business_process, "loaded_schedule", None)
    if loaded is not None and (loaded[2] is None or day in loaded[2]):
        weekly, exceptions, _ = loaded
        if day in exceptions:
            return [(start, end) for start, end in exceptions[day] if start is not None]
        return weekly.get(day.weekday(), [])
    exceptions = [e for e in business_process.schedule_exceptions.all() if e.date == day]
    if exceptions:
        return [(e.start, e.end) for e in exceptions if not e.is_closed_all_day]
    return [(r.start, r.end) for r in business_process.schedule_ranges.all() if r.weekday == day.weekday()]


def load_schedules(business_processes: list[BusinessProcess], at: datetime | None = None) -> None:
    """Load the schedules of many business processes in two flat queries, without building model objects.

    The monitor and the timers evaluate every business process's schedule every second or so; prefetching model
    instances for a thousand of them costs several times more than these tuples. With ``at``, only what decides
    whether each is open at that instant is loaded (its local weekday's ranges, its local date's exceptions): a
    fraction of the rows. Asked about another day, ``open_ranges_on`` reads the database.
    """
    by_pk = {bp.pk: bp for bp in business_processes}
    ranges = ScheduleRange.objects.filter(business_process_id__any=list(by_pk))
    dated = ScheduleException.objects.filter(business_process_id__any=list(by_pk))
    days = None
    if at is not None:
        days = {at.astimezone(bp.tz).date() for bp in by_pk.values()}  # two at most, whatever the time zones
        ranges = ranges.filter(weekday__in={day.weekday() for day in days})
        dated = dated.filter(date__in=days)
    weekly: dict[int, dict[int, list]] = defaultdict(lambda: defaultdict(list))
    for pk, weekday, start, end in ranges.values_list("business_process_id", "weekday", "start", "end"):
        weekly[pk][weekday].append((start, end))
    exceptions: dict[int, dict[date, list]] = defaultdict(lambda: defaultdict(list))
    for pk, day, start, end in dated.values_list("business_process_id", "date", "start", "end"):
        exceptions[pk][day].append((start, end))
    for pk, business_process in by_pk.items():
        business_process.loaded_schedule = (weekly[pk], exceptions[pk], days)


def is_open(business_process: BusinessProcess, at: datetime) -> bool:
    """Whether the schedule is open at an instant."""
    local = at.astimezone(business_process.tz)
    now = local.time().replace(tzinfo=None)
    return any(
        start <= now and (end == MIDNIGHT or now < end) for start, end in open_ranges_on(business_process, local.date())
    )


def is_dispatchable(business_process: BusinessProcess, at: datetime) -> bool:
    """Callbacks may be put in queue and offered: not stopped, and the schedule is open (CLBK Stat Active)."""
    return not business_process.is_stopped and is_open(business_process, at)


def local_day_start(business_process: BusinessProcess, at: datetime) -> datetime:
    """Midnight of the local date of an instant, in the business process's time zone."""
    local = at.astimezone(business_process.tz)
    return datetime.combine(local.date(), MIDNIGHT, tzinfo=business_process.tz)
