"""When a business process is open: its weekly ranges, overridden on a given date by that date's exceptions.

All times are wall-clock times in the business process's time zone, so a range keeps its local hours across
daylight-saving changes (on the spring-forward day, the skipped hour simply does not occur).
"""

from datetime import date, datetime, time

from .models import BusinessProcess

MIDNIGHT = time(0)


def open_ranges_on(business_process: BusinessProcess, day: date) -> list[tuple[time, time]]:
    """The open ranges on a local date, as (start, end) with end exclusive; an end of 00:00 means midnight.

    Uses prefetched schedule_ranges / schedule_exceptions when the caller prefetched them.
    """
    exceptions = [e for e in business_process.schedule_exceptions.all() if e.date == day]
    if exceptions:
        return [(e.start, e.end) for e in exceptions if not e.is_closed_all_day]
    return [(r.start, r.end) for r in business_process.schedule_ranges.all() if r.weekday == day.weekday()]


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
