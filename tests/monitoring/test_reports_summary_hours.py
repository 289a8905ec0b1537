"""The summary report's pre-aggregated hours (monitoring.reports.summary_hours): summed, they give exactly the
figures counted from the callbacks, in any zone, per day and per hour; refreshing is idempotent; what the table
does not hold yet (the current hour, late events until the next refresh) is counted directly."""

import random
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection

from callbacks.choices import CallbackState, CompletionStatus, EndState
from callbacks.models import Attempt, BusinessProcess, Callback
from monitoring.models import SummaryCoverage, SummaryHour
from monitoring.reports import summary_hours
from monitoring.reports.summary import DAY, HOUR, Periods, count_directly, summarize

pytestmark = pytest.mark.django_db

# PostgreSQL: the report's queries run without JIT (monitoring.reports.database.without_jit), a savepoint here
# with the setting set and set back: four more queries.
NO_JIT_QUERIES = 4 if connection.vendor == "postgresql" else 0

FIRST, LAST = date(2026, 3, 27), date(2026, 3, 31)  # Europe's DST change on 29 March, 01:00 UTC
ZONES = ["UTC", "Europe/Paris", "America/New_York", "Asia/Kolkata", "Australia/Adelaide", "Asia/Kathmandu"]


def random_history(seed: int = 6, callbacks: int = 300) -> None:
    """Callbacks created and ended anywhere from 25 March to 2 April (UTC), some still open, with attempts
    handled (After Call Work ending up to 20 minutes after the callback ended) or not."""
    rng = random.Random(seed)
    bps = [BusinessProcess.objects.create(code=f"BP{n}", name=f"BP {n}") for n in range(4)]
    start = datetime(2026, 3, 25, tzinfo=UTC)
    for n in range(callbacks):
        bp = rng.choice(bps)
        created = start + timedelta(seconds=rng.randrange(8 * 86400))
        completed = created + timedelta(seconds=rng.randrange(2 * 3600)) if rng.random() < 0.9 else None
        callback = Callback.objects.create(
            external_id=f"r-{n}", business_process=bp, phone="+33142685300", created=created,
            state=CallbackState.COMPLETED if completed else CallbackState.QUEUED,
            end_state=rng.choice(list(EndState)) if completed else "", completed_at=completed,
        )  # fmt: skip
        for number in range(1, rng.randrange(4) + 1):
            offered = created + timedelta(seconds=rng.randrange(3600))
            accepted = offered + timedelta(seconds=rng.randrange(60)) if rng.random() < 0.7 else None
            acw_end = accepted and accepted + timedelta(
                seconds=rng.randrange(1, 1200), microseconds=rng.randrange(10**6)
            )
            Attempt.objects.create(
                callback=callback, business_process=bp, number=number, offered_at=offered, accepted_at=accepted,
                acw_ended_at=acw_end if accepted and rng.random() < 0.8 else None,
                completion_status=rng.choice(list(CompletionStatus)),
            )  # fmt: skip


def counted(first: date, last: date, tz: ZoneInfo, granularity: str) -> dict:
    """The figures counted from the callbacks alone (what summarize gives without the table)."""
    from monitoring.reports.agents import day_range
    from monitoring.reports.summary import TruncDay, TruncHour

    start, end = day_range(first, last, tz)
    trunc = TruncHour if granularity == HOUR else TruncDay
    periods = Periods(BusinessProcess.objects.in_bulk())
    count_directly(periods, start, end, lambda expression: trunc(expression, tzinfo=tz))
    return {key: period.figures() for key, period in periods.items()}


def summarized(first: date, last: date, tz: ZoneInfo, granularity: str) -> dict:
    return {(p.business_process.pk, p.start): p.figures() for p in summarize(first, last, tz, granularity)}


