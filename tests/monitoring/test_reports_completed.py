"""Report 6.04 Completed Callback Interaction on screen: exact rows in two time zones across a DST change,
the filters, bad input, paging and the number of queries per page."""

from datetime import datetime, time, timedelta
from html.parser import HTMLParser
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from callbacks import engine
from callbacks.choices import CompletionStatus, EndState
from callbacks.models import Agent, ScheduleRange
from monitoring.reports.filtersets import CompletedCallbackFilterSet
from tests.monitoring.reports_history import PARIS_DAYS, UTC_DAYS, build_history, completed_callback, utc

URL = "/reports/completed-callbacks/"


class ReportRows(HTMLParser):
    """The report table's rows as text: per callback, its cells and its attempts' cells."""

    def __init__(self):
        super().__init__()
        self.rows: list[dict] = []
        self.depth = 0  # nesting of <table>
        self.cell: list[str] | None = None
        self.attempt: list[str] | None = None
        self.attempt_cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table":
            self.depth += 1
        elif tag == "tr" and self.depth == 1 and "data-callback" in attrs:
            self.rows.append({"id": attrs["data-callback"], "cells": [], "attempts": []})
        elif tag == "td" and self.depth == 1 and self.rows:
            self.cell = []
        elif tag == "tr" and self.depth == 2 and "data-attempt" in attrs:
            self.attempt = []
            self.rows[-1]["attempts"].append(self.attempt)
        elif tag == "td" and self.depth == 2 and self.attempt is not None:
            self.attempt_cell = []

    def handle_endtag(self, tag):
        if tag == "table":
            self.depth -= 1
        elif tag == "td" and self.depth == 1 and self.cell is not None:
            self.rows[-1]["cells"].append(" ".join("".join(self.cell).split()))
            self.cell = None
        elif tag == "td" and self.depth == 2 and self.attempt_cell is not None:
            self.attempt.append(" ".join("".join(self.attempt_cell).split()))
            self.attempt_cell = None
        elif tag == "tr" and self.depth == 2:
            self.attempt = None

    def handle_data(self, data):
        if self.depth == 2 and self.attempt_cell is not None:
            self.attempt_cell.append(data)
        elif self.depth == 1 and self.cell is not None:
            self.cell.append(data)


def report_rows(response) -> list[dict]:
    assert response.status_code == 200, response.content[:500]
    parser = ReportRows()
    parser.feed(response.content.decode())
    return parser.rows


@pytest.fixture
def history(db):
    return build_history()


@pytest.fixture
def manager(client, make_user):
    client.force_login(make_user("managers"))
    return client


def test_rows_in_utc_exactly(history, manager):
    rows = report_rows(manager.get(URL, UTC_DAYS))
    assert rows == [
        {
            "id": "cb-withdrawn",
            "cells": [
                "Sales",
                "cb-withdrawn",
                "+12125550134",
                "Grace Hopper",
                "Cancelled",
                "2026-03-29 23:00:00",
                "2026-03-29 23:30:00",
                "2026-03-29 23:20:00",
                "1 attempt",
            ],
            "attempts": [["1", "2026-03-29 23:20:00", "Alice Martin", "Withdrawn"]],
        },
        {
            "id": "cb-purged",
            "cells": [
                "Support",
                "cb-purged",
                "+12125550134",
                "—",
                "Purged",
                "2026-03-29 07:00:00",
                "2026-03-29 08:00:00",
                "—",
                "0 attempts",
            ],
            "attempts": [],
        },
        {
            "id": "cb-aborted",
            "cells": [
                "Support",
                "cb-aborted",
                "+12125550134",
                "Ada Lovelace",
                "Aborted",
                "2026-03-28 16:00:00",
                "2026-03-28 17:00:00",
                "2026-03-28 17:00:00",
                "1 attempt",
            ],
            "attempts": [["1", "2026-03-28 17:00:00", "—", "Aborted"]],
        },
        {
            "id": "cb-reached",
            "cells": [
                "Sales",
                "cb-reached",
                "+33142685300",
                "Marie Curie",
                "Reached",
                "2026-03-27 09:00:00",
                "2026-03-28 10:07:00",
                "2026-03-28 10:00:00",
                "2 attempts",
            ],
            "attempts": [
                ["1", "2026-03-27 09:05:00", "Alice Martin", "No Answer"],
                ["2", "2026-03-28 10:00:00", "bob-22", "Handled"],
            ],
        },
    ]


