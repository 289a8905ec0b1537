"""The Callback Timing forms: durations as people type them, every setting's bounds, schedule ranges, DST."""

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from callbacks.models import BusinessProcess, ScheduleException
from callbacks.schedule import MIDNIGHT, is_open
from callbacks.timing import format_duration, parse_duration, schedule_preview
from monitoring.forms import ScheduleExceptionFormSet, ScheduleForm, TimingSettingsForm, parse_ranges

UTC = ZoneInfo("UTC")
PARIS = ZoneInfo("Europe/Paris")


# ---------------------------------------------------------------------------------------------------------
# Durations


@pytest.mark.parametrize(
    "text, seconds",
    [
        ("90s", 90),
        ("5m", 300),
        ("1h 30m", 5400),
        ("1h30m", 5400),
        ("1 h 30 min", 5400),
        ("2d", 172800),
        ("2 days", 172800),
        ("0", 0),
        ("45", 45),
        (" 15 MIN ", 900),
        ("1d 2h 3m 4s", 93784),
    ],
)
def test_durations_are_read_as_people_type_them(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "  ", "5x", "abc", "-5m", "1.5h", "5m 5m", "h", "5 m x"])
def test_what_is_not_a_duration_is_refused(text):
    with pytest.raises(ValueError):
        parse_duration(text)


@pytest.mark.parametrize(
    "seconds, text", [(0, "0"), (45, "45s"), (90, "1m 30s"), (300, "5m"), (5400, "1h 30m"), (172800, "2d")]
)
def test_durations_are_shown_in_the_style_they_are_typed(seconds, text):
    assert format_duration(seconds) == text
    assert parse_duration(text) == seconds


# ---------------------------------------------------------------------------------------------------------
# Settings: every field below, at and above its bounds

VALID = {
    "version": "0",
    "no_answer_seconds": "60",
    "attempts_before_failure": "3",
    "recall_intervals": ["5m", "15m", "1h"],
    "time_zone": "Europe/Paris",
    "shift_starts": ["00:00"],
    "max_schedule_ahead": "30d",
    "to_be_processed_threshold": "50",
    "failed_pct_threshold": "30",
}


def settings_form(**changes) -> TimingSettingsForm:
    data = {**VALID, **changes}
    return TimingSettingsForm(data, instance=BusinessProcess(code="X", name="X"))


def test_the_valid_settings_are_read_into_the_model_values(db):
    form = settings_form(recall_intervals=["90s", "", "1h 30m", "2d"], shift_starts=["8:00", "14:00"])
    assert form.is_valid(), form.errors
    data = form.cleaned_data
    assert data["recall_intervals"] == [90, 5400, 172800]
    assert data["shift_starts"] == ["08:00", "14:00"]
    assert data["max_schedule_ahead"] == timedelta(days=30)
    assert data["time_zone"] == "Europe/Paris"


@pytest.mark.parametrize(
    "field, value, ok",
    [
        ("no_answer_seconds", "9", False),
        ("no_answer_seconds", "10", True),
        ("no_answer_seconds", "600", True),
        ("no_answer_seconds", "601", False),
        ("no_answer_seconds", "ten", False),
        ("attempts_before_failure", "0", False),
        ("attempts_before_failure", "1", True),
        ("attempts_before_failure", "20", True),
        ("attempts_before_failure", "21", False),
        ("recall_intervals", ["0"], True),
        ("recall_intervals", ["7d"], True),
        ("recall_intervals", ["7d 1s"], False),
        ("recall_intervals", ["5m", "soon"], False),
        ("recall_intervals", [""], False),
        ("time_zone", "Europe/Paris", True),
        ("time_zone", "Mars/Olympus", False),
        ("shift_starts", ["23:59"], True),
        ("shift_starts", ["24:00"], False),
        ("shift_starts", ["7h"], False),
        ("shift_starts", ["08:00", "8:00"], False),
        ("shift_starts", [], False),
        ("max_schedule_ahead", "59m 59s", False),
        ("max_schedule_ahead", "1h", True),
        ("max_schedule_ahead", "30d", True),
        ("max_schedule_ahead", "30d 1s", False),
        ("max_schedule_ahead", "a month", False),
        ("to_be_processed_threshold", "-1", False),
        ("to_be_processed_threshold", "0", True),
        ("to_be_processed_threshold", "100000", True),
        ("failed_pct_threshold", "-1", False),
        ("failed_pct_threshold", "0", True),
        ("failed_pct_threshold", "100", True),
        ("failed_pct_threshold", "101", False),
    ],
)
def test_each_setting_is_held_to_its_bounds(db, field, value, ok):
    form = settings_form(**{field: value})
    assert form.is_valid() is ok, form.errors
    if not ok:
        assert list(form.errors) == [field], "the message stands beside its own field"


