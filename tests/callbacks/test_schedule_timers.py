"""The schedule as a timer: opening releases what waits, closing aborts the queue that was never tried that day."""

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from callbacks import engine
from callbacks.choices import AuditAction, CallbackState, CompletionStatus, EndState
from callbacks.models import Agent, AuditEntry, ScheduleRange
from tests.conftest import fetch

PARIS = ZoneInfo("Europe/Paris")
ACTOR = engine.Actor("tests")


def paris(day: date, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute, second), tzinfo=PARIS)


@pytest.fixture
def yesterday() -> date:
    return (timezone.now().astimezone(PARIS) - timedelta(days=1)).date()


@pytest.fixture
def office(make_business_process):
    """Open 08:00–18:00 every day, Paris time."""
    business_process = make_business_process("OFFICE", open=False, time_zone="Europe/Paris")
    ScheduleRange.objects.bulk_create(
        ScheduleRange(business_process=business_process, weekday=day, start=time(8), end=time(18)) for day in range(7)
    )
    return business_process


@pytest.fixture
def agent(db):
    return Agent.objects.create(login_id="agent-1")


def request(business_process, external_id: str, at: datetime, **fields):
    return engine.request_callback(
        external_id=external_id, business_process=business_process, phone="+33142685300", at=at, actor=ACTOR, **fields
    )


def test_closing_aborts_the_untried_queue_and_keeps_the_rest(office, agent, yesterday):
    engine.apply_due_timers(paris(yesterday, 9))  # the tick sees the schedule open
    untried = request(office, "untried", paris(yesterday, 10))
    tried = request(office, "tried", paris(yesterday, 10))
    engine.offer(tried.pk, agent, paris(yesterday, 11), ACTOR)
    engine.complete(tried.pk, agent, CompletionStatus.CANCEL, paris(yesterday, 11, 1), ACTOR)
    with_agent = request(office, "with-agent", paris(yesterday, 10))
    engine.offer(with_agent.pk, agent, paris(yesterday, 17, 59), ACTOR)
    engine.accept(with_agent.pk, agent, paris(yesterday, 17, 59), ACTOR)
    engine.connect(with_agent.pk, agent, "person", paris(yesterday, 17, 59, 30), ACTOR)
    later = request(office, "later", paris(yesterday, 10), desired_time=timezone.now() + timedelta(days=1))

    engine.apply_due_timers(paris(yesterday, 17, 59, 59))
    assert fetch("untried").state == CallbackState.QUEUED, "still open at 17:59:59"
    result = engine.apply_due_timers(paris(yesterday, 18, 0, 1))

    assert result["aborted"] == 1
    aborted = fetch("untried")
    assert (aborted.state, aborted.end_state) == (CallbackState.COMPLETED, EndState.ABORTED)
    assert [a.completion_status for a in aborted.attempt_set.all()] == [CompletionStatus.ABORTED]
    assert fetch("tried").state == CallbackState.QUEUED
    assert fetch("with-agent").state == CallbackState.PROCESSING
    assert fetch("later").state == CallbackState.SCHEDULED
    assert AuditEntry.objects.filter(action=AuditAction.ABORTED, callback=untried).count() == 1
    assert fetch("tried").attempts == tried.attempts == 0
    assert later.pk


def test_a_callback_tried_only_on_an_earlier_day_is_aborted(office, agent, yesterday):
    day_before = yesterday - timedelta(days=1)
    engine.apply_due_timers(paris(day_before, 9))
    callback = request(office, "old", paris(day_before, 10))
    engine.offer(callback.pk, agent, paris(day_before, 11), ACTOR)
    engine.complete(callback.pk, agent, CompletionStatus.CANCEL, paris(day_before, 11), ACTOR)
    engine.apply_due_timers(paris(day_before, 18, 0, 1))
    assert fetch("old").state == CallbackState.QUEUED, "tried that day: kept overnight"
    engine.apply_due_timers(paris(yesterday, 9))

    engine.apply_due_timers(paris(yesterday, 18, 0, 1))

    assert fetch("old").end_state == EndState.ABORTED
    assert [a.number for a in fetch("old").attempt_set.all()] == [1, 2]


def test_the_close_is_applied_once_however_many_ticks_see_it(office, yesterday):
    engine.apply_due_timers(paris(yesterday, 9))
    request(office, "untried", paris(yesterday, 10))

    engine.apply_due_timers(paris(yesterday, 18, 0, 1))
    engine.apply_due_timers(paris(yesterday, 18, 0, 2))
    engine.apply_due_timers(paris(yesterday, 18, 0, 1))

    assert AuditEntry.objects.filter(action=AuditAction.SCHEDULE_CLOSED).count() == 1
    assert fetch("untried").attempt_set.count() == 1


def test_a_stopped_business_process_aborts_nothing_at_close(office, yesterday):
    engine.apply_due_timers(paris(yesterday, 9))
    request(office, "untried", paris(yesterday, 10))
    engine.set_stopped(office.pk, True, ACTOR)

    engine.apply_due_timers(paris(yesterday, 18, 0, 1))

    assert fetch("untried").state == CallbackState.QUEUED


def test_a_request_while_closed_waits_pending_and_goes_to_queue_at_opening(office, yesterday):
    engine.apply_due_timers(paris(yesterday, 18, 30))
    request(office, "evening", paris(yesterday, 20))
    assert fetch("evening").state == CallbackState.SCHEDULED

    engine.apply_due_timers(paris(yesterday + timedelta(days=1), 7, 59, 59))
    assert fetch("evening").state == CallbackState.SCHEDULED

    engine.apply_due_timers(paris(yesterday + timedelta(days=1), 8))
    assert fetch("evening").state == CallbackState.QUEUED


def test_no_offer_while_off_schedule(office, agent, yesterday):
    engine.apply_due_timers(paris(yesterday, 9))
    callback = request(office, "cb", paris(yesterday, 10))

    with pytest.raises(engine.TransitionRefused, match="off schedule"):
        engine.offer(callback.pk, agent, paris(yesterday, 19), ACTOR)

    assert fetch("cb").state == CallbackState.QUEUED
    assert fetch("cb").attempt_set.count() == 0


@pytest.mark.parametrize("count", [3, 30])
def test_the_schedule_check_costs_the_same_queries_for_any_number_of_business_processes(
    make_business_process, django_assert_num_queries, count
):
    """The timer tick checks every schedule every second: three queries (business processes, weekly ranges,
    exceptions), however many business processes, none of them opening or closing now."""
    for n in range(count):
        make_business_process(f"BP{n}")  # open all week
    engine.apply_schedule_changes(timezone.now())  # records them open
    with django_assert_num_queries(3):
        dispatchable, aborted = engine.apply_schedule_changes(timezone.now())
    assert len(dispatchable) == count and aborted == 0