@pytest.mark.parametrize("coverage", [datetime(2026, 4, 3, tzinfo=UTC), datetime(2026, 3, 29, 13, 40, tzinfo=UTC)])
def test_hours_add_up_to_the_counted_figures_in_every_zone(coverage):
    random_history()
    summary_hours.refresh(now=coverage)
    assert SummaryHour.objects.exists()
    for zone in ZONES:
        tz = ZoneInfo(zone)
        for granularity, first in ((DAY, FIRST), (HOUR, date(2026, 3, 28))):
            expected = counted(first, LAST, tz, granularity)
            assert expected, "the history has something to count"
            assert summarized(first, LAST, tz, granularity) == expected, (zone, granularity)


def test_the_table_is_what_the_report_reads_where_it_can():
    """A wrong figure planted in the table shows in a whole-hour zone, and not in India's (counted there)."""
    random_history(callbacks=40)
    summary_hours.refresh(now=datetime(2026, 4, 3, tzinfo=UTC))
    row = SummaryHour.objects.order_by("hour").last()
    SummaryHour.objects.filter(pk=row.pk).update(requested=row.requested + 1000)
    for zone, planted in (("UTC", 1000), ("Europe/Paris", 1000), ("Asia/Kolkata", 0)):
        tz = ZoneInfo(zone)
        total = sum(p.requested for p in summarize(date(2026, 3, 20), date(2026, 4, 5), tz))
        assert total == Callback.objects.count() + planted, zone


def test_only_zones_of_whole_hours_are_made_of_hours():
    start, end = datetime(2026, 3, 28, 23, tzinfo=UTC), datetime(2026, 3, 30, 22, tzinfo=UTC)
    assert summary_hours.whole_hour_offsets(ZoneInfo("Europe/Paris"), start, end)
    assert not summary_hours.whole_hour_offsets(
        ZoneInfo("Asia/Kolkata"), datetime(2026, 3, 28, 18, 30, tzinfo=UTC), end
    )
    # Lord Howe Island moves by half an hour at its DST change (5 April 2026, from +11:00 to +10:30).
    lord_howe = ZoneInfo("Australia/Lord_Howe")
    assert summary_hours.whole_hour_offsets(
        lord_howe, datetime(2026, 3, 1, 13, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC)
    )
    assert not summary_hours.whole_hour_offsets(
        lord_howe, datetime(2026, 3, 1, 13, tzinfo=UTC), datetime(2026, 4, 10, tzinfo=UTC)
    )


def test_refreshing_is_idempotent_and_catches_late_events_of_recent_hours(settings):
    settings.SUMMARY_RECOMPUTE_HOURS = 24
    random_history(callbacks=60)
    now = datetime(2026, 4, 3, 10, 15, tzinfo=UTC)
    summary_hours.refresh(now=now)
    rows = sorted(SummaryHour.objects.values_list("business_process", "hour", "requested", "attempts", "handle_time"))
    summary_hours.refresh(now=now)
    assert (
        sorted(SummaryHour.objects.values_list("business_process", "hour", "requested", "attempts", "handle_time"))
        == rows
    )
    assert SummaryCoverage.objects.get().complete_until == datetime(2026, 4, 3, 10, tzinfo=UTC)

    # A callback reported late, created 3 April 08:20 (an hour already in the table, within the 24 hours).
    bp = BusinessProcess.objects.first()
    Callback.objects.create(
        external_id="late", business_process=bp, phone="+33142685300", state=CallbackState.QUEUED,
        created=datetime(2026, 4, 3, 8, 20, tzinfo=UTC),
    )  # fmt: skip
    one_day = (date(2026, 4, 3), date(2026, 4, 3), ZoneInfo("UTC"))
    before = sum(p.requested for p in summarize(*one_day))
    summary_hours.refresh(now=now + timedelta(minutes=10))
    assert sum(p.requested for p in summarize(*one_day)) == before + 1
    assert summarized(*one_day, DAY) == counted(*one_day, DAY)


