"""callbacks.timing, the only writer of Callback Timing: the model's bounds, all-or-nothing, stale refusals."""

from datetime import date, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from callbacks import engine, timing
from callbacks.choices import AuditAction
from callbacks.models import AuditEntry, BusinessProcess
from callbacks.schedule import current_shift_start
from monitoring.columns import compute_rows

ADMIN = engine.Actor("user:admin")


def values(bp: BusinessProcess, **changes) -> dict:
    return timing.settings_values(bp) | {"max_schedule_ahead": bp.max_schedule_ahead} | changes


@pytest.mark.parametrize(
    "field, value",
    [
        ("no_answer_seconds", 9),
        ("no_answer_seconds", 601),
        ("attempts_before_failure", 0),
        ("attempts_before_failure", 21),
        ("recall_intervals", []),
        ("recall_intervals", [7 * 86400 + 1]),
        ("recall_intervals", [-1]),
        ("time_zone", "Mars/Olympus"),
        ("shift_starts", ["25:00"]),
        ("shift_starts", ["08:00", "08:00"]),
        ("max_schedule_ahead", timedelta(minutes=59)),
        ("max_schedule_ahead", timedelta(days=30, seconds=1)),
        ("failed_pct_threshold", 101),
    ],
)
def test_the_models_bounds_refuse_and_nothing_is_saved(business_process, field, value):
    with pytest.raises(ValidationError) as refused:
        timing.change_settings(business_process.pk, values(business_process, **{field: value}), ADMIN, 0)
    assert field in refused.value.message_dict
    assert BusinessProcess.objects.get(pk=business_process.pk).attempts_before_failure == 3
    assert not AuditEntry.objects.exists()


def test_an_edit_records_what_the_timers_record_at_once(
    business_process, announced, django_capture_on_commit_callbacks
):
    """CLBK Stat and the shift counters read what the timers recorded: an edit records it for them, at once."""
    with django_capture_on_commit_callbacks(execute=True):
        timing.change_schedule(business_process.pk, {}, [], ADMIN, 0)  # never open
    closed = BusinessProcess.objects.get(pk=business_process.pk)
    assert closed.schedule_open is False
    assert compute_rows(business_process_ids=[closed.pk]).rows[0].status == "off_schedule"
    assert announced == [closed.pk], "the edit and its closing: one announcement"

    now = timezone.now()
    in_one_hour = f"{(now + timedelta(hours=1)).astimezone(ZoneInfo('Asia/Tokyo')):%H:%M}"
    everyday = {day: [(time(0), time(0))] for day in range(7)}
    timing.change_schedule(business_process.pk, everyday, [], ADMIN, timing.timing_version(closed.pk))
    changed = values(closed, time_zone="Asia/Tokyo", shift_starts=[in_one_hour])
    timing.change_settings(business_process.pk, changed, ADMIN, timing.timing_version(closed.pk))
    opened = BusinessProcess.objects.get(pk=business_process.pk)
    assert opened.schedule_open is True
    assert opened.shift_started_at == current_shift_start(opened, now) > now - timedelta(days=1)
    assert compute_rows(business_process_ids=[opened.pk]).rows[0].status == "active"
    flips = AuditEntry.objects.filter(action__in=[AuditAction.SCHEDULE_CLOSED, AuditAction.SCHEDULE_OPENED])
    assert list(flips.order_by("id").values_list("action", "actor")) == [
        (AuditAction.SCHEDULE_CLOSED, "system"),
        (AuditAction.SCHEDULE_OPENED, "system"),
    ]
    assert engine.apply_due_timers() == {"no_answer": 0, "aborted": 0, "released": 0}
    assert flips.count() == 2, "the timers' next look finds nothing left to record"


@pytest.mark.parametrize(
    "field, value",
    [
        ("no_answer_seconds", 10),
        ("no_answer_seconds", 600),
        ("attempts_before_failure", 1),
        ("attempts_before_failure", 20),
        ("recall_intervals", [0, 7 * 86400]),
        ("max_schedule_ahead", timedelta(hours=1)),
        ("max_schedule_ahead", timedelta(days=30)),
        ("failed_pct_threshold", 100),
        ("to_be_processed_threshold", 0),
    ],
)
def test_values_at_the_bounds_are_saved(business_process, field, value):
    timing.change_settings(business_process.pk, values(business_process, **{field: value}), ADMIN, 0)
    assert getattr(BusinessProcess.objects.get(pk=business_process.pk), field) == value


def test_a_stale_version_is_refused_with_who_and_when(business_process):
    timing.change_settings(business_process.pk, values(business_process, attempts_before_failure=4), ADMIN, 0)
    with pytest.raises(timing.StaleChange, match=r"Not saved: admin changed this business process at .* since you"):
        timing.change_settings(business_process.pk, values(business_process, no_answer_seconds=20), ADMIN, 0)
    with pytest.raises(timing.StaleChange):
        timing.change_schedule(business_process.pk, {}, [], ADMIN, 0)
    assert BusinessProcess.objects.get(pk=business_process.pk).no_answer_seconds == 60
    assert AuditEntry.objects.count() == 1


def test_the_change_is_announced_only_once_committed(business_process, announced, django_capture_on_commit_callbacks):
    rolled_back = values(business_process, no_answer_seconds=20)
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError), transaction.atomic():
        timing.change_settings(business_process.pk, rolled_back, ADMIN, 0)
        raise RuntimeError("rolled back")
    assert announced == [] and not AuditEntry.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        timing.change_schedule(business_process.pk, {0: []}, [], ADMIN, 0)
    assert announced == [business_process.pk]


@pytest.mark.parametrize(
    "weekly, exceptions",
    [
        ({0: [(time(8), time(12)), (time(11), time(14))]}, []),
        ({0: [(time(18), time(8))]}, []),
        ({}, [timing.DatedException(date(2026, 12, 24), ((time(9), time(12)), (time(10), time(11))))]),
        ({}, [timing.DatedException(date(2026, 12, 24), ()), timing.DatedException(date(2026, 12, 24), ())]),
    ],
)
def test_the_writer_refuses_bad_ranges_whoever_calls_it(business_process, weekly, exceptions):
    with pytest.raises(ValidationError):
        timing.change_schedule(business_process.pk, weekly, exceptions, ADMIN, 0)
    assert business_process.schedule_ranges.count() == 7 and not business_process.schedule_exceptions.exists()
    assert not AuditEntry.objects.exists()