def test_a_bad_recall_interval_is_named_by_its_position(db):
    form = settings_form(recall_intervals=["5m", "8d", "later"])
    assert not form.is_valid()
    assert form.errors["recall_intervals"] == [
        "Recall interval 2: 8d is more than 7d (7 days).",
        "Recall interval 3: “later” is not a duration: write it like 90s, 5m, 1h 30m or 2d.",
    ]


def test_the_form_shows_stored_durations_in_the_typed_style(db):
    bp = BusinessProcess(code="X", name="X", recall_intervals=[90, 5400], max_schedule_ahead=timedelta(hours=36))
    form = TimingSettingsForm(instance=bp, initial={"version": 0})
    assert form["recall_intervals"].value() == ["1m 30s", "1h 30m"]
    assert form["max_schedule_ahead"].value() == "1d 12h"


# ---------------------------------------------------------------------------------------------------------
# Schedule ranges


def test_ranges_are_read_with_midnight_as_24_00():
    assert parse_ranges("08:00–12:00, 13:00-18:00", "Monday") == [(time(8), time(12)), (time(13), time(18))]
    assert parse_ranges("20:00–24:00", "Monday") == [(time(20), MIDNIGHT)]
    assert parse_ranges("00:00-24:00", "Monday") == [(MIDNIGHT, MIDNIGHT)]
    assert parse_ranges("", "Monday") == [] == parse_ranges("closed", "Monday")
    assert parse_ranges("12:00–13:00, 08:00–12:00", "Monday") == [(time(8), time(12)), (time(12), time(13))]


@pytest.mark.parametrize(
    "text, message",
    [
        ("18:00–08:00", "Tuesday: 18:00–08:00 ends before it starts."),
        ("09:00–09:00", "Tuesday: 09:00–09:00 ends before it starts."),
        ("08:00–12:00, 11:00–14:00", "Tuesday: 08:00–12:00 and 11:00–14:00 overlap."),
        ("20:00–24:00, 22:00–23:00", "Tuesday: 20:00–24:00 and 22:00–23:00 overlap."),
        ("08:00–25:00", "Tuesday: “25:00” is not a time of day (HH:MM, or 24:00 as an end)."),
        ("24:00–24:00", "Tuesday: “24:00” is not a time of day (HH:MM)."),
        ("morning", "Tuesday: “morning” is not a range; write it like 08:00–12:00."),
    ],
)
def test_reversed_overlapping_and_garbled_ranges_are_refused_naming_day_and_ranges(text, message):
    form = ScheduleForm({"version": "0", "day_1": text})
    assert not form.is_valid()
    assert form.errors == {"day_1": [message]}


def test_the_weekly_form_gives_ranges_per_day():
    form = ScheduleForm({"version": "3", "day_0": "08:00–12:00, 13:00–18:00", "day_5": "20:00–24:00"})
    assert form.is_valid(), form.errors
    assert form.cleaned_data["weekly"] == {
        0: [(time(8), time(12)), (time(13), time(18))],
        1: [],
        2: [],
        3: [],
        4: [],
        5: [(time(20), MIDNIGHT)],
        6: [],
    }


def exceptions(*rows) -> ScheduleExceptionFormSet:
    data = {"form-TOTAL_FORMS": str(len(rows)), "form-INITIAL_FORMS": "0"}
    for index, row in enumerate(rows):
        data.update({f"form-{index}-{key}": value for key, value in row.items()})
    return ScheduleExceptionFormSet(data)


def test_exceptions_are_closed_days_or_special_hours():
    formset = exceptions(
        {"date": "2026-12-25", "hours": "", "note": "Christmas"},
        {"date": "2026-12-24", "hours": "09:00–12:00", "note": "Christmas Eve"},
        {"date": "", "hours": "", "note": ""},
    )
    assert formset.is_valid(), formset.errors
    closed, special = formset.forms[0].cleaned_data, formset.forms[1].cleaned_data
    assert (closed["date"], closed["ranges"], closed["note"]) == (date(2026, 12, 25), [], "Christmas")
    assert special["ranges"] == [(time(9), time(12))]


def test_an_exception_with_overlapping_hours_or_a_date_twice_is_refused():
    formset = exceptions({"date": "2026-12-24", "hours": "09:00–12:00, 10:00–11:00"})
    assert not formset.is_valid()
    assert formset.forms[0].errors["hours"] == ["Thu 24 Dec 2026: 09:00–12:00 and 10:00–11:00 overlap."]

    formset = exceptions({"date": "2026-12-24", "hours": ""}, {"date": "2026-12-24", "hours": "09:00–12:00"})
    assert not formset.is_valid()
    assert formset.non_form_errors() == ["Thu 24 Dec 2026 appears twice: give each date one line."]


