"""Every monitor column on a worked scenario, with the exact numbers a supervisor should see.

PARIS (Europe/Paris, shifts start 06:00 and 14:00 local) and NEW_YORK (America/New_York, shift 00:00) are
observed at 2026-11-20 16:00 UTC: Paris's shift began at 14:00 local = 13:00 UTC, New York's at 00:00 local
= 05:00 UTC. EMPTY has nothing processed.
"""

from datetime import UTC, datetime, timedelta

import pytest

from callbacks import engine
from callbacks.choices import CompletionStatus
from callbacks.models import Agent
from callbacks.schedule import current_shift_start
from monitoring.columns import compute_rows

NOW = datetime(2026, 11, 20, 16, 0, tzinfo=UTC)
ACTOR = engine.Actor("tests")
_numbers = iter(range(10_000_000, 99_999_999))


def utc(hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2026, 11, 20, hour, minute, second, tzinfo=UTC)


@pytest.fixture
def agent(db) -> Agent:
    return Agent.objects.create(login_id="agent-1")


def request(bp, ext: str, at: datetime):
    return engine.request_callback(
        external_id=ext, business_process=bp, phone=f"+1212{next(_numbers) % 10_000_000:07d}", at=at, actor=ACTOR
    )


def attempt(callback, agent, accepted: datetime, status: str, ended: datetime, acw_end: datetime | None = None):
    """One attempt: offered and accepted at `accepted`, answered if the status needs it, completed at `ended`."""
    engine.offer(callback.pk, agent, accepted, ACTOR)
    engine.accept(callback.pk, agent, accepted, ACTOR)
    if status in (CompletionStatus.HANDLED, CompletionStatus.ANSWERING_MACHINE):
        engine.connect(callback.pk, agent, "person", accepted + timedelta(seconds=20), ACTOR)
    engine.complete(callback.pk, agent, status, ended, ACTOR)
    if acw_end:
        engine.end_wrapup(callback.pk, agent, acw_end, ACTOR)


@pytest.fixture
def scenario(make_business_process, agent):
    paris = make_business_process(
        "PARIS", name="Paris", time_zone="Europe/Paris", shift_starts=["06:00", "14:00"], recall_intervals=[60]
    )
    new_york = make_business_process("NEW_YORK", name="New York", time_zone="America/New_York")
    empty = make_business_process("EMPTY", name="Empty")

    # Paris — counted in this shift (since 13:00 UTC):
    a = request(paris, "A", utc(13, 10))  # reached, handle time 15 min
    attempt(a, agent, utc(13, 20), CompletionStatus.HANDLED, utc(13, 30), acw_end=utc(13, 35))
    c = request(paris, "C", utc(12, 50))  # three no answers: failed at 14:00
    for accepted in (utc(12, 55), utc(13, 30)):
        attempt(c, agent, accepted, CompletionStatus.NO_ANSWER, accepted + timedelta(seconds=30))
        engine.apply_due_timers(accepted + timedelta(seconds=90))  # back to queue after the 60 s recall interval
    attempt(c, agent, utc(13, 59, 30), CompletionStatus.NO_ANSWER, utc(14, 0))
    d = request(paris, "D", utc(14, 40))  # wrong destination, handle time 10 min
    attempt(d, agent, utc(14, 50), CompletionStatus.WRONG_DESTINATION, utc(15, 0), acw_end=utc(15, 0))
    e = request(paris, "E", utc(14, 0))
    engine.purge(e.pk, utc(14, 30), ACTOR)
    f = request(paris, "F", utc(14, 0))
    engine.cancel(f.pk, utc(14, 45), ACTOR)
    # Paris — the previous shift (before 13:00 UTC), not counted:
    b = request(paris, "B", utc(12, 0))
    attempt(b, agent, utc(12, 10), CompletionStatus.HANDLED, utc(12, 30), acw_end=utc(12, 40))
    g = request(paris, "G", utc(11, 0))
    engine.purge(g.pk, utc(12, 0), ACTOR)
    # Paris — still to be processed: in queue, Pending for a recall, with an agent.
    request(paris, "H", utc(15, 0))
    i = request(paris, "I", utc(15, 0))
    attempt(i, agent, utc(15, 29, 30), CompletionStatus.NO_ANSWER, utc(15, 30))
    j = request(paris, "J", utc(15, 50))
    engine.offer(j.pk, agent, utc(15, 55), ACTOR)
    engine.accept(j.pk, agent, utc(15, 55), ACTOR)

    # New York — reached at 01:00 local (counted, handle time 5 min) and at 23:00 the day before (not counted).
    k = request(new_york, "K", utc(5, 50))
    attempt(k, agent, utc(5, 55), CompletionStatus.HANDLED, utc(6, 0), acw_end=utc(6, 0))
    late = request(new_york, "L", utc(3, 50))
    attempt(late, agent, utc(3, 55), CompletionStatus.HANDLED, utc(4, 0), acw_end=utc(4, 0))
    return paris, new_york, empty


