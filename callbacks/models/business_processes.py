import itertools
import zoneinfo
from datetime import time, timedelta

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models

NO_ANSWER_SECONDS_BOUNDS = (10, 600)
ATTEMPTS_BEFORE_FAILURE_BOUNDS = (1, 20)
RECALL_INTERVAL_BOUNDS = (0, 7 * 24 * 3600)
MAX_SCHEDULE_AHEAD_BOUNDS = (timedelta(hours=1), timedelta(days=30))
DEFAULT_OPEN, DEFAULT_CLOSE = time(8), time(18)


def default_recall_intervals() -> list[int]:
    return [5 * 60, 15 * 60, 60 * 60]


def default_shift_starts() -> list[str]:
    return ["00:00"]


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"“{value}” is not a known time zone (use a name such as Europe/Paris).")


def validate_recall_intervals(value: object) -> None:
    low, high = RECALL_INTERVAL_BOUNDS
    if not isinstance(value, list) or not value:
        raise ValidationError("Give at least one recall interval.")
    for seconds in value:
        if not isinstance(seconds, int) or isinstance(seconds, bool) or not low <= seconds <= high:
            raise ValidationError("Each recall interval must be a whole number of seconds from 0 s to 7 days.")


def validate_shift_starts(value: object) -> None:
    if not isinstance(value, list) or not value:
        raise ValidationError("Give at least one shift start.")
    for item in value:
        try:
            time.fromisoformat(item)
        except (TypeError, ValueError):
            raise ValidationError(f"“{item}” is not a time of day (HH:MM).") from None
    if len(set(value)) != len(value):
        raise ValidationError("Shift starts must differ from each other.")