def test_rows_in_paris_the_same_days_select_and_show_other_instants(history, manager):
    """28–29 March in Paris: from 27 Mar 23:00 UTC (CET) to 29 Mar 22:00 UTC (CEST) — 47 hours. cb-late
    (27 Mar 23:30 UTC) is in, cb-withdrawn (30 Mar 01:30 in Paris) is out; times shown with Paris's offsets."""
    rows = report_rows(manager.get(URL, PARIS_DAYS))
    assert [(row["id"], row["cells"][5:8], row["attempts"]) for row in rows] == [
        ("cb-purged", ["2026-03-29 09:00:00", "2026-03-29 10:00:00", "—"], []),
        (
            "cb-aborted",
            ["2026-03-28 17:00:00", "2026-03-28 18:00:00", "2026-03-28 18:00:00"],
            [["1", "2026-03-28 18:00:00", "—", "Aborted"]],
        ),
        (
            "cb-reached",
            ["2026-03-27 10:00:00", "2026-03-28 11:07:00", "2026-03-28 11:00:00"],
            [
                ["1", "2026-03-27 10:05:00", "Alice Martin", "No Answer"],
                ["2", "2026-03-28 11:00:00", "bob-22", "Handled"],
            ],
        ),
        (
            "cb-late",
            ["2026-03-27 23:00:00", "2026-03-28 00:30:00", "2026-03-28 00:10:00"],
            [["1", "2026-03-28 00:10:00", "Alice Martin", "Handled"]],
        ),
    ]


def test_a_day_range_across_the_dst_change_is_47_hours(db):
    filterset = CompletedCallbackFilterSet(PARIS_DAYS)
    assert filterset.is_valid()
    start, end = filterset.form.range_in_zone()
    assert start == utc(27, 23) and end == utc(29, 22)
    assert end - start == timedelta(hours=47)
    assert filterset.time_zone == ZoneInfo("Europe/Paris")


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"business_process": ["SUPPORT"]}, ["cb-purged", "cb-aborted"]),
        ({"business_process": ["SUPPORT", "SALES"]}, ["cb-withdrawn", "cb-purged", "cb-aborted", "cb-reached"]),
        ({"end_state": [EndState.ABORTED, EndState.CANCELLED]}, ["cb-withdrawn", "cb-aborted"]),
        ({"agent": "bob-22"}, ["cb-reached"]),
        ({"agent": "alice"}, ["cb-withdrawn", "cb-reached"]),
        ({"agent": "alice", "end_state": [EndState.CANCELLED]}, ["cb-withdrawn"]),
    ],
)
def test_filters(history, manager, filters, expected):
    assert [row["id"] for row in report_rows(manager.get(URL, {**UTC_DAYS, **filters}))] == expected


def test_sorting_by_business_process_and_end_state(history, manager):
    by_bp = [row["id"] for row in report_rows(manager.get(URL, {**UTC_DAYS, "sort": "business_process"}))]
    assert by_bp == ["cb-reached", "cb-withdrawn", "cb-aborted", "cb-purged"]  # then by completion time
    by_bp_desc = [row["id"] for row in report_rows(manager.get(URL, {**UTC_DAYS, "sort": "-business_process"}))]
    assert by_bp_desc == list(reversed(by_bp))
    by_end_state = [row["cells"][4] for row in report_rows(manager.get(URL, {**UTC_DAYS, "sort": "end_state"}))]
    assert by_end_state == ["Aborted", "Cancelled", "Purged", "Reached"]
    oldest_first = [row["id"] for row in report_rows(manager.get(URL, {**UTC_DAYS, "sort": "completed_at"}))]
    assert oldest_first == ["cb-reached", "cb-aborted", "cb-purged", "cb-withdrawn"]


def test_first_visit_shows_the_last_seven_days_in_utc(history, manager):
    recent = completed_callback(
        history["sales"], "cb-today", end_state=EndState.REACHED, created=utc(1, 0), completed=utc(1, 0)
    )
    recent.completed_at = recent.created = timezone.now() - timedelta(hours=1)
    recent.save()
    response = manager.get(URL)
    assert [row["id"] for row in report_rows(response)] == ["cb-today"]
    assert response.context["filter"].form["time_zone"].value() == "UTC"


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        ({"date_from": "2026-03-29", "date_to": "2026-03-28"}, "The end date must not be before the start date."),
        ({"date_from": "29/03/2026"}, "Enter a valid date."),
        ({"time_zone": "Mars/Olympus"}, "Select a valid choice."),
        ({"agent": "nobody"}, "Select a valid choice."),
        ({"business_process": ["NOPE"]}, "Select a valid choice."),
    ],
)
def test_bad_filters_are_shown_with_their_message_and_list_nothing(history, manager, filters, message):
    response = manager.get(URL, {**UTC_DAYS, **filters})
    assert response.status_code == 200
    assert message in response.content.decode()
    assert report_rows(response) == []