def rows_by_code(now=NOW):
    """The rows at ``now``, once the timers have recorded the schedules and shifts of that moment."""
    engine.apply_schedule_changes(now)
    monitor = compute_rows(now)
    return {row.code: row for row in monitor.rows}, monitor.totals


def test_shift_starts_in_each_time_zone(scenario):
    paris, new_york, _ = scenario
    assert current_shift_start(paris, NOW) == utc(13)
    assert current_shift_start(new_york, NOW) == utc(5)
    assert current_shift_start(paris, utc(12, 59)) == utc(5), "before 14:00 Paris, the 06:00 shift is current"
    assert current_shift_start(paris, utc(4, 59)) == utc(13) - timedelta(days=1), "before 06:00, yesterday's 14:00"


def test_every_column_of_a_busy_business_process(scenario):
    paris = rows_by_code()[0]["PARIS"]

    assert paris.status == "active"
    assert paris.proc == 3, "A reached, C failed, D wrong destination; not E purged, F cancelled, B before the shift"
    assert paris.reached == 1
    assert paris.to_be_processed == 3, "H in queue, I pending for its recall, J dialing"
    assert paris.purged == 1, "E; G was purged in the previous shift"
    assert paris.avg_time_seconds == 750, "A 15 min and D 10 min; B's attempt ended before the shift"
    assert paris.cells() == {
        "status": "Active",
        "proc": "3",
        "to_be_processed": "3",
        "avg_time": "12:30",
        "purged": "1",
        "pct_reached": "33.3 %",
        "pct_failed": "66.7 %",
    }


def test_a_shift_start_in_another_time_zone(scenario):
    new_york = rows_by_code()[0]["NEW_YORK"]
    assert (new_york.proc, new_york.reached, new_york.avg_time_seconds) == (1, 1, 300)
    assert new_york.cells()["pct_reached"] == "100.0 %" and new_york.cells()["pct_failed"] == "0.0 %"


def test_nothing_processed_shows_dashes_and_nulls(scenario):
    empty = rows_by_code()[0]["EMPTY"]
    assert empty.cells() == {
        "status": "Active",
        "proc": "0",
        "to_be_processed": "0",
        "avg_time": "—",
        "purged": "0",
        "pct_reached": "—",
        "pct_failed": "—",
    }
    api = empty.as_api()
    assert (api["pct_reached"], api["pct_failed"], api["avg_time_seconds"]) == (None, None, None)


def test_the_totals_row_sums_and_weighs(scenario):
    totals = rows_by_code()[1]
    assert (totals.proc, totals.reached, totals.to_be_processed, totals.purged) == (4, 2, 3, 1)
    assert totals.avg_time_seconds == 600, "(900 + 600 + 300) / 3 attempts, not the mean of 750 and 300"
    assert totals.cells()["pct_reached"] == "50.0 %" and totals.cells()["pct_failed"] == "50.0 %"


def test_a_shift_rollover_starts_the_counts_afresh(scenario):
    """Next morning at 06:30 Paris a new shift has begun: the shift counters restart, the waiting ones stay."""
    paris = rows_by_code(now=utc(5, 30) + timedelta(days=1))[0]["PARIS"]
    assert (paris.proc, paris.reached, paris.purged, paris.avg_time_seconds) == (0, 0, 0, None)
    assert paris.to_be_processed == 3


