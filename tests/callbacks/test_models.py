"""Model validation of Callback Timing settings and schedules, and when a schedule is open."""

from datetime import UTC, date, datetime, time, timedelta

import pytest
from django.core.exceptions import ValidationError

from callbacks.models import BusinessProcess, ScheduleException, ScheduleRange
from callbacks.schedule import is_open, open_at, open_ranges_on

pytestmark = pytest.mark.django_db

MONDAY, SUNDAY = 0, 6


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def clean_errors(instance) -> dict:
    """The field errors full_clean() reports (empty when valid)."""
    try:
        instance.full_clean()
    except ValidationError as error:
        return error.message_dict
    return {}


def settings_errors(**settings) -> dict:
    return clean_errors(BusinessProcess(code="BP", name="BP", **settings))


# ---------------------------------------------------------------------------------------------------------
# Callback Timing settings


def test_defaults():
    """Domain: the defaults are 60 s, 3 attempts, 5/15/60 min, 30 days, shift at 00:00."""
    business_process = BusinessProcess(code="BP", name="BP")
    assert business_process.no_answer_seconds == 60
    assert business_process.attempts_before_failure == 3
    assert business_process.recall_intervals == [300, 900, 3600]
    assert business_process.max_schedule_ahead == timedelta(days=30)
    assert business_process.shift_starts == ["00:00"]
    assert business_process.time_zone == "UTC"
    assert not business_process.is_stopped
    assert settings_errors() == {}


def test_default_lists_are_not_shared():
    """Domain: each business process gets its own default lists."""
    first, second = BusinessProcess(code="A"), BusinessProcess(code="B")
    first.recall_intervals.append(7200)
    first.shift_starts.append("12:00")
    assert second.recall_intervals == [300, 900, 3600]
    assert second.shift_starts == ["00:00"]


@pytest.mark.parametrize(("value", "valid"), [(9, False), (10, True), (60, True), (600, True), (601, False)])
def test_no_answer_seconds_bounds(value, valid):
    """Duration For No Answer: 10–600 s."""
    assert ("no_answer_seconds" not in settings_errors(no_answer_seconds=value)) is valid


@pytest.mark.parametrize(("value", "valid"), [(0, False), (1, True), (3, True), (20, True), (21, False)])
def test_attempts_before_failure_bounds(value, valid):
    """Attempts Before Failure: 1–20."""
    assert ("attempts_before_failure" not in settings_errors(attempts_before_failure=value)) is valid


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ([], False),
        (None, False),
        ("300", False),
        ([-1], False),
        ([300, -5], False),
        ([7 * 86400 + 1], False),
        (["300"], False),
        ([1.5], False),
        ([300.0], False),
        ([True], False),
        ([None], False),
        ({"1": 300}, False),
        ([0], True),
        ([7 * 86400], True),
        ([60], True),
        ([300, 900, 3600], True),
        ([0, 60, 120, 600, 3600, 86400], True),
    ],
)
def test_recall_intervals_validation(value, valid):
    """Recall Intervals: at least one, each a whole number of seconds from 0 s to 7 days."""
    errors = settings_errors(recall_intervals=value)
    assert ("recall_intervals" not in errors) is valid, errors


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        (timedelta(minutes=59, seconds=59), False),
        (timedelta(hours=1), True),
        (timedelta(days=7), True),
        (timedelta(days=30), True),
        (timedelta(days=30, seconds=1), False),
        (timedelta(0), False),
    ],
)
def test_max_schedule_ahead_bounds(value, valid):
    """Max schedule-ahead: 1 hour–30 days."""
    assert ("max_schedule_ahead" not in settings_errors(max_schedule_ahead=value)) is valid


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("Europe/Paris", True),
        ("America/New_York", True),
        ("UTC", True),
        ("Mars/Olympus_Mons", False),
        ("CET+1", False),
        ("", False),
        ("europe/paris", False),
    ],
)
def test_time_zone(value, valid):
    """Business process: the time zone must be a known IANA name."""
    assert ("time_zone" not in settings_errors(time_zone=value)) is valid


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        (["00:00"], True),
        (["06:00", "14:00", "22:00"], True),
        (["07:30"], True),
        ([], False),
        (None, False),
        ("06:00", False),
        (["25:00"], False),
        (["12:60"], False),
        (["morning"], False),
        ([600], False),
        (["06:00", "06:00"], False),
    ],
)
def test_shift_starts(value, valid):
    """Shift start: one or more distinct local times of day."""
    errors = settings_errors(shift_starts=value)
    assert ("shift_starts" not in errors) is valid, errors


