"""Retention: a callback goes 14 days after its desired time or its completion, whichever is later; its audit
entries stay (longer); deletion runs in batches; the live columns are unchanged by it."""

from datetime import UTC, datetime, timedelta

import pytest
from django.core.checks import run_checks
from django.test import override_settings

from callbacks import engine
from callbacks.choices import CallbackState, EndState
from callbacks.models import Attempt, AuditEntry, Callback, IngestedEvent
from callbacks.retention import delete_expired
from callbacks.tasks import apply_retention
from monitoring.columns import compute_rows

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
ACTOR = engine.Actor("tests")
_numbers = iter(range(1000, 9999))


def days_ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


def ended(bp, ref: str, completed: datetime, desired: datetime | None = None, end_state=EndState.REACHED):
    """A callback completed at `completed` (desired at `desired`), with an attempt and an audit entry."""
    callback = Callback.objects.create(
        external_id=ref,
        business_process=bp,
        phone=f"+3314268{next(_numbers):04d}",
        state=CallbackState.COMPLETED,
        end_state=end_state,
        desired_time=desired,
        created=min(completed, desired or completed) - timedelta(hours=1),
        completed_at=completed,
    )
    Attempt.objects.create(callback=callback, business_process=bp, number=1, offered_at=completed)
    AuditEntry.objects.create(
        at=completed, actor="tests", action="callback.purged", callback=callback, callback_ref=ref
    )
    return callback


def test_exactly_the_callbacks_past_the_period_go(make_business_process):
    bp = make_business_process("RET")
    ended(bp, "gone-15d", days_ago(15))
    ended(bp, "gone-cancelled-30d", days_ago(30), end_state=EndState.CANCELLED)
    ended(bp, "kept-13d", days_ago(13))
    ended(bp, "kept-desired-later", days_ago(20), desired=days_ago(13))  # desired time is the later one
    ended(bp, "gone-desired-earlier", days_ago(15), desired=days_ago(16))
    open_for_long = engine.request_callback(
        external_id="kept-open", business_process=bp, phone="+33142685300", at=days_ago(40), actor=ACTOR
    )

    deleted = delete_expired(NOW)

    assert deleted["callbacks"] == 3
    assert set(Callback.objects.values_list("external_id", flat=True)) == {
        "kept-13d",
        "kept-desired-later",
        open_for_long.external_id,
    }
    assert Attempt.objects.filter(callback__isnull=True).count() == 0
    assert Attempt.objects.count() == 2, "the attempts went with their callbacks"


def test_audit_entries_of_deleted_callbacks_stay_by_reference(make_business_process):
    bp = make_business_process("RET")
    ended(bp, "gone", days_ago(15))

    delete_expired(NOW)

    entry = AuditEntry.objects.get(callback_ref="gone")
    assert entry.callback is None


def test_audit_entries_and_event_ids_go_after_their_own_periods(make_business_process):
    bp = make_business_process("RET")
    AuditEntry.objects.create(at=days_ago(401), actor="tests", action="business_process.stopped", business_process=bp)
    kept = AuditEntry.objects.create(at=days_ago(399), actor="tests", action="business_process.resumed")
    old_event = IngestedEvent.objects.create(event_id="old", type="callback.requested", callback_ref="x", response={})
    IngestedEvent.objects.filter(pk=old_event.pk).update(received_at=days_ago(15))
    IngestedEvent.objects.create(event_id="recent", type="callback.requested", callback_ref="y", response={})

    deleted = delete_expired(NOW)

    assert list(AuditEntry.objects.all()) == [kept]
    assert list(IngestedEvent.objects.values_list("event_id", flat=True)) == ["recent"]
    assert (deleted["audit_entries"], deleted["ingested_events"]) == (1, 1)


def test_deletion_runs_in_batches_until_nothing_is_left(make_business_process):
    bp = make_business_process("RET")
    for n in range(7):
        ended(bp, f"gone-{n}", days_ago(15 + n))

    deleted = delete_expired(NOW, batch_size=3)

    assert deleted == {"callbacks": 7, "batches": 3, "ingested_events": 0, "audit_entries": 0}
    assert not Callback.objects.exists()
    assert delete_expired(NOW, batch_size=3)["callbacks"] == 0, "running again finds nothing: idempotent"


def test_the_live_columns_are_the_same_after_retention(make_business_process):
    bp = make_business_process("RET")
    ended(bp, "today-reached", NOW - timedelta(hours=2))
    ended(bp, "today-purged", NOW - timedelta(hours=1), end_state=EndState.PURGED)
    engine.request_callback(external_id="waiting", business_process=bp, phone="+33142685301", at=NOW, actor=ACTOR)
    for n in range(5):
        ended(bp, f"old-{n}", days_ago(15 + n))
    engine.apply_schedule_changes(NOW)  # the shift of NOW, as the timers record it
    before = compute_rows(NOW).rows[0]

    delete_expired(NOW)

    after = compute_rows(NOW).rows[0]
    assert after == before
    assert (after.proc, after.purged, after.to_be_processed) == (1, 1, 1)


@override_settings(CALLBACK_RETENTION_DAYS=30)
def test_the_period_is_a_setting(make_business_process):
    bp = make_business_process("RET")
    ended(bp, "kept-20d", days_ago(20))
    ended(bp, "gone-31d", days_ago(31))

    delete_expired(NOW)

    assert list(Callback.objects.values_list("external_id", flat=True)) == ["kept-20d"]


def test_the_beat_task_applies_retention(make_business_process):
    bp = make_business_process("RET")
    ended(bp, "gone", datetime.now(UTC) - timedelta(days=15))

    assert apply_retention()["callbacks"] == 1


@pytest.mark.parametrize(
    ("callback_days", "audit_days", "error"),
    [(1, 400, "callbacks.E001"), (14, 7, "callbacks.E002"), (14, 400, None)],
)
def test_retention_settings_are_checked(callback_days, audit_days, error):
    with override_settings(CALLBACK_RETENTION_DAYS=callback_days, AUDIT_RETENTION_DAYS=audit_days):
        ids = {message.id for message in run_checks()}
    assert (error in ids) if error else not ids & {"callbacks.E001", "callbacks.E002"}