def test_stopped_and_off_schedule_status(scenario, make_business_process):
    paris, _, _ = scenario
    engine.set_stopped(paris.pk, True, ACTOR)
    make_business_process("CLOSED", name="Closed", open=False)
    rows = rows_by_code()[0]
    assert rows["PARIS"].status == "stopped" and rows["PARIS"].cells()["status"] == "Stopped"
    assert rows["CLOSED"].cells()["status"] == "Off Schedule HRS"


def test_thresholds_mark_a_business_process(scenario):
    paris, _, _ = scenario
    paris.to_be_processed_threshold, paris.failed_pct_threshold = 2, 50
    paris.save()
    row = rows_by_code()[0]["PARIS"]
    assert row.over_to_be_processed_threshold and row.over_failed_threshold
    assert row.as_message()["over"] == {"to_be_processed": True, "pct_failed": True}
    paris.to_be_processed_threshold, paris.failed_pct_threshold = 3, 70
    paris.save()
    row = rows_by_code()[0]["PARIS"]
    assert not row.over_to_be_processed_threshold and not row.over_failed_threshold, "at the threshold is not over"


def test_the_computation_costs_the_same_queries_for_3_or_30_business_processes(
    scenario, make_business_process, django_assert_num_queries
):
    with django_assert_num_queries(3):
        compute_rows(NOW)
    for n in range(27):
        make_business_process(f"MORE{n}")
    with django_assert_num_queries(3):
        assert len(compute_rows(NOW).rows) == 30


def test_a_dated_exception_decides_clbk_stat(make_business_process):
    """A holiday closes an otherwise always-open business process; special hours open a closed one."""
    from datetime import time

    from callbacks.models import ScheduleException

    holiday = make_business_process("HOLIDAY")
    special = make_business_process("SPECIAL", open=False)
    today = NOW.date()  # both in UTC
    ScheduleException.objects.create(business_process=holiday, date=today)
    ScheduleException.objects.create(business_process=special, date=today, start=time(15), end=time(17))

    rows = rows_by_code()[0]

    assert rows["HOLIDAY"].status == "off_schedule"
    assert rows["SPECIAL"].status == "active"


def test_clbk_stat_is_the_schedule_as_the_timers_recorded_it(make_business_process):
    """The engine dispatches and aborts on what the timers recorded: the monitor shows that, not its own reading."""
    make_business_process("OPENING", schedule_open=False)  # open now; the timers have not looked yet
    make_business_process("CLOSING", open=False, schedule_open=True)  # closed now; recorded open

    before = {row.code: row.status for row in compute_rows(NOW).rows}
    after = {code: row.status for code, row in rows_by_code()[0].items()}  # the timers look at NOW

    assert before == {"OPENING": "off_schedule", "CLOSING": "active"}
    assert after == {"OPENING": "active", "CLOSING": "off_schedule"}


