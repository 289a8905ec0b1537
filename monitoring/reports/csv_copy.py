"""The CSV download on PostgreSQL: the database writes it (``COPY (SELECT ...) TO STDOUT WITH (FORMAT csv)``).

The Python exporter (``exports.csv_parts``) reads rows through a cursor and formats them; PostgreSQL fetching
and Python formatting then take turns, and a download ran at ~35,000 rows/s. Here every cell is made in SQL,
exactly as the Python exporter makes it, and the COPY's output is passed on in parts of ``PART_BYTES``: constant
memory, and the only Python work per part is handing bytes over.

Same bytes as the Python exporter (a test on PostgreSQL compares the two files on a hostile history):
- same columns, same order (completion time, callback, attempt number), one row per attempt (one with empty
  attempt columns for a callback without any); total attempts and the last attempt time from a window over the
  callback's rows (they are consecutive: the window costs no extra sort);
- times written by ``ReportTime`` (the Python exporter reads the same text on PostgreSQL);
- formula neutralisation: a leading = + - @ tab or CR gets a leading single quote; a phone in E.164 form as is;
- empty cells are NULL: COPY writes an empty string as ``""`` but NULL as nothing, as Python's csv writes "".
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from zoneinfo import ZoneInfo

from django.db import connections
from django.db.models import Case, CharField, F, Func, QuerySet, Value, When
from django.db.models.functions import Coalesce

from callbacks.choices import CompletionStatus, EndState
from callbacks.models import Callback

PART_BYTES = 256 * 1024
FORMULA_STARTS_SQL = "('=', '+', '-', '@', chr(9), chr(13))"  # exports.FORMULA_STARTS
E164_SQL = r"'^\+[1-9][0-9]{1,14}$'"  # exports.E164


class Sql(Func):
    """A piece of SQL with its expressions in it as ``$0``, ``$1``… (each may appear several times: its
    parameters are repeated with it)."""

    output_field = CharField()

    def __init__(self, template: str, *expressions):
        super().__init__(*expressions)
        self.sql_template = template

    @property
    def convert_value(self):
        return self._convert_value_noop

    def as_sql(self, compiler, connection, **extra):
        compiled = [compiler.compile(expression) for expression in self.source_expressions]
        params: list = []

        def substitute(match: re.Match) -> str:
            sql, expression_params = compiled[int(match.group(1))]
            params.extend(expression_params)
            return f"({sql})"

        return re.sub(r"\$(\d+)", substitute, self.sql_template), params


def neutralised(expression) -> Sql:
    return Sql(f"CASE WHEN left($0, 1) IN {FORMULA_STARTS_SQL} THEN '''' || $0 ELSE $0 END", expression)


def cell(expression) -> Sql:
    """Empty text as NULL, so that COPY writes nothing rather than ``""``."""
    return Sql("NULLIF($0, '')", expression)


def label(field: str, choices) -> Case:
    """A choice's label, or the value itself when it is not a choice (``dict.get(value, value)``)."""
    whens = [When(**{field: value}, then=Value(text)) for value, text in choices]
    return Case(*whens, default=F(field), output_field=CharField())


def copy_columns(tz: ZoneInfo) -> list:
    from .exports import ReportTime

    zone = tz.key
    attempt_time = ReportTime(Coalesce("attempt_set__offered_at", "attempt_set__completed_at"), zone)
    callback_rows = "PARTITION BY $1, $2"  # the window: this callback's rows
    return [
        cell(neutralised(F("business_process__code"))),
        cell(neutralised(F("business_process__name"))),
        cell(neutralised(F("external_id"))),
        cell(Sql(f"CASE WHEN $0 ~ {E164_SQL} THEN $0 ELSE $1 END", F("phone"), neutralised(F("phone")))),
        cell(neutralised(F("customer_name"))),
        cell(label("end_state", EndState.choices)),
        ReportTime("created", zone),
        ReportTime("completed_at", zone),
        # The last attempt's time (numbers follow time; an attempt without a time is skipped): the greatest
        # "number, time" text, the number zero-padded so that text order is number order.
        Sql(
            f"substr(max(lpad($0::text, 5, '0') || $3) OVER ({callback_rows}), 6)",
            F("attempt_set__number"),
            F("completed_at"),
            F("pk"),
            attempt_time,
        ),
        Sql(f"count($0) OVER ({callback_rows})", F("attempt_set__id"), F("completed_at"), F("pk")),
        F("attempt_set__number"),
        attempt_time,
        cell(
            neutralised(
                Coalesce(
                    Sql("NULLIF($0, '')", F("attempt_set__agent__display_name")),
                    Sql("NULLIF($0, '')", F("attempt_set__agent__login_id")),
                    Value(""),
                )
            )
        ),
        cell(label("attempt_set__completion_status", CompletionStatus.choices)),
    ]


def copy_statement(callbacks: QuerySet[Callback], tz: ZoneInfo) -> tuple[str, list]:
    rows = callbacks.order_by("completed_at", "pk", "attempt_set__number").values_list(*copy_columns(tz))
    sql, params = rows.query.sql_with_params()
    return f"COPY ({sql}) TO STDOUT WITH (FORMAT csv)", list(params)


def copy_parts(
    callbacks: QuerySet[Callback], tz: ZoneInfo, lines: Callable[[int], None] | None = None
) -> Iterator[bytes]:
    """The CSV's rows (no header) as bytes, in parts of about PART_BYTES; ``lines`` is told how many lines
    were passed on so far (a progress measure: a name with a line break counts twice)."""
    statement, params = copy_statement(callbacks, tz)
    connection = connections[callbacks.db]
    connection.ensure_connection()
    part, size, seen = [], 0, 0
    with connection.cursor() as cursor, cursor.cursor.copy(statement, params) as copy:
        for data in copy:
            part.append(bytes(data))
            size += len(data)
            if size >= PART_BYTES:
                joined = b"".join(part)
                seen += joined.count(b"\n")
                if lines:
                    lines(seen)
                yield joined
                part, size = [], 0
    if part:
        joined = b"".join(part)
        if lines:
            lines(seen + joined.count(b"\n"))
        yield joined