def test_paged_by_100(history, manager):
    for n in range(105):
        completed_callback(
            history["support"],
            f"bulk-{n:03d}",
            end_state=EndState.FAILED,
            created=utc(28, 1),
            completed=utc(28, 2) + timedelta(seconds=n),
        )
    response = manager.get(URL, UTC_DAYS)
    first = report_rows(response)
    second = report_rows(manager.get(URL, {**UTC_DAYS, "page": 2}))
    assert len(first) == 100 and len(second) == 9
    assert {row["id"] for row in first + second} >= {"cb-withdrawn", "cb-reached", "bulk-000", "bulk-104"}
    assert '<strong id="report-count">109</strong> completed callbacks.' in response.content.decode()


def test_the_total_stops_at_the_count_limit(history, manager, monkeypatch):
    """Counting a month of a busy contact center would take longer than showing its page."""
    from monitoring.views.reports import CompletedCallbacksReportView

    monkeypatch.setattr(CompletedCallbacksReportView, "COUNT_LIMIT", 3)
    page = manager.get(URL, UTC_DAYS).content.decode()
    assert 'More than <strong id="report-count">3</strong> completed callbacks.' in page
    monkeypatch.setattr(CompletedCallbacksReportView, "COUNT_LIMIT", 4)
    assert '<strong id="report-count">4</strong> completed callbacks.' in manager.get(URL, UTC_DAYS).content.decode()


def test_queries_per_page_do_not_grow_with_rows_or_attempts(history, manager, django_assert_num_queries):
    def queries_for_page() -> int:
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as captured:
            assert manager.get(URL, UTC_DAYS).status_code == 200
        return len(captured)

    assert queries_for_page() == 9
    for n in range(30):
        completed_callback(
            history["sales"],
            f"more-{n}",
            end_state=EndState.FAILED,
            created=utc(28, 1),
            completed=utc(28, 3),
            attempts=[(history["alice"], utc(28, 1), utc(28, 2), CompletionStatus.NO_ANSWER)] * 3,
        )
    # Session, user, permissions (2), the filter form's agents and business processes, the page of callbacks
    # (business process joined; not counted), their attempts (one prefetch, agents joined), the total (up to
    # a limit): 9, whatever the number of rows and attempts.
    with django_assert_num_queries(9):
        rows = report_rows(manager.get(URL, UTC_DAYS))
    assert len(rows) == 34 and sum(len(row["attempts"]) for row in rows) == 90 + 4


def test_the_report_reads_what_the_engine_records(make_business_process, manager):
    """A day driven through the engine itself: an offer declined then handled by another agent, a callback
    purged untried, and one aborted when the schedule closed (its attempt Aborted, without agent)."""
    paris = ZoneInfo("Europe/Paris")
    actor = engine.Actor("tests")
    day = (timezone.now().astimezone(paris) - timedelta(days=1)).date()

    def at(hour: int, minute: int = 0, second: int = 0) -> datetime:
        return datetime.combine(day, time(hour, minute, second), tzinfo=paris)

    office = make_business_process("OFFICE", open=False, time_zone="Europe/Paris")
    ScheduleRange.objects.bulk_create(
        ScheduleRange(business_process=office, weekday=weekday, start=time(8), end=time(18)) for weekday in range(7)
    )
    alice = Agent.objects.create(login_id="alice", display_name="Alice Martin")
    bob = Agent.objects.create(login_id="bob-22")
    engine.apply_due_timers(at(9))

    def request(external_id: str):
        return engine.request_callback(
            external_id=external_id, business_process=office, phone="+33142685300", at=at(10), actor=actor
        )

    reached, purged = request("reached"), request("purged")
    request("aborted")  # left in queue: never tried that day
    engine.offer(reached.pk, alice, at(11), actor)
    engine.complete(reached.pk, alice, CompletionStatus.CANCEL, at(11, 1), actor)
    engine.offer(reached.pk, bob, at(12), actor)
    engine.accept(reached.pk, bob, at(12, 0, 5), actor)
    engine.connect(reached.pk, bob, "person", at(12, 0, 20), actor)
    engine.complete(reached.pk, bob, CompletionStatus.HANDLED, at(12, 5), actor)
    engine.purge(purged.pk, at(13), actor)
    engine.apply_due_timers(at(18, 0, 1))

    rows = report_rows(
        manager.get(URL, {"date_from": day.isoformat(), "date_to": day.isoformat(), "time_zone": "Europe/Paris"})
    )
    d = day.isoformat()
    assert [(row["id"], row["cells"][4], row["cells"][7], row["attempts"]) for row in rows] == [
        ("aborted", "Aborted", f"{d} 18:00:01", [["1", f"{d} 18:00:01", "—", "Aborted"]]),
        ("purged", "Purged", "—", []),
        (
            "reached",
            "Reached",
            f"{d} 12:00:00",
            [["1", f"{d} 11:00:00", "Alice Martin", "Cancel"], ["2", f"{d} 12:00:00", "bob-22", "Handled"]],
        ),
    ]