@pytest.mark.django_db(transaction=True)
def test_a_callback_ending_while_the_columns_are_computed_is_not_counted_twice(make_business_process, agent):
    """To Be Proc and Proc come from two queries; one snapshot of the database serves both (PostgreSQL)."""
    import threading

    from django.db import connection

    from callbacks.choices import CallbackState, EndState
    from callbacks.models import Callback

    if connection.vendor != "postgresql":
        pytest.skip("SQLite runs each query on the database as it is; the local demo accepts a passing glitch")
    now = datetime.now(UTC)
    bp = make_business_process("RACE")
    callback = request(bp, "RACE-1", now - timedelta(minutes=1))

    def end_it_elsewhere():  # another connection commits while the computation is between its queries
        Callback.objects.filter(pk=callback.pk).update(
            state=CallbackState.COMPLETED, end_state=EndState.REACHED, completed_at=now
        )
        connection.close()

    def after_the_first_count(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if "COUNT(*)" in sql:
            worker = threading.Thread(target=end_it_elsewhere)
            worker.start()
            worker.join()
        return result

    with connection.execute_wrapper(after_the_first_count):
        row = compute_rows(now).rows[0]

    assert (row.to_be_processed, row.proc) == (1, 0), "the callback as it was when the computation began"
    row = compute_rows(now).rows[0]
    assert (row.to_be_processed, row.proc) == (0, 1)


@pytest.mark.django_db(transaction=True)
def test_the_columns_are_computed_without_jit_compilation(make_business_process):
    """PostgreSQL would JIT-compile the shift counts once the tables grow (their cost is overestimated), spending
    more time compiling than counting: the computation's own transaction turns JIT off, and only for itself."""
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("JIT is PostgreSQL's")
    make_business_process("SALES")
    seen = []

    def show_jit_after_a_count(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if "GROUP BY" in sql and not seen:
            seen.append(None)  # the SHOW below passes through here too
            with context["connection"].cursor() as cursor:
                cursor.execute("SHOW jit")
                seen[0] = cursor.fetchone()[0]
        return result

    with connection.execute_wrapper(show_jit_after_a_count):
        compute_rows()

    assert seen == ["off"]
    with connection.cursor() as cursor:
        cursor.execute("SHOW jit")
        assert cursor.fetchone()[0] == "on", "set back once the computation's transaction ended"


@pytest.fixture
def two_weeks(make_business_process):
    """20 business processes, each with 1,000 callbacks ended over the last two weeks (one attempt each) and 50
    open: the proportions of bench/monitor_load.py, at a scale where the planner's choices are its real ones."""
    from callbacks.choices import CallbackState, EndState
    from callbacks.models import Attempt, Callback

    callbacks, attempts = [], []
    for n in range(20):
        bp = make_business_process(f"TWO-WEEKS-{n}")
        for k in range(1050):
            ended = NOW - timedelta(minutes=20 * k)
            callback = Callback(
                external_id=f"tw-{n}-{k}",
                business_process=bp,
                phone="+12125550100",
                state=CallbackState.QUEUED if k < 50 else CallbackState.COMPLETED,
                end_state="" if k < 50 else EndState.REACHED,
                created=ended - timedelta(minutes=5),
                completed_at=None if k < 50 else ended,
            )
            callbacks.append(callback)
            if k >= 50:
                accepted = ended - timedelta(minutes=3)
                attempts.append(
                    Attempt(callback=callback, business_process=bp, number=1, accepted_at=accepted, acw_ended_at=ended)
                )
    Callback.objects.bulk_create(callbacks, batch_size=5000)
    Attempt.objects.bulk_create(attempts, batch_size=5000)


@pytest.mark.django_db(transaction=True)  # VACUUM runs outside a transaction
def test_each_business_process_reads_only_its_shift_from_the_covering_indexes(two_weeks):
    """The shift counts join each business process with its own callbacks (attempts) from its own shift start:
    a range of a covering index per business process, bounded by that start, never the whole history. The other
    plans are priced out: whether the queries allow this one is what is tested. (The planner's choice depends on
    how many rows each business process has; with a thousand of them and a million callbacks it takes this plan by
    itself: bench/monitor_load.py --explain.) Vacuumed first, as a table's settled history is: an index-only scan
    is only cheaper than the heap once the visibility map says so."""
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext

    if connection.vendor != "postgresql":
        pytest.skip("the plans are PostgreSQL's")
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE callbacks_callback, callbacks_attempt, callbacks_businessprocess")
    with CaptureQueriesContext(connection) as captured:
        compute_rows(NOW)
    plans = {}
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(  # for this transaction only
            "SET LOCAL enable_seqscan = off; SET LOCAL enable_bitmapscan = off; SET LOCAL enable_hashjoin = off;"
            " SET LOCAL enable_mergejoin = off; SET LOCAL enable_material = off"
        )
        for query in captured.captured_queries:
            if "GROUP BY" in query["sql"]:
                cursor.execute("EXPLAIN " + query["sql"])
                table = "callbacks_attempt" if "callbacks_attempt" in query["sql"] else "callbacks_callback"
                state = "open" if '"state" IN' in query["sql"] else "ended"
                plans[table, state] = "\n".join(line for (line,) in cursor.fetchall())

    to_be_processed = plans["callbacks_callback", "open"]
    ended = plans["callbacks_callback", "ended"]
    handled = plans["callbacks_attempt", "ended"]
    assert "Scan using callback_open_bp" in to_be_processed, to_be_processed
    bounded = (
        "(business_process_id = callbacks_businessprocess.id) AND ({} >= callbacks_businessprocess.shift_started_at)"
    )
    assert "Index Only Scan using callback_bp_completed" in ended, ended
    assert bounded.format("completed_at") in ended, ended
    assert "Index Only Scan using attempt_bp_acw_ended" in handled, handled
    assert bounded.format("acw_ended_at") in handled, handled
