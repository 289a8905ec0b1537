"""The summary report: exact numbers per business process and period, the chart, the CSV."""

import csv
import io
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.urls import reverse

from callbacks.choices import CallbackState, CompletionStatus, EndState
from callbacks.models import Attempt, Callback
from monitoring.models import SummaryCoverage
from monitoring.reports import summary_hours
from monitoring.reports.summary import DAY, HOUR, over_time, summarize

pytestmark = pytest.mark.django_db

# PostgreSQL: the report's queries run without JIT (monitoring.reports.database.without_jit), a savepoint here
# with the setting set and set back: four more queries.
NO_JIT_QUERIES = 4 if connection.vendor == "postgresql" else 0

PARIS = ZoneInfo("Europe/Paris")
URL = reverse("report-summary")
_refs = iter(range(1, 10_000))


def paris(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=PARIS)


def ended(bp, created, completed, end_state, tries=(), handle=None):
    """A callback created and ended at these times, with attempts of these statuses (the last one handled for
    `handle` seconds, accept → end of After Call Work)."""
    callback = Callback.objects.create(
        external_id=f"cb-{next(_refs)}", business_process=bp, phone="+33142685300", state=CallbackState.COMPLETED,
        end_state=end_state, created=created, completed_at=completed,
    )  # fmt: skip
    for number, status in enumerate(tries, start=1):
        accepted = completed - timedelta(seconds=handle or 60)
        Attempt.objects.create(
            callback=callback, business_process=bp, number=number, offered_at=accepted, accepted_at=accepted,
            completed_at=completed, completion_status=status,
            acw_ended_at=completed if handle and number == len(tries) else None,
        )  # fmt: skip
    return callback


# Every test of the history runs three ways, with the same expected numbers: counted from the callbacks; summed
# from the pre-aggregated hours (summary_hours, refreshed after the history); and half and half (the hours up to
# 25 Nov 02:00 UTC from the table, the rest counted).
COUNTED, HOURS, HALF = "counted", "pre-aggregated hours", "hours then counted"


@pytest.fixture(params=[COUNTED, HOURS, HALF])
def history(request, make_business_process):
    sales, support = _history(make_business_process)
    if request.param == HOURS:
        assert summary_hours.refresh(now=datetime(2026, 12, 1, tzinfo=UTC)) > 0
    elif request.param == HALF:
        summary_hours.refresh(now=datetime(2026, 11, 25, 2, 30, tzinfo=UTC))
        assert SummaryCoverage.objects.get().complete_until == datetime(2026, 11, 25, 2, tzinfo=UTC)
    return sales, support


def _history(make_business_process):
    sales = make_business_process("SALES", time_zone="Europe/Paris")
    support = make_business_process("SUPPORT")
    # 24 Nov (Paris): SALES — 2 reached (1 and 2 tries; handle times 100 s and 300 s), 1 failed (3 tries), 1 purged
    ended(sales, paris(24, 9), paris(24, 10), EndState.REACHED, [CompletionStatus.HANDLED], handle=100)
    ended(
        sales,
        paris(24, 9),
        paris(24, 11),
        EndState.REACHED,
        [CompletionStatus.NO_ANSWER, CompletionStatus.HANDLED],
        300,
    )
    ended(sales, paris(24, 9), paris(24, 12), EndState.FAILED, [CompletionStatus.NO_ANSWER] * 3)
    ended(sales, paris(24, 9), paris(24, 13), EndState.PURGED)
    # requested on the 24th at 23:30 Paris, ended on the 25th at 00:30 Paris (still the 24th in UTC)
    ended(sales, paris(24, 23, 30), paris(25, 0, 30), EndState.CANCELLED)
    # SUPPORT on the 25th: 1 aborted, 1 wrong destination
    ended(support, paris(25, 8), paris(25, 18), EndState.ABORTED, [CompletionStatus.ABORTED])
    ended(support, paris(25, 8), paris(25, 9), EndState.WRONG_DESTINATION, [CompletionStatus.WRONG_DESTINATION])
    return sales, support


def by_key(periods):
    return {(p.start.date(), p.business_process.code): p for p in periods}


def test_per_business_process_per_day(history):
    periods = by_key(summarize(date(2026, 11, 24), date(2026, 11, 25), PARIS))

    sales_24 = periods[date(2026, 11, 24), "SALES"]
    assert sales_24.requested == 5
    assert sales_24.ended == {
        EndState.REACHED: 2, EndState.FAILED: 1, EndState.WRONG_DESTINATION: 0, EndState.PURGED: 1,
        EndState.CANCELLED: 0, EndState.ABORTED: 0,
    }  # fmt: skip
    assert sales_24.reach_rate == pytest.approx(100 * 2 / 3)
    assert sales_24.average_attempts == pytest.approx(6 / 4)
    assert sales_24.average_handle_seconds == pytest.approx(200)
    sales_25 = periods[date(2026, 11, 25), "SALES"]
    assert (sales_25.requested, sales_25.ended[EndState.CANCELLED], sales_25.reach_rate) == (0, 1, None)
    support_25 = periods[date(2026, 11, 25), "SUPPORT"]
    assert (support_25.ended[EndState.ABORTED], support_25.ended[EndState.WRONG_DESTINATION]) == (1, 1)
    assert support_25.reach_rate == 0


