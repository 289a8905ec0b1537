"""Changes to a business process's Callback Timing settings and schedule: the only code that writes them.

Each change runs in one transaction under a row lock on the business process, refuses to overwrite a change
made since the editor opened the page (``StaleChange``), writes one audit entry with before → after per field,
and announces itself on commit (``business_process_changed``) so that every open monitor recomputes.

The engine reads these settings when it decides (accept, completion, recall, dispatch), so a saved value
applies to the very next decision; callbacks already waiting keep their place (their due times stand).

A schedule edit that closes the schedule now is a closing like any other: the next timer tick sees the
business process open at its previous look and closed now, and applies the ABORTED rule of the engine's
docstring (untried queued callbacks end ABORTED; Pending ones and those tried today keep their place).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from .choices import AuditAction
from .engine import Actor, audit_administration, batch, record_schedule_now
from .models import AuditEntry, BusinessProcess, ScheduleException, ScheduleRange
from .models.business_processes import _check_ranges
from .schedule import MIDNIGHT, open_ranges_on

TIMING_ACTIONS = (AuditAction.TIMING_CHANGED, AuditAction.SCHEDULE_CHANGED)

# The settings an administrator edits on the Callback Timing tab, in the order of the form.
SETTINGS_FIELDS = (
    "no_answer_seconds",
    "attempts_before_failure",
    "recall_intervals",
    "time_zone",
    "shift_starts",
    "max_schedule_ahead",
    "to_be_processed_threshold",
    "failed_pct_threshold",
)

DURATION_UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1}
_UNIT_WORDS = {
    "d": "d",
    "day": "d",
    "days": "d",
    "h": "h",
    "hr": "h",
    "hrs": "h",
    "hour": "h",
    "hours": "h",
    "m": "m",
    "min": "m",
    "mins": "m",
    "minute": "m",
    "minutes": "m",
    "s": "s",
    "sec": "s",
    "secs": "s",
    "second": "s",
    "seconds": "s",
}
_DURATION_PART = re.compile(r"(\d+)\s*([a-z]*)")

Weekly = dict[int, list[tuple[time, time]]]


@dataclass(frozen=True)
class DatedException:
    """A date's exception as edited: no ranges = closed all day."""

    date: date
    ranges: tuple[tuple[time, time], ...]
    note: str = ""


class StaleChange(Exception):
    """Someone saved the Callback Timing of this business process since the editor opened the page."""

    def __init__(self, entry: AuditEntry | None):
        self.entry = entry
        if entry is None:
            who = "Someone changed this business process"
        else:
            at = timezone.localtime(entry.at)
            who = f"{entry.actor.removeprefix('user:')} changed this business process at {at:%Y-%m-%d %H:%M:%S %Z}"
        super().__init__(f"Not saved: {who} since you opened the page. The page now shows the current values.")


# ---------------------------------------------------------------------------------------------------------
# Durations as people type them


def parse_duration(text: str) -> int:
    """Seconds in "90s", "5m", "1h 30m", "2d", "1 h 30 min", "0" (a bare number is seconds). ValueError if not."""
    cleaned = text.strip().lower()
    if not cleaned:
        raise ValueError("Give a duration, such as 90s, 5m, 1h 30m or 2d.")
    total, position, seen = 0, 0, set()
    for match in _DURATION_PART.finditer(cleaned):
        if cleaned[position : match.start()].strip(" ,"):
            break
        amount, word = int(match.group(1)), match.group(2)
        unit = _UNIT_WORDS.get(word or "s")
        if unit is None or unit in seen:
            break
        seen.add(unit)
        total += amount * DURATION_UNITS[unit]
        position = match.end()
    else:
        if not cleaned[position:].strip(" ,"):
            return total
    raise ValueError(f"“{text.strip()}” is not a duration: write it like 90s, 5m, 1h 30m or 2d.")