@pytest.mark.parametrize(
    ("code", "valid"), [("SALES", True), ("sales-eu_2.x", True), ("has space", False), ("", False)]
)
def test_code(code, valid):
    """Business process: the code used by the API is letters, digits, dot, dash or underscore."""
    errors = clean_errors(BusinessProcess(code=code, name="Name"))
    assert ("code" not in errors) is valid, errors


@pytest.mark.parametrize(("attempts", "expected"), [(0, 300), (1, 300), (2, 900), (3, 3600), (4, 3600), (19, 3600)])
def test_recall_interval_after_repeats_the_last_value(attempts, expected):
    """Recall Intervals: interval n after attempt n; the last value repeats."""
    assert BusinessProcess().recall_interval_after(attempts) == timedelta(seconds=expected)


# ---------------------------------------------------------------------------------------------------------
# Weekly schedule ranges


@pytest.fixture
def bp(db) -> BusinessProcess:
    return BusinessProcess.objects.create(code="BP", name="BP")


def add_range(business_process, weekday, start, end) -> ScheduleRange:
    schedule_range = ScheduleRange(business_process=business_process, weekday=weekday, start=start, end=end)
    schedule_range.full_clean()
    schedule_range.save()
    return schedule_range


def range_errors(business_process, weekday, start, end) -> dict:
    return clean_errors(ScheduleRange(business_process=business_process, weekday=weekday, start=start, end=end))


@pytest.mark.parametrize(
    ("new", "valid"),
    [
        ((time(9), time(10)), False),  # inside 08:00–12:00
        ((time(7), time(9)), False),  # overlaps its start
        ((time(11), time(13)), False),  # overlaps its end
        ((time(7), time(13)), False),  # covers it
        ((time(8), time(12)), False),  # the same range
        ((time(12), time(18)), True),  # adjacent after
        ((time(6), time(8)), True),  # adjacent before
        ((time(13), time(0)), True),  # to midnight
        ((time(0), time(8)), True),  # from midnight
    ],
)
def test_schedule_ranges_must_not_overlap(bp, new, valid):
    """Schedule: ranges of one day must not overlap; touching ranges are fine."""
    add_range(bp, MONDAY, time(8), time(12))
    errors = range_errors(bp, MONDAY, *new)
    assert (errors == {}) is valid, errors
    if not valid:
        assert "overlap" in " ".join(errors["end"]) or "same" in " ".join(errors["end"])


def test_same_hours_on_another_day_do_not_overlap(bp):
    """Schedule: overlap is checked per weekday and per business process."""
    add_range(bp, MONDAY, time(8), time(18))
    assert range_errors(bp, MONDAY + 1, time(8), time(18)) == {}
    other = BusinessProcess.objects.create(code="OTHER", name="Other")
    assert range_errors(other, MONDAY, time(8), time(18)) == {}


def test_editing_a_range_does_not_overlap_itself(bp):
    """Schedule: re-validating a saved range does not compare it with its own old version."""
    schedule_range = add_range(bp, MONDAY, time(8), time(12))
    schedule_range.end = time(13)
    schedule_range.full_clean()