def test_the_current_hour_is_counted_at_once():
    random_history(callbacks=20)
    summary_hours.refresh(now=datetime(2026, 4, 3, 10, 15, tzinfo=UTC))
    bp = BusinessProcess.objects.first()
    Callback.objects.create(
        external_id="now", business_process=bp, phone="+33142685300", state=CallbackState.QUEUED,
        created=datetime(2026, 4, 3, 10, 20, tzinfo=UTC),
    )  # fmt: skip
    periods = summarize(date(2026, 4, 3), date(2026, 4, 3), ZoneInfo("UTC"))
    assert sum(p.requested for p in periods) == Callback.objects.filter(created__date=date(2026, 4, 3)).count()


def test_a_first_refresh_builds_every_hour_there_is_and_an_empty_database_nothing():
    assert summary_hours.refresh(now=datetime(2026, 4, 3, tzinfo=UTC)) == 0
    random_history(callbacks=30)
    SummaryCoverage.objects.all().delete()
    written = summary_hours.refresh(now=datetime(2026, 4, 3, tzinfo=UTC))
    assert written == SummaryHour.objects.count() > 0
    assert sum(SummaryHour.objects.values_list("requested", flat=True)) == Callback.objects.count()


def test_a_report_on_the_table_takes_a_constant_number_of_queries(django_assert_num_queries):
    random_history(callbacks=50)
    summary_hours.refresh(now=datetime(2026, 3, 30, 12, tzinfo=UTC))
    # Business processes, the coverage, the hours' sums, then the four counts after the coverage.
    with django_assert_num_queries(7 + NO_JIT_QUERIES):
        summarize(FIRST, LAST, ZoneInfo("Europe/Paris"))
    with django_assert_num_queries(7 + NO_JIT_QUERIES):
        summarize(FIRST, LAST, ZoneInfo("Europe/Paris"), HOUR)


def test_a_late_event_older_than_the_recomputed_hours_comes_in_with_the_rebuild_command(settings):
    from django.core.management import CommandError, call_command

    settings.SUMMARY_RECOMPUTE_HOURS = 24
    random_history(callbacks=30)
    summary_hours.refresh(now=datetime(2026, 4, 3, 10, 15, tzinfo=UTC))
    bp = BusinessProcess.objects.first()
    Callback.objects.create(
        external_id="very-late", business_process=bp, phone="+33142685300", state=CallbackState.QUEUED,
        created=datetime(2026, 3, 27, 8, 20, tzinfo=UTC),
    )  # fmt: skip
    summary_hours.refresh(now=datetime(2026, 4, 3, 10, 25, tzinfo=UTC))
    one_day = (date(2026, 3, 27), date(2026, 3, 27), ZoneInfo("UTC"))
    assert summarized(*one_day, DAY) != counted(*one_day, DAY), "six days late: not in the recomputed hours"

    call_command("rebuild_summary_hours", "2026-03-27", "2026-03-27")
    assert summarized(*one_day, DAY) == counted(*one_day, DAY)
    with pytest.raises(CommandError):
        call_command("rebuild_summary_hours", "2026-03-28", "2026-03-27")


@pytest.mark.skipif(connection.vendor != "postgresql", reason="JIT is PostgreSQL's")
def test_the_reports_aggregates_run_without_jit_and_set_it_back():
    from django.test.utils import CaptureQueriesContext

    from monitoring.reports.agents import reconcile

    random_history(callbacks=10)
    with connection.cursor() as cursor:
        cursor.execute("SHOW jit")
        before = cursor.fetchone()[0]
    for report in (summarize, reconcile):
        with CaptureQueriesContext(connection) as queries:
            report(FIRST, LAST, ZoneInfo("Europe/Paris"))
        sql = [query["sql"] for query in queries]
        off = next(n for n, text in enumerate(sql) if "set_config('jit', 'off', true)" in text)
        back = next(n for n, text in enumerate(sql) if f"set_config('jit', '{before}', true)" in text)
        aggregates = [n for n, text in enumerate(sql) if "COUNT(" in text]
        assert aggregates and off < min(aggregates) and max(aggregates) < back, report.__name__
        with connection.cursor() as cursor:
            cursor.execute("SHOW jit")
            assert cursor.fetchone()[0] == before