def test_the_day_is_that_of_the_chosen_time_zone(history):
    periods = by_key(summarize(date(2026, 11, 24), date(2026, 11, 25), ZoneInfo("UTC")))

    assert periods[date(2026, 11, 24), "SALES"].ended[EndState.CANCELLED] == 1, "00:30 Paris is 23:30 UTC"
    assert (date(2026, 11, 25), "SALES") not in periods


def test_per_hour_and_over_time(history):
    periods = summarize(date(2026, 11, 24), date(2026, 11, 24), PARIS, HOUR)
    assert [(p.start.hour, p.ended[EndState.REACHED]) for p in periods if p.ended[EndState.REACHED]] == [
        (10, 1),
        (11, 1),
    ]

    timeline = over_time(periods, date(2026, 11, 24), date(2026, 11, 24), PARIS, HOUR)
    assert len(timeline) == 24 and sum(p.requested for p in timeline) == 5


def test_a_day_of_daylight_saving_change_has_23_hours():
    spring = over_time([], date(2026, 3, 29), date(2026, 3, 29), PARIS, HOUR)
    assert len(spring) == 23
    days = over_time([], date(2026, 3, 28), date(2026, 3, 30), PARIS, DAY)
    assert [p.start.hour for p in days] == [0, 0, 0]


def test_the_page_shows_the_table_and_the_chart(client, make_user, history, django_assert_max_num_queries):
    client.force_login(make_user("supervisors"))
    params = {"first": "2026-11-24", "last": "2026-11-25", "granularity": "day", "time_zone": "Europe/Paris"}

    with django_assert_max_num_queries(12 + NO_JIT_QUERIES):
        page = client.get(URL, params)

    assert page.status_code == 200
    text = page.content.decode()
    assert "<svg" in text and "reach-line" in text
    assert "66.7 %" in text and "SUPPORT" in text


def test_the_csv_has_every_line(client, make_user, history):
    client.force_login(make_user("managers"))
    params = {"first": "2026-11-24", "last": "2026-11-25", "granularity": "day", "time_zone": "Europe/Paris"}

    response = client.get(URL, {**params, "format": "csv"})

    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [(r["period_start"][:10], r["business_process"]) for r in rows] == [
        ("2026-11-24", "SALES"),
        ("2026-11-25", "SALES"),
        ("2026-11-25", "SUPPORT"),
    ]
    first = rows[0]
    assert (first["requested"], first["ended_reached"], first["ended_failed"], first["ended_purged"]) == (
        "5",
        "2",
        "1",
        "1",
    )
    assert (first["reach_rate_pct"], first["average_attempts"], first["average_handle_seconds"]) == (
        "66.7",
        "1.5",
        "200.0",
    )
    assert first["period_start"] == "2026-11-24T00:00:00+01:00"


def test_a_code_a_spreadsheet_would_run_is_written_as_text(client, make_user, make_business_process):
    bp = make_business_process("-1+1")
    ended(bp, paris(24, 9), paris(24, 10), EndState.REACHED)
    client.force_login(make_user("managers"))

    response = client.get(
        URL, {"first": "2026-11-24", "last": "2026-11-24", "granularity": "day", "time_zone": "UTC", "format": "csv"}
    )

    assert "'-1+1" in b"".join(response.streaming_content).decode()


def test_bad_filters_are_refused_with_a_message(client, make_user):
    client.force_login(make_user("managers"))
    response = client.get(URL, {"first": "2026-11-01", "last": "2026-11-20", "granularity": "hour", "time_zone": "UTC"})
    assert response.status_code == 400
    assert "At most 7 days per hour" in response.content.decode()


def test_everyone_who_watches_the_monitor_reads_the_summary(client, make_user):
    assert client.get(URL).status_code == 302, "login first"
    for role in ("supervisors", "managers", "administrators"):
        client.force_login(make_user(role))
        assert client.get(URL).status_code == 200
    client.force_login(make_user(None))
    assert client.get(URL).status_code == 403


@pytest.mark.parametrize(
    ("role", "titles"),
    [
        ("supervisors", ["Summary"]),
        ("managers", ["Summary", "Completed Callback Interaction (6.04)", "Agent performance vs agent interactions"]),
    ],
)
def test_the_reports_page_lists_what_the_user_may_open(client, make_user, role, titles):
    client.force_login(make_user(role))
    response = client.get(reverse("reports"))
    assert [report["title"] for report in response.context["reports"]] == titles