@pytest.mark.parametrize(("start", "end"), [(time(18), time(8)), (time(8), time(8)), (time(12, 30), time(12))])
def test_reversed_or_empty_range_is_refused(bp, start, end):
    """Schedule: a range must end after it starts."""
    errors = range_errors(bp, MONDAY, start, end)
    assert "end" in errors
    assert "end after it starts" in " ".join(errors["end"])


def test_end_at_midnight_means_end_of_day(bp):
    """Schedule: an end of 00:00 is midnight at the end of the day, not a reversed range."""
    assert range_errors(bp, MONDAY, time(18), time(0)) == {}
    assert range_errors(bp, MONDAY, time(0), time(0)) == {}  # the whole day
    add_range(bp, MONDAY, time(22), time(0))
    assert "end" in range_errors(bp, MONDAY, time(23), time(23, 30))
    assert "end" in range_errors(bp, MONDAY, time(21), time(0))


def test_a_whole_day_range_overlaps_any_other(bp):
    """Schedule: 00:00–00:00 covers the whole day."""
    add_range(bp, MONDAY, time(0), time(0))
    assert "end" in range_errors(bp, MONDAY, time(10), time(11))


# ---------------------------------------------------------------------------------------------------------
# Dated exceptions


def exception_errors(business_process, day, start=None, end=None) -> dict:
    return clean_errors(ScheduleException(business_process=business_process, date=day, start=start, end=end))


def add_exception(business_process, day, start=None, end=None) -> ScheduleException:
    exception = ScheduleException(business_process=business_process, date=day, start=start, end=end)
    exception.full_clean()
    exception.save()
    return exception


CHRISTMAS = date(2026, 12, 25)


def test_closed_day_and_special_hours_are_valid(bp):
    """Schedule exceptions: a closed day has no times; special hours have both."""
    assert exception_errors(bp, CHRISTMAS) == {}
    assert exception_errors(bp, CHRISTMAS, time(10), time(14)) == {}
    assert ScheduleException(date=CHRISTMAS).is_closed_all_day
    assert not ScheduleException(date=CHRISTMAS, start=time(10), end=time(14)).is_closed_all_day


@pytest.mark.parametrize(("start", "end"), [(time(10), None), (None, time(14))])
def test_special_hours_need_both_times(bp, start, end):
    """Schedule exceptions: only a start or only an end is ambiguous."""
    assert "end" in exception_errors(bp, CHRISTMAS, start, end)


def test_a_closed_day_stands_alone(bp):
    """Schedule exceptions: a closed day cannot be combined with special hours on the same date."""
    add_exception(bp, CHRISTMAS)
    assert "date" in exception_errors(bp, CHRISTMAS, time(10), time(14))
    assert "date" in exception_errors(bp, CHRISTMAS)


def test_special_hours_cannot_be_added_to_a_closed_day_the_other_way_round(bp):
    """Schedule exceptions: special hours first, then a closed day on that date, is refused as well."""
    add_exception(bp, CHRISTMAS, time(10), time(14))
    assert "date" in exception_errors(bp, CHRISTMAS)


def test_special_hours_ranges_must_not_overlap(bp):
    """Schedule exceptions: several special ranges on one date follow the weekly rules."""
    add_exception(bp, CHRISTMAS, time(10), time(14))
    assert exception_errors(bp, CHRISTMAS, time(14), time(16)) == {}
    assert "end" in exception_errors(bp, CHRISTMAS, time(13), time(16))
    assert "end" in exception_errors(bp, CHRISTMAS, time(16), time(15))


# ---------------------------------------------------------------------------------------------------------
# is_open


def test_is_open_follows_weekly_ranges_with_end_exclusive(bp):
    """Schedule: open from the start of a range up to (not including) its end."""
    add_range(bp, MONDAY, time(8), time(12))
    add_range(bp, MONDAY, time(13), time(18))
    monday = date(2026, 1, 5)
    assert monday.weekday() == MONDAY

    def at(hour, minute=0):
        return is_open(bp, utc(monday.year, monday.month, monday.day, hour, minute))

    assert not at(7, 59)
    assert at(8)
    assert at(11, 59)
    assert not at(12)  # the lunch break
    assert at(13)
    assert not at(18)
    assert not is_open(bp, utc(2026, 1, 6, 10))  # Tuesday has no range


