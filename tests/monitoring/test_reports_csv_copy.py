"""The CSV download on PostgreSQL is written by the database (monitoring.reports.csv_copy): byte for byte the
file the Python exporter writes (the one SQLite uses), on a history made to trip one of them up."""

import csv
import io
from zoneinfo import ZoneInfo

import pytest
from django.db import connection

from callbacks.choices import CompletionStatus, EndState
from callbacks.models import Agent, Attempt
from monitoring.reports import completed, csv_copy, exports
from tests.monitoring.reports_history import build_history, completed_callback, utc

pytestmark = pytest.mark.skipif(connection.vendor != "postgresql", reason="COPY is PostgreSQL's")

HOSTILE_NAMES = [
    "=cmd|' /C calc'!A0",
    '"quoted", with a comma',
    "two\nlines",
    "carriage\rreturn",
    "windows\r\nline",
    "\ttab first",
    "\rCR first",
    "-1+1",
    "@SUM(A1)",
    "+33 1 42",
    "emoji 😀 naïve Ærø",
    "back\\slash \\.",
    " leading and trailing ",
    "",
]


@pytest.fixture
def hostile(db):
    names = build_history()
    sales = names["sales"]
    sales.name = '=Sales, "the" best'
    sales.save()
    empty_name = Agent.objects.create(login_id="=login", display_name="")
    unicode_agent = Agent.objects.create(login_id="u", display_name="Zoë 😀\nSecond line")
    for n, name in enumerate(HOSTILE_NAMES):
        callback = completed_callback(
            sales,
            f'=hostile-{n},"x"' if n % 2 else f"hostile-{n}",
            end_state=[EndState.REACHED, EndState.FAILED, EndState.ABORTED, EndState.CANCELLED][n % 4],
            created=utc(28, n, 1),
            completed=utc(28, 12 + n // 2, 30),  # two by two the same completion time: callback id decides
            phone=["+12125550134", "+1 212", "=1+1", "+١٢٣٤٥", "+12125550134\n", "", "-5"][n % 7],
            name=name,
            attempts=[
                (names["alice"], utc(28, n, 5), utc(28, n, 6), CompletionStatus.NO_ANSWER),
                (
                    [empty_name, unicode_agent, None][n // 3 % 3],
                    utc(28, n, 10),
                    utc(28, n, 20),
                    CompletionStatus.HANDLED,
                ),
            ][: n % 3],
        )
        if n % 5 == 4:  # an attempt with no time at all, after timed ones: the last attempt time skips it
            Attempt.objects.create(
                callback=callback, business_process=sales, number=9, agent=None, completion_status=""
            )
    return names


@pytest.mark.parametrize("zone", ["UTC", "Europe/Paris", "Asia/Kolkata", "America/St_Johns"])
def test_the_database_writes_the_same_bytes_as_python(hostile, zone):
    tz = ZoneInfo(zone)
    callbacks = completed.completed_callbacks()
    from_database = exports.csv_header(tz).encode() + b"".join(csv_copy.copy_parts(callbacks, tz))
    from_python = (exports.csv_header(tz) + "".join(exports.python_csv_parts(callbacks, tz))).encode()
    assert from_database == from_python
    assert b"".join(exports.csv_parts(callbacks, tz)) == from_database  # the download takes the COPY's way
    with connection.cursor() as cursor:  # the report's zone was for the COPY only (this test is a transaction)
        cursor.execute("SHOW TimeZone")
        assert cursor.fetchone()[0] == "UTC"
    rows = list(csv.reader(io.StringIO(from_database.decode("utf-8-sig"))))
    assert len(rows) == 1 + sum(max(1, callback.attempt_set.count()) for callback in callbacks)
    names = {row[4] for row in rows[1:]}
    assert {exports.neutralise(name) for name in HOSTILE_NAMES} <= names
    assert "'=cmd|' /C calc'!A0" in names and "'\rCR first" in names


def test_cells_made_in_sql(hostile):
    """A few cells read back, beside the byte comparison: neutralised, labelled, empty for NULLs."""
    body = b"".join(exports.csv_parts(completed.completed_callbacks(), ZoneInfo("UTC"))).decode("utf-8-sig")
    rows = {(row[2], row[10]): row for row in csv.reader(io.StringIO(body))}
    timed, timeless = rows["hostile-4", "1"], rows["hostile-4", "9"]
    assert timed[:6] == ["SALES", '\'=Sales, "the" best', "hostile-4", "'+12125550134\n", "windows\r\nline", "Reached"]
    assert timed[8:] == [
        "2026-03-28T04:05:00+00:00",
        "2",
        "1",
        "2026-03-28T04:05:00+00:00",
        "Alice Martin",
        "No Answer",
    ]
    # The attempt without a time is counted, but the last attempt time is the last one that has a time.
    assert timeless[8:] == ["2026-03-28T04:05:00+00:00", "2", "9", "", "", ""]
    assert rows["hostile-0", ""][3:5] == ["+12125550134", "'=cmd|' /C calc'!A0"]
    assert rows["hostile-0", ""][8:] == ["", "0", "", "", "", ""]
    assert rows['\'=hostile-1,"x"', "1"][3] == "'+1 212"
    assert rows['\'=hostile-5,"x"', "2"][12] == "Zoë 😀\nSecond line"
    assert rows["hostile-2", "2"][12] == "'=login"  # no display name: the login id, neutralised
    assert rows['\'=hostile-3,"x"', ""][3] == "'+١٢٣٤٥"  # not E.164 (not ASCII digits): text, neutralised
    assert rows["hostile-6", ""][3:5] == ["'-5", "'\rCR first"]
    assert rows["cb-aborted", "1"][10:] == ["1", "2026-03-28T17:00:00+00:00", "", "Aborted"]


def test_copy_parts_are_bounded(hostile, monkeypatch):
    monkeypatch.setattr(csv_copy, "PART_BYTES", 1000)
    seen = []
    parts = list(csv_copy.copy_parts(completed.completed_callbacks(), ZoneInfo("UTC"), seen.append))
    assert len(parts) > 3
    assert all(len(part) < 1000 + 500 for part in parts)
    assert seen[-1] == b"".join(parts).count(b"\n")
    assert seen == sorted(seen)