class BusinessProcess(models.Model):
    """A virtual queue where callbacks wait, with its Callback Timing settings (seed 001)."""

    code = models.CharField(
        max_length=50,
        unique=True,
        validators=[RegexValidator(r"^[A-Za-z0-9_.-]+$", "Use letters, digits, dot, dash or underscore.")],
        help_text="Stable identifier used by the ingest API.",
    )
    name = models.CharField(max_length=200)
    time_zone = models.CharField(max_length=64, default="UTC", validators=[validate_time_zone])
    no_answer_seconds = models.PositiveIntegerField(
        "Duration For No Answer (s)",
        default=60,
        validators=[MinValueValidator(NO_ANSWER_SECONDS_BOUNDS[0]), MaxValueValidator(NO_ANSWER_SECONDS_BOUNDS[1])],
    )
    attempts_before_failure = models.PositiveSmallIntegerField(
        "Attempts Before Failure",
        default=3,
        validators=[
            MinValueValidator(ATTEMPTS_BEFORE_FAILURE_BOUNDS[0]),
            MaxValueValidator(ATTEMPTS_BEFORE_FAILURE_BOUNDS[1]),
        ],
    )
    recall_intervals = models.JSONField(
        "Recall Intervals (s)",
        default=default_recall_intervals,
        validators=[validate_recall_intervals],
        help_text="Seconds before the callback returns to queue after attempt 1, 2, 3…; the last value repeats.",
    )
    shift_starts = models.JSONField(
        default=default_shift_starts,
        validators=[validate_shift_starts],
        help_text="Local times (HH:MM) at which a shift begins.",
    )
    max_schedule_ahead = models.DurationField(
        "Max schedule-ahead",
        default=timedelta(days=30),
        validators=[MinValueValidator(MAX_SCHEDULE_AHEAD_BOUNDS[0]), MaxValueValidator(MAX_SCHEDULE_AHEAD_BOUNDS[1])],
    )
    to_be_processed_threshold = models.PositiveIntegerField(
        "Clbk To Be Proc threshold",
        default=50,
        help_text="The monitor marks the business process when more callbacks than this wait.",
    )
    failed_pct_threshold = models.PositiveSmallIntegerField(
        "% Clbk Fail threshold",
        default=30,
        validators=[MaxValueValidator(100)],
        help_text="The monitor marks the business process when more than this percentage of Proc failed.",
    )
    is_stopped = models.BooleanField(default=False, help_text="Stopped by a supervisor: nothing is dispatched.")
    is_active = models.BooleanField(default=True, help_text="Inactive business processes are hidden; history is kept.")
    # The schedule state last acted upon by the timer tick: a flip from open to closed is what aborts
    # untried callbacks, and remembering it makes that happen exactly once.
    schedule_open = models.BooleanField(default=False, editable=False)
    schedule_changed_at = models.DateTimeField(null=True, blank=True, editable=False)
    # When the current shift began, as the timer tick last recorded it: the monitor's shift counters count from it,
    # and the tick announces each new shift.
    shift_started_at = models.DateTimeField(null=True, blank=True, editable=False)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "business processes"
        permissions = [
            ("view_monitor", "Can watch the live monitor and callback search"),
            ("stop_business_process", "Can stop and resume callbacks of a business process"),
            ("change_callback_timing", "Can edit Callback Timing settings and schedules"),
            ("manage_business_processes", "Can create, rename and deactivate business processes"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)

    def add_default_schedule(self) -> None:
        """Open Monday to Friday, 08:00–18:00 (DESIGN.md's default), for a business process given no hours."""
        ScheduleRange.objects.bulk_create(
            ScheduleRange(business_process=self, weekday=day, start=DEFAULT_OPEN, end=DEFAULT_CLOSE) for day in range(5)
        )

    def recall_interval_after(self, attempts: int) -> timedelta:
        """Delay before returning to queue after the given number of attempts (the last interval repeats)."""
        index = min(max(attempts, 1), len(self.recall_intervals)) - 1
        return timedelta(seconds=self.recall_intervals[index])


def _check_ranges(ranges: list[tuple[time, time | None]], where: str) -> None:
    """Refuse reversed and overlapping ranges. An end of 00:00 means midnight at the end of the day."""
    spans = sorted((start, time.max if end in (None, time(0)) else end) for start, end in ranges)
    for start, end in spans:
        if end <= start:
            raise ValidationError(f"{where}: a range must end after it starts ({start:%H:%M}).")
    for (start_a, end_a), (start_b, _) in itertools.pairwise(spans):
        if start_b < end_a:
            raise ValidationError(f"{where}: ranges overlap ({start_a:%H:%M}–{end_a:%H:%M} and {start_b:%H:%M}).")


class ScheduleRange(models.Model):
    """One weekly open range of a business process, in its time zone. An end of 00:00 means midnight."""

    class Weekday(models.IntegerChoices):
        MONDAY = 0, "Monday"
        TUESDAY = 1, "Tuesday"
        WEDNESDAY = 2, "Wednesday"
        THURSDAY = 3, "Thursday"
        FRIDAY = 4, "Friday"
        SATURDAY = 5, "Saturday"
        SUNDAY = 6, "Sunday"

    business_process = models.ForeignKey(BusinessProcess, on_delete=models.CASCADE, related_name="schedule_ranges")
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices)
    start = models.TimeField()
    end = models.TimeField()

    class Meta:
        ordering = ["weekday", "start"]
        indexes = [models.Index(fields=["business_process", "weekday"], name="schedule_range_bp_day")]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.start:%H:%M}–{self.end:%H:%M}"

    def clean(self) -> None:
        if not self.business_process_id:
            return
        others = ScheduleRange.objects.filter(business_process=self.business_process_id, weekday=self.weekday)
        ranges = [(r.start, r.end) for r in others.exclude(pk=self.pk)] + [(self.start, self.end)]
        try:
            _check_ranges(ranges, self.get_weekday_display())
        except ValidationError as error:
            raise ValidationError({"end": error.messages}) from None


class ScheduleException(models.Model):
    """A dated exception to the weekly schedule: closed all day (no times), or special open hours that day."""

    business_process = models.ForeignKey(BusinessProcess, on_delete=models.CASCADE, related_name="schedule_exceptions")
    date = models.DateField()
    start = models.TimeField(null=True, blank=True)
    end = models.TimeField(null=True, blank=True)
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["date", "start"]
        indexes = [models.Index(fields=["business_process", "date"], name="schedule_exception_bp_date")]

    def __str__(self) -> str:
        if self.is_closed_all_day:
            return f"{self.date}: closed"
        return f"{self.date}: {self.start:%H:%M}–{self.end:%H:%M}"

    @property
    def is_closed_all_day(self) -> bool:
        return self.start is None

    def clean(self) -> None:
        if (self.start is None) != (self.end is None):
            raise ValidationError({"end": "Give both start and end for special hours, or neither for a closed day."})
        if not self.business_process_id:
            return
        others = ScheduleException.objects.filter(business_process=self.business_process_id, date=self.date)
        others = list(others.exclude(pk=self.pk))
        if others and (self.is_closed_all_day or any(o.is_closed_all_day for o in others)):
            raise ValidationError({"date": f"{self.date} already has an exception; a closed day stands alone."})
        if not self.is_closed_all_day:
            try:
                _check_ranges([(o.start, o.end) for o in others] + [(self.start, self.end)], str(self.date))
            except ValidationError as error:
                raise ValidationError({"end": error.messages}) from None