def format_duration(seconds: int) -> str:
    """The style ``parse_duration`` reads: 0, 45s, 5m, 1h 30m, 2d."""
    parts = []
    for unit, size in DURATION_UNITS.items():
        amount, seconds = divmod(int(seconds), size)
        if amount:
            parts.append(f"{amount}{unit}")
    return " ".join(parts) or "0"


def join_notes(exceptions: list[ScheduleException]) -> str:
    """The notes of one date's exceptions (each range of special hours carries the date's note)."""
    return "; ".join(dict.fromkeys(e.note for e in exceptions if e.note))


def format_range(start: time, end: time) -> str:
    return f"{start:%H:%M}–{'24:00' if end == MIDNIGHT else f'{end:%H:%M}'}"


# ---------------------------------------------------------------------------------------------------------
# Reading: the version an editor works from, the current values, the preview line


def timing_version(business_process_id: int) -> int:
    """The id of the last Callback Timing change of this business process (0 if none): what a form carries."""
    return (
        AuditEntry.objects.filter(business_process_id=business_process_id, action__in=TIMING_ACTIONS)
        .order_by("-id")
        .values_list("id", flat=True)
        .first()
        or 0
    )


def settings_values(business_process: BusinessProcess) -> dict:
    """The editable settings as the audit log records them (JSON: durations in seconds)."""
    values = {field: getattr(business_process, field) for field in SETTINGS_FIELDS}
    values["max_schedule_ahead"] = int(business_process.max_schedule_ahead.total_seconds())
    return values


def schedule_values(business_process: BusinessProcess) -> dict:
    """The weekly ranges per day and the exceptions per date, as text (the audit log's before → after)."""
    values = {}
    for day, name in ScheduleRange.Weekday.choices:
        ranges = sorted((r.start, r.end) for r in business_process.schedule_ranges.all() if r.weekday == day)
        values[name] = ", ".join(format_range(*r) for r in ranges) or "closed"
    by_date: dict[date, list[ScheduleException]] = {}
    for exception in business_process.schedule_exceptions.all():
        by_date.setdefault(exception.date, []).append(exception)
    for day, exceptions in sorted(by_date.items()):
        ranges = sorted((e.start, e.end) for e in exceptions if not e.is_closed_all_day)
        text = ", ".join(format_range(*r) for r in ranges) or "closed all day"
        note = join_notes(exceptions)
        values[day.isoformat()] = f"{text} ({note})" if note else text
    return values


def schedule_preview(business_process: BusinessProcess, now: datetime) -> str:
    """ "Open now, closes at 18:00 (in 2 h 14 min)" or "Closed, opens Monday 08:00", in the local time zone."""
    tz = business_process.tz
    now = now.astimezone(UTC)  # aware datetimes of one tzinfo subtract by wall clock; across tzinfos, truly
    local = now.astimezone(tz)
    days = 15
    spans = _open_spans(business_process, local.date(), days)
    horizon = datetime.combine(local.date() + timedelta(days=days), MIDNIGHT, tzinfo=tz)
    for start, end in spans:
        if start <= now < end:
            if end >= horizon:
                return "Open now, no closing in the next two weeks"
            close = end.astimezone(tz)
            return f"Open now, closes {_when(close, local)} ({_in(end - now)})"
        if start > now:
            opening = start.astimezone(tz)
            return f"Closed, opens {_when(opening, local)} ({_in(start - now)})"
    return "Closed, no opening in the next two weeks"


def _open_spans(business_process: BusinessProcess, first: date, days: int) -> list[tuple[datetime, datetime]]:
    """Open spans as aware instants from a local date on, ranges that touch (across midnight too) merged."""
    tz = business_process.tz
    spans: list[tuple[datetime, datetime]] = []
    for offset in range(days):
        day = first + timedelta(days=offset)
        for start, end in sorted(open_ranges_on(business_process, day)):
            begin = datetime.combine(day, start, tzinfo=tz)
            finish = datetime.combine(day + timedelta(days=1) if end == MIDNIGHT else day, end, tzinfo=tz)
            if spans and spans[-1][1] == begin:
                spans[-1] = (spans[-1][0], finish)
            else:
                spans.append((begin, finish))
    return spans