# ---------------------------------------------------------------------------------------------------------
# The schedule across the spring-forward hour (Europe/Paris, 2026-03-29: 02:00 → 03:00)


@pytest.fixture
def paris_night(make_business_process):
    """Open 01:00–04:00 on Sunday 2026-03-29, a range across the skipped hour; closed otherwise."""
    bp = make_business_process("NIGHT", open=False, time_zone="Europe/Paris")
    form = ScheduleForm({"version": "0", "day_6": "01:00–04:00"})
    assert form.is_valid(), form.errors
    bp.schedule_ranges.create(weekday=6, start=time(1), end=time(4))
    return BusinessProcess.objects.prefetch_related("schedule_ranges", "schedule_exceptions").get(pk=bp.pk)


def test_a_range_across_the_spring_forward_hour_is_open_on_both_sides(paris_night):
    assert not is_open(paris_night, datetime(2026, 3, 28, 23, 59, tzinfo=UTC))  # 00:59 CET
    assert is_open(paris_night, datetime(2026, 3, 29, 0, 30, tzinfo=UTC))  # 01:30 CET
    assert is_open(paris_night, datetime(2026, 3, 29, 1, 0, tzinfo=UTC))  # 03:00 CEST, straight after 01:59 CET
    assert is_open(paris_night, datetime(2026, 3, 29, 1, 59, tzinfo=UTC))  # 03:59 CEST
    assert not is_open(paris_night, datetime(2026, 3, 29, 2, 0, tzinfo=UTC))  # 04:00 CEST


def test_the_preview_counts_real_time_across_the_spring_forward_hour(paris_night):
    # 01:30 CET → 04:00 CEST is 1 h 30 min of real time, not the 2 h 30 min the wall clock suggests.
    assert schedule_preview(paris_night, datetime(2026, 3, 29, 0, 30, tzinfo=UTC)) == (
        "Open now, closes at 04:00 (in 1 h 30 min)"
    )
    assert schedule_preview(paris_night, datetime(2026, 3, 28, 23, 0, tzinfo=UTC)) == (
        "Closed, opens at 01:00 (in 1 h 0 min)"
    )


def test_the_preview_says_when_the_schedule_closes_or_next_opens(make_business_process):
    bp = make_business_process("PREVIEW", open=False, time_zone="Europe/Paris")
    bp.add_default_schedule()  # Mon–Fri 08:00–18:00
    bp = BusinessProcess.objects.prefetch_related("schedule_ranges", "schedule_exceptions").get(pk=bp.pk)
    wednesday = datetime(2026, 11, 25, 15, 46, tzinfo=PARIS)
    assert schedule_preview(bp, wednesday) == "Open now, closes at 18:00 (in 2 h 14 min)"
    assert schedule_preview(bp, wednesday.replace(hour=19)) == "Closed, opens tomorrow 08:00 (in 12 h 14 min)"
    assert schedule_preview(bp, wednesday.replace(hour=6)) == "Closed, opens at 08:00 (in 1 h 14 min)"
    friday_evening = datetime(2026, 11, 27, 18, 30, tzinfo=PARIS)
    assert schedule_preview(bp, friday_evening) == "Closed, opens Monday 08:00 (in 2 d 13 h)"
    ScheduleException.objects.create(business_process=bp, date=date(2026, 11, 30), note="Closed Monday")
    bp = BusinessProcess.objects.prefetch_related("schedule_ranges", "schedule_exceptions").get(pk=bp.pk)
    assert schedule_preview(bp, friday_evening) == "Closed, opens Tuesday 08:00 (in 3 d 13 h)"


def test_ranges_that_touch_across_midnight_make_one_opening(make_business_process):
    bp = make_business_process("ALLWEEK")  # 00:00–24:00 every day
    bp = BusinessProcess.objects.prefetch_related("schedule_ranges", "schedule_exceptions").get(pk=bp.pk)
    assert schedule_preview(bp, timezone.now()) == "Open now, no closing in the next two weeks"
    closed = make_business_process("NEVER", open=False)
    assert schedule_preview(closed, timezone.now()) == "Closed, no opening in the next two weeks"


def test_an_opening_past_midnight_closes_the_next_day(make_business_process):
    bp = make_business_process("LATE", open=False, time_zone="Europe/Paris")
    bp.schedule_ranges.create(weekday=0, start=time(20), end=MIDNIGHT)
    bp.schedule_ranges.create(weekday=1, start=MIDNIGHT, end=time(2))
    bp = BusinessProcess.objects.prefetch_related("schedule_ranges", "schedule_exceptions").get(pk=bp.pk)
    monday_evening = datetime(2026, 11, 23, 21, 0, tzinfo=PARIS)
    assert schedule_preview(bp, monday_evening) == "Open now, closes tomorrow 02:00 (in 5 h 0 min)"