def test_is_open_until_midnight(bp):
    """Schedule: an end of 00:00 keeps the range open to the end of the day."""
    add_range(bp, MONDAY, time(20), time(0))
    assert is_open(bp, utc(2026, 1, 5, 23, 59, 59))
    assert not is_open(bp, utc(2026, 1, 6, 0, 0))  # Tuesday


def test_business_process_without_ranges_is_never_open(bp):
    """Schedule: no ranges, no open hours."""
    assert not is_open(bp, utc(2026, 1, 5, 12))


def test_closed_day_exception_overrides_the_week(bp):
    """Schedule exceptions: a holiday closes a day that the week would open."""
    for day in range(7):
        add_range(bp, day, time(8), time(18))
    add_exception(bp, CHRISTMAS)
    assert not is_open(bp, utc(2026, 12, 25, 12))
    assert open_ranges_on(bp, CHRISTMAS) == []
    assert is_open(bp, utc(2026, 12, 24, 12))
    assert is_open(bp, utc(2026, 12, 26, 12))


def test_open_at_agrees_with_is_open_for_many_business_processes(db, django_assert_num_queries):
    """open_at, the monitor's and the timers' way of asking every business process at once, answers as is_open
    does, in two queries whatever the number: weekly ranges, closed days, special hours, local time zones."""
    week = BusinessProcess.objects.create(code="WEEK", name="Week", time_zone="Europe/Paris")
    holiday = BusinessProcess.objects.create(code="HOLIDAY", name="Holiday", time_zone="America/New_York")
    special = BusinessProcess.objects.create(code="SPECIAL", name="Special", time_zone="Asia/Tokyo")
    BusinessProcess.objects.create(code="NONE", name="No hours")
    for business_process in (week, holiday, special):
        for day in range(5):
            add_range(business_process, day, time(8), time(18))
    add_range(week, 5, time(22), time(0))  # Saturday evening, to midnight
    add_exception(holiday, CHRISTMAS)  # a Friday, closed
    add_exception(special, date(2026, 12, 26), time(10), time(12))  # a Saturday, open in the morning
    instants = [utc(2026, 12, day, hour, minute) for day in (24, 25, 26) for hour in range(24) for minute in (0, 59)]
    every = BusinessProcess.objects.all()
    time_zones = dict(every.values_list("pk", "time_zone"))

    answers = {}
    with django_assert_num_queries(2 * len(instants)):
        for instant in instants:
            answers[instant] = open_at(every, time_zones, instant)

    for instant in instants:
        expected = {bp.pk for bp in every if is_open(bp, instant)}
        assert answers[instant] == expected, instant
    assert holiday.pk not in answers[utc(2026, 12, 25, 15)], "closed on Christmas Day (10:00 in New York)"
    assert holiday.pk in answers[utc(2026, 12, 24, 15)]
    assert special.pk in answers[utc(2026, 12, 26, 2)], "11:00 in Tokyo on a Saturday: the special hours"
    assert week.pk in answers[utc(2026, 12, 26, 22, 59)], "23:59 in Paris on Saturday"
    some = every.filter(code__in=["WEEK", "NONE"])
    assert open_at(some, dict(some.values_list("pk", "time_zone")), utc(2026, 12, 24, 12)) == {week.pk}