def _when(moment: datetime, local_now: datetime) -> str:
    days = (moment.date() - local_now.date()).days
    if days == 0:
        return f"at {moment:%H:%M}"
    if days == 1:
        return f"tomorrow {moment:%H:%M}"
    if days < 7:
        return f"{moment:%A %H:%M}"
    return f"{moment:%A %d %B %H:%M}"


def _in(delta: timedelta) -> str:
    minutes = max(int(delta.total_seconds() // 60), 0)
    days, rest = divmod(minutes, 1440)
    hours, minutes = divmod(rest, 60)
    if days:
        return f"in {days} d {hours} h"
    if hours:
        return f"in {hours} h {minutes} min"
    return f"in {minutes} min"


# ---------------------------------------------------------------------------------------------------------
# Writing


def change_settings(business_process_id: int, values: dict, actor: Actor, version: int) -> BusinessProcess:
    """Save validated settings (``SETTINGS_FIELDS``; max_schedule_ahead a timedelta) all at once, audited."""
    with transaction.atomic(), batch():  # one announcement for the change and what it records at once
        business_process = _lock(business_process_id, version)
        before = settings_values(business_process)
        for field in SETTINGS_FIELDS:
            setattr(business_process, field, values[field])
        business_process.full_clean()
        after = settings_values(business_process)
        changes = _diff(before, after)
        if changes:
            business_process.save(update_fields=[*SETTINGS_FIELDS, "updated"])
            audit_administration(AuditAction.TIMING_CHANGED, actor, business_process, changes)
            record_schedule_now(business_process)
    return business_process


def change_schedule(
    business_process_id: int, weekly: Weekly, exceptions: list[DatedException], actor: Actor, version: int
) -> BusinessProcess:
    """Replace the weekly ranges and the dated exceptions at once, audited. The form explains a bad range in
    detail; the model's rule is checked here too, so that no caller can store a reversed or overlapping one."""
    for day, ranges in weekly.items():
        _check_ranges(ranges, ScheduleRange.Weekday(day).label)
    for exception in exceptions:
        _check_ranges(list(exception.ranges), str(exception.date))
    if len({exception.date for exception in exceptions}) != len(exceptions):
        raise ValidationError("Give each date of exception once.")
    with transaction.atomic(), batch():
        business_process = _lock(business_process_id, version)
        before = schedule_values(business_process)
        business_process.schedule_ranges.all().delete()
        business_process.schedule_exceptions.all().delete()
        ScheduleRange.objects.bulk_create(
            ScheduleRange(business_process=business_process, weekday=day, start=start, end=end)
            for day, ranges in sorted(weekly.items())
            for start, end in ranges
        )
        ScheduleException.objects.bulk_create(
            ScheduleException(business_process=business_process, date=exception.date, start=start, end=end, note=note)
            for exception in exceptions
            for start, end, note in (
                [(s, e, exception.note) for s, e in exception.ranges] or [(None, None, exception.note)]
            )
        )
        del business_process._prefetched_objects_cache
        after = schedule_values(business_process)
        changes = _diff(before, after)
        if changes:
            business_process.save(update_fields=["updated"])
            audit_administration(AuditAction.SCHEDULE_CHANGED, actor, business_process, changes)
            record_schedule_now(business_process)
    return business_process


def _lock(business_process_id: int, version: int) -> BusinessProcess:
    business_process = (
        BusinessProcess.objects.select_for_update()
        .prefetch_related("schedule_ranges", "schedule_exceptions")
        .get(pk=business_process_id)
    )
    current = timing_version(business_process_id)
    if current != version:
        raise StaleChange(AuditEntry.objects.filter(pk=current).first())
    return business_process


def _diff(before: dict, after: dict) -> dict:
    keys = list(before) + [key for key in after if key not in before]
    return {key: [before.get(key), after.get(key)] for key in keys if before.get(key) != after.get(key)}
