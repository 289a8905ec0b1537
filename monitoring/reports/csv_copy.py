"""The CSV download on PostgreSQL: the database writes it (``COPY (SELECT ...) TO STDOUT WITH (FORMAT csv)``).

The Python exporter (``exports.csv_parts``) reads rows through a cursor and formats them; PostgreSQL fetching
and Python formatting then take turns, and a download ran at ~35,000 rows/s. Here every cell is made in SQL,
exactly as the Python exporter makes it, and the COPY's output is passed on in parts of ``PART_BYTES``: constant
memory, and the only Python work per part is handing bytes over.

Same bytes as the Python exporter (a test on PostgreSQL compares the two files on a hostile history):
- same columns, same order (completion time, callback, attempt number), one row per attempt (one with empty
  attempt columns for a callback without any); total attempts and the last attempt time from a window over the
  callback's rows (they are consecutive: the window costs no extra sort);
- times as ``ReportTime`` writes them (the Python exporter reads its text on PostgreSQL), see ``local_time``;
- formula neutralisation: a leading = + - @ tab or CR gets a leading single quote; a phone in E.164 form as is;
- empty cells are NULL: COPY writes an empty string as ``""`` but NULL as nothing, as Python's csv writes "".
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from zoneinfo import ZoneInfo

from django.db import connections, transaction
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


def local_time(expression) -> Sql:
    """A time as ``ReportTime`` writes it (ISO 8601 with the UTC offset, to the second), written in the session's
    time zone, which ``copy_parts`` sets to the report's: one conversion per time, where ``ReportTime`` (made
    for a connection in UTC) needs four — a third of a COPY's time."""
    return Sql("""to_char($0, 'YYYY-MM-DD"T"HH24:MI:SSTZH:TZM')""", expression)


def copy_columns() -> list:
    attempt_time = local_time(Coalesce("attempt_set__offered_at", "attempt_set__completed_at"))
    # The window: this callback's rows. Ordered as the output is, so that one sort serves the window and the
    # ORDER BY (the frame stays the whole callback).
    callback_rows = "PARTITION BY $1, $2 ORDER BY $0 ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING"
    return [
        cell(neutralised(F("business_process__code"))),
        cell(neutralised(F("business_process__name"))),
        cell(neutralised(F("external_id"))),
        cell(Sql(f"CASE WHEN $0 ~ {E164_SQL} THEN $0 ELSE $1 END", F("phone"), neutralised(F("phone")))),
        cell(neutralised(F("customer_name"))),
        cell(label("end_state", EndState.choices)),
        local_time(F("created")),
        local_time(F("completed_at")),
        # The last attempt's time (numbers follow time; an attempt without a time is skipped): the greatest
        # "number, time" text, the number zero-padded so that text order is number order.
        Sql(
            f"substr(max(lpad($0::text, 5, '0') || $3) OVER ({callback_rows}), 6)",
            F("attempt_set__number"),
            F("completed_at"),
            F("pk"),
            attempt_time,
        ),
        Sql(
            f"count($3) OVER ({callback_rows})",
            F("attempt_set__number"),
            F("completed_at"),
            F("pk"),
            F("attempt_set__id"),
        ),
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


def copy_statement(callbacks: QuerySet[Callback]) -> tuple[str, list]:
    rows = callbacks.order_by("completed_at", "pk", "attempt_set__number").values_list(*copy_columns())
    sql, params = rows.query.sql_with_params()
    return f"COPY ({sql}) TO STDOUT WITH (FORMAT csv)", list(params)


def copy_parts(
    callbacks: QuerySet[Callback], tz: ZoneInfo, lines: Callable[[int], None] | None = None
) -> Iterator[bytes]:
    """The CSV's rows (no header) as bytes, in parts of about PART_BYTES; ``lines`` is told how many lines
    were passed on so far (a progress measure: a name with a line break counts twice)."""
    statement, params = copy_statement(callbacks)
    part, size, seen = [], 0, 0
    # For the COPY: the session's time zone is the report's (local_time needs it), and no JIT compilation (it
    # took 2 s of a 100,000-callback COPY, for nothing). Then set back: SET LOCAL alone would last to the end of
    # an enclosing transaction. If the COPY fails, the rollback sets them back.
    with transaction.atomic(using=callbacks.db), connections[callbacks.db].cursor() as cursor:
        cursor.execute(
            "SELECT current_setting('TimeZone'), current_setting('jit'),"
            " set_config('TimeZone', %s, true), set_config('jit', 'off', true)",
            [tz.key],
        )
        previous_zone, previous_jit, *_ = cursor.fetchone()
        with cursor.cursor.copy(statement, params) as copy:
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
        cursor.execute(
            "SELECT set_config('TimeZone', %s, true), set_config('jit', %s, true)", [previous_zone, previous_jit]
        )
    if part:
        joined = b"".join(part)
        if lines:
            lines(seen + joined.count(b"\n"))
        yield joined