def test_special_hours_replace_the_week_that_day(bp):
    """Schedule exceptions: special hours are the only open hours of their date (even on a closed weekday)."""
    add_range(bp, 4, time(8), time(18))  # Fridays; 2026-12-25 is a Friday
    add_exception(bp, CHRISTMAS, time(10), time(12))
    assert not is_open(bp, utc(2026, 12, 25, 9))
    assert is_open(bp, utc(2026, 12, 25, 11))
    assert not is_open(bp, utc(2026, 12, 25, 15))
    sunday = date(2026, 12, 27)
    assert sunday.weekday() == SUNDAY
    add_exception(bp, sunday, time(9), time(11))
    assert is_open(bp, utc(2026, 12, 27, 10))


def test_is_open_in_the_business_process_time_zone(db):
    """Schedule: ranges are local times — New York 08:00–18:00 is open at 13:00 UTC in winter (08:00 EST)."""
    new_york = BusinessProcess.objects.create(code="NY", name="NY", time_zone="America/New_York")
    for day in range(5):
        add_range(new_york, day, time(8), time(18))
    # Wednesday 2026-01-14, EST (UTC−5)
    assert not is_open(new_york, utc(2026, 1, 14, 12, 59))
    assert is_open(new_york, utc(2026, 1, 14, 13, 0))
    assert is_open(new_york, utc(2026, 1, 14, 22, 59))
    assert not is_open(new_york, utc(2026, 1, 14, 23, 0))
    # Wednesday 2026-07-15, EDT (UTC−4)
    assert not is_open(new_york, utc(2026, 7, 15, 11, 59))
    assert is_open(new_york, utc(2026, 7, 15, 12, 0))
    assert is_open(new_york, utc(2026, 7, 17, 21, 59))  # Friday 17:59 EDT
    assert not is_open(new_york, utc(2026, 7, 18, 14, 0))  # Saturday 10:00 EDT: no weekend hours


def test_is_open_across_the_spring_forward_gap(db):
    """Schedule / DST: Paris 01:30–03:30 on 2026-03-29 (02:00 → 03:00) is open at 01:45 and at 03:15 local."""
    paris = BusinessProcess.objects.create(code="PARIS", name="Paris", time_zone="Europe/Paris")
    spring_forward = date(2026, 3, 29)
    assert spring_forward.weekday() == SUNDAY
    add_range(paris, SUNDAY, time(1, 30), time(3, 30))
    assert is_open(paris, utc(2026, 3, 29, 0, 45))  # 01:45 CET (UTC+1)
    assert is_open(paris, utc(2026, 3, 29, 0, 59))  # 01:59 CET, the last minute before the jump
    assert is_open(paris, utc(2026, 3, 29, 1, 0))  # 03:00 CEST (UTC+2)
    assert is_open(paris, utc(2026, 3, 29, 1, 15))  # 03:15 CEST
    assert not is_open(paris, utc(2026, 3, 29, 0, 29))  # 01:29 CET
    assert not is_open(paris, utc(2026, 3, 29, 1, 30))  # 03:30 CEST: the end
    # The same range a week later (no change) spans 2 hours of real time, starting at 01:30 CEST.
    assert not is_open(paris, utc(2026, 4, 4, 23, 29))  # 01:29 CEST
    assert is_open(paris, utc(2026, 4, 4, 23, 30))  # 01:30 CEST
    assert not is_open(paris, utc(2026, 4, 5, 1, 30))  # 03:30 CEST


def test_is_open_on_the_fall_back_day(db):
    """Schedule / DST: Paris 02:00–03:00 on 2026-10-25 (03:00 → 02:00) is open during both 02:xx hours."""
    paris = BusinessProcess.objects.create(code="PARIS", name="Paris", time_zone="Europe/Paris")
    add_range(paris, SUNDAY, time(2), time(3))
    assert not is_open(paris, utc(2026, 10, 24, 23, 59))  # 01:59 CEST
    assert is_open(paris, utc(2026, 10, 25, 0, 30))  # 02:30 CEST (first time)
    assert is_open(paris, utc(2026, 10, 25, 1, 30))  # 02:30 CET (second time)
    assert not is_open(paris, utc(2026, 10, 25, 2, 0))  # 03:00 CET
