"""Downloads of the Completed Callback Interaction report: CSV and XLSX, in constant memory.

Rows are read in chunks through one database cursor (``.iterator()``, a server-side cursor on PostgreSQL):
the matching callbacks joined to their attempts, in order, grouped back into callbacks. Nothing holds more
than a chunk, so a 1,000,000-callback download uses the memory of a 100-callback one. Values are read as
tuples, not models (building millions of model instances would cost more than everything else together),
and times as text PostgreSQL writes (see ``ReportTime``).

- CSV: one row per attempt, the callback's columns repeated (so it pivots); a callback with no attempt gets
  one row with the attempt columns empty. UTF-8 with a byte-order mark (so Excel reads the names right), lines
  ending in LF. On PostgreSQL the database writes the rows (csv_copy: COPY, the same bytes, faster); on SQLite
  Python does, from the chunks below.
- XLSX: sheet "Callbacks", one row per callback; sheet "Attempts", one row per attempt with its callback ID.
  Written with openpyxl's write-only workbook into a file (an XLSX is a zip: it cannot be sent before it is
  finished), then streamed from the file.
- Times are ISO 8601 in the chosen time zone, with their UTC offset; the zone is named in the header.
- Formula neutralisation: a text cell a spreadsheet would run as a formula (starting with = + - @, tab or CR)
  is written with a leading single quote, in both formats. Phones: a phone in E.164 form (+ and digits only,
  as the engine stores them) cannot run anything and is written as it is, as text in XLSX; anything else in
  the phone field is neutralised like any other text.

Small downloads stream straight from the request; above settings.REPORT_DIRECT_DOWNLOAD_MAX callbacks a
Celery task (monitoring.tasks.export_report) writes the file and records its progress on a ReportExport.
"""

from __future__ import annotations

import csv
import logging
import os
import re
import tempfile
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from datetime import datetime, timedelta
from functools import lru_cache
from itertools import groupby
from operator import itemgetter
from pathlib import Path
from zoneinfo import ZoneInfo

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.handlers.asgi import ASGIRequest
from django.db import connections
from django.db.models import CharField, Func, QuerySet
from django.db.models.functions import Coalesce
from django.http import FileResponse, HttpRequest, QueryDict, StreamingHttpResponse
from django.utils import timezone
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from callbacks.choices import EndState
from callbacks.models import Callback

from ..models import ReportExport
from . import completed, csv_copy
from .filtersets import CompletedCallbackFilterSet

log = logging.getLogger(__name__)

CHUNK_SIZE = 2000
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# The whole value, ASCII digits only (as csv_copy.E164_SQL): "\d" would take any script's digits and "$" a final
# line break.
E164 = re.compile(r"\+[1-9][0-9]{1,14}")


class ReportTime(Func):
    """A time as the downloads write it: ISO 8601 in the report's zone, with its UTC offset, to the second.

    On PostgreSQL the database writes the text, sparing Python the formatting (and Django's parsing of each
    timestamp in Python), which was most of an export's work. On SQLite it comes as epoch seconds, a float the
    driver reads in C, and ``Cells.time`` formats it.
    """

    output_field = CharField()

    def __init__(self, expression, zone: str):
        super().__init__(expression)
        self.zone = zone

    @property
    def convert_value(self):
        # The drivers give the value as the downloads use it; Django would add a converter call per value.
        return self._convert_value_noop

    def as_postgresql(self, compiler, connection, **extra):
        time_sql, time_params = compiler.compile(self.source_expressions[0])
        local, local_params = f"({time_sql} AT TIME ZONE %s)", [*time_params, self.zone]
        offset = f"EXTRACT(EPOCH FROM {local} - ({time_sql} AT TIME ZONE 'UTC'))::int"
        offset_params = [*local_params, *time_params]
        sql = (
            f"(to_char({local}, 'YYYY-MM-DD\"T\"HH24:MI:SS') || CASE WHEN {offset} < 0 THEN '-' ELSE '+' END"
            f" || to_char(abs({offset}) / 3600, 'FM00') || ':' || to_char(mod(abs({offset}), 3600) / 60, 'FM00'))"
        )
        return sql, [*local_params, *offset_params * 3]

    def as_sqlite(self, compiler, connection, **extra):
        # Django keeps SQLite times as UTC text; julianday() reads it (precise to some microseconds).
        template = "((julianday(%(expressions)s) - 2440587.5) * 86400.0)"
        return self.as_sql(compiler, connection, template=template, **extra)


def report_values(zone: str) -> tuple[int, tuple]:
    """What a download reads, one row per attempt (one for a callback without any): the callback's values,
    then its attempt's; and how many of them are the callback's."""
    callback = (
        "pk",
        "business_process__code",
        "business_process__name",
        "external_id",
        "phone",
        "customer_name",
        "end_state",
        ReportTime("created", zone),
        ReportTime("completed_at", zone),
    )
    attempt = (
        "attempt_set__number",
        # completed.attempt_time: when offered, else (an Aborted attempt) when recorded.
        ReportTime(Coalesce("attempt_set__offered_at", "attempt_set__completed_at"), zone),
        "attempt_set__completion_status",
        "attempt_set__agent__display_name",
        "attempt_set__agent__login_id",
    )
    return len(callback), callback + attempt


END_STATE_LABELS = dict(EndState.choices)


def neutralise(value: str) -> str:
    """A text cell as a spreadsheet may open it safely: one it would run as a formula gets a leading quote."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def phone_cell(phone: str) -> str:
    return phone if E164.fullmatch(phone) else neutralise(phone)


def callback_header(tz: ZoneInfo) -> list[str]:
    zone = tz.key
    return [
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
    ]


def attempt_header(tz: ZoneInfo) -> list[str]:
    return ["Attempt", f"Attempt time ({tz.key})", "Agent name", "Attempt state"]


def chunks(
    callbacks: QuerySet[Callback], tz: ZoneInfo, chunk_size: int | None = None
) -> Iterator[list[tuple[tuple, list[tuple]]]]:
    """The callbacks, oldest completion first, in chunks of (callback values, its attempts' values).

    One query, read through one cursor ``chunk_size`` rows at a time: the callbacks left-joined to their
    attempts and agents, in (completion time, callback, attempt number) order, so each callback's rows are
    consecutive and are grouped back here. (A query for the attempts of each chunk of callbacks, with the ids
    in an IN list, took twice as long on PostgreSQL.)
    """
    chunk_size = chunk_size or CHUNK_SIZE
    width, values = report_values(tz.key)
    rows = (
        callbacks.order_by("completed_at", "pk", "attempt_set__number")
        .values_list(*values)
        .iterator(chunk_size=chunk_size)
    )
    chunk = []
    for _, group in groupby(rows, key=itemgetter(0)):
        group = list(group)
        chunk.append((group[0][:width], [row[width:] for row in group if row[width] is not None]))
        if len(chunk) == chunk_size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


@lru_cache(maxsize=10_000)
def _agent_cell(display_name: str | None, login_id: str | None) -> str:
    return neutralise(completed.agent_name(display_name, login_id))


@lru_cache(maxsize=10_000)
def _business_process_cells(code: str, name: str) -> tuple[str, str]:
    return neutralise(code), neutralise(name)


class Cells:
    """Turns database values into the report's cells, in one time zone. The hot loop of every download:
    agents and business processes, few and repeated, are turned into cells once (cached)."""

    def __init__(self, tz: ZoneInfo):
        self.tz = tz

    def time(self, value: str | float | None) -> str:
        """A ReportTime's value: written by PostgreSQL already, or epoch seconds from SQLite."""
        if value is None:
            return ""
        if isinstance(value, str):
            return value
        # Rounded to the millisecond first: julianday()'s float may fall a hair before the second it means.
        return datetime.fromtimestamp(round(value, 3), self.tz).isoformat(timespec="seconds")

    def entry(self, row: tuple, attempts: list[tuple]) -> tuple[list, list[list]]:
        """A callback's cells, and its attempts' cells."""
        _, code, name, external_id, phone, customer_name, end_state, created, completed_at = row
        time = self.time
        attempt_cells = [
            [number, time(moment), _agent_cell(display_name, login_id), completed.attempt_state(status)]
            for number, moment, status, display_name, login_id in attempts
        ]
        bp_code, bp_name = _business_process_cells(code, name)
        callback_cells = [
            bp_code,
            bp_name,
            neutralise(external_id),
            phone_cell(phone),
            neutralise(customer_name),
            END_STATE_LABELS.get(end_state, end_state),
            time(created),
            time(completed_at),
            # An attempt without a time (its cell "") is skipped, as on screen.
            completed.last_attempt_time([attempt[1] or None for attempt in attempt_cells]) or "",
            len(attempts),
        ]
        return callback_cells, attempt_cells


def _csv_line_writer() -> Callable[[list], str]:
    """A function writing one CSV row as a line ending in LF (the line break COPY writes). The writer's own
    line terminator stays CRLF: Python's csv quotes a value holding any character of it, CR included, as
    COPY does."""
    writer = csv.writer(_Echo())

    def line(row: list) -> str:
        return writer.writerow(row)[:-2] + "\n"

    return line


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_header(tz: ZoneInfo) -> str:
    """The byte-order mark (so Excel reads the names right) and the header line."""
    return "\ufeff" + _csv_line_writer()(callback_header(tz) + attempt_header(tz))


def python_csv_parts(
    callbacks: QuerySet[Callback], tz: ZoneInfo, progress: Callable[[int], None] | None = None
) -> Iterator[str]:
    """The CSV's rows (no header) made in Python, one text part per chunk of callbacks (SQLite's way)."""
    cells = Cells(tz)
    line = _csv_line_writer()
    no_attempt = [""] * len(attempt_header(tz))
    done = 0
    for chunk in chunks(callbacks, tz):
        lines = []
        for row, attempts in chunk:
            callback, attempt_cells = cells.entry(row, attempts)
            if attempt_cells:
                lines.extend(line(callback + attempt) for attempt in attempt_cells)
            else:
                lines.append(line(callback + no_attempt))
        done += len(chunk)
        if progress:
            progress(done)
        yield "".join(lines)


def csv_parts(
    callbacks: QuerySet[Callback], tz: ZoneInfo, progress: Callable[[int], None] | None = None
) -> Iterator[bytes]:
    """The CSV as UTF-8 parts, the first the byte-order mark and the header. On PostgreSQL the database writes
    the rows (csv_copy: the same bytes, faster); ``progress`` is told how many callbacks are written."""
    yield csv_header(tz).encode()
    if connections[callbacks.db].vendor != "postgresql":
        yield from (part.encode() for part in python_csv_parts(callbacks, tz, progress))
        return
    lines = None
    if progress:
        # COPY passes on lines, not callbacks: callbacks written ≈ lines × callbacks / lines expected.
        total = callbacks.count()
        expected = callbacks.order_by().values_list("pk", "attempt_set__number").count() or 1

        def lines(seen: int) -> None:
            progress(min(total, seen * total // expected))

    yield from csv_copy.copy_parts(callbacks, tz, lines)


def _xlsx_text(value):
    # openpyxl refuses control characters in a cell (a name pasted with one would fail the whole file).
    return ILLEGAL_CHARACTERS_RE.sub("", value) if isinstance(value, str) else value


def write_xlsx(
    callbacks: QuerySet[Callback], tz: ZoneInfo, path: Path, progress: Callable[[int], None] | None = None
) -> int:
    """The XLSX into ``path``: a write-only workbook keeps one row in memory per sheet, the rest in temp files.
    Returns the number of rows written (both sheets, headers excepted)."""
    cells = Cells(tz)
    workbook = Workbook(write_only=True)
    callback_sheet = workbook.create_sheet("Callbacks")
    attempt_sheet = workbook.create_sheet("Attempts")
    callback_sheet.append(callback_header(tz))
    attempt_sheet.append(["Callback ID", "Business process"] + attempt_header(tz))
    done = rows = 0
    for chunk in chunks(callbacks, tz):
        for row, attempts in chunk:
            callback, attempt_cells = cells.entry(row, attempts)
            rows += 1 + len(attempt_cells)
            callback = [_xlsx_text(value) for value in callback]
            callback_sheet.append(callback)
            for attempt in attempt_cells:
                attempt_sheet.append([callback[2], callback[0]] + [_xlsx_text(value) for value in attempt])
        done += len(chunk)
        if progress:
            progress(done)
    workbook.save(path)
    return rows


def download_name(fmt: str) -> str:
    return f"{completed.REPORT}-{timezone.now():%Y%m%d-%H%M%S}.{fmt}"


# Under ASGI Django would read a synchronous streaming body into a list before sending it (everything in
# memory); an asynchronous one is sent part by part. Each part is made in the request's own thread (the
# database cursor's), handed over with sync_to_async.
async def _async_parts(parts: Iterable) -> AsyncIterator:
    iterator = iter(parts)
    end = object()
    try:
        while (part := await sync_to_async(next)(iterator, end)) is not end:
            yield part
    finally:
        # A download stopped half-way (the client went away) closes its generator here, in the request's
        # thread: left to the garbage collector, its cursor and transaction would be closed from any thread.
        if hasattr(iterator, "close"):
            await sync_to_async(iterator.close)()


def _streamed(request: HttpRequest, parts: Iterable) -> Iterable | AsyncIterator:
    return _async_parts(parts) if isinstance(request, ASGIRequest) else parts


def file_response(request: HttpRequest, path: Path, filename: str, *, delete: bool = False) -> FileResponse:
    """Stream a file as an attachment; ``delete``: a temporary file, removed once opened (POSIX keeps it alive
    for the open handle)."""
    handle = open(path, "rb")  # noqa: SIM115 — FileResponse closes it
    if delete:
        os.unlink(path)
    response = FileResponse(handle, as_attachment=True, filename=filename)
    if isinstance(request, ASGIRequest):
        response.streaming_content = _async_parts(iter(lambda: handle.read(FileResponse.block_size * 16), b""))
    return response


def direct_download(request: HttpRequest, callbacks: QuerySet[Callback], tz: ZoneInfo, fmt: str):
    """The download answered at once: CSV streamed as it is made, XLSX made into a temporary file first."""
    if fmt == ReportExport.Format.CSV:
        response = StreamingHttpResponse(
            _streamed(request, csv_parts(callbacks, tz)),
            content_type="text/csv; charset=utf-8",
        )
        response["Content-Disposition"] = f'attachment; filename="{download_name(fmt)}"'
        return response
    handle, name = tempfile.mkstemp(suffix=".xlsx")
    os.close(handle)
    try:
        write_xlsx(callbacks, tz, Path(name))
    except BaseException:
        os.unlink(name)
        raise
    return file_response(request, Path(name), download_name(fmt), delete=True)


def filterset_of(parameters: dict[str, list[str]]) -> CompletedCallbackFilterSet:
    data = QueryDict(mutable=True)
    for name, values in parameters.items():
        data.setlist(name, values)
    return CompletedCallbackFilterSet(data, queryset=completed.completed_callbacks())


def run_export(export_id: str) -> None:
    """Write a ReportExport's file (the Celery task's body). Written under a temporary name and renamed when
    complete, so a half-written file is never served; run again (a retried task) it starts over."""
    export = ReportExport.objects.filter(pk=export_id).first()
    if export is None or export.state == ReportExport.State.DONE:
        return
    rows = ReportExport.objects.filter(pk=export.pk)
    rows.update(state=ReportExport.State.RUNNING, done=0)
    filterset = filterset_of(export.parameters)
    part = export.path.with_suffix(".part")
    try:
        if not filterset.is_valid():
            raise ValueError(f"Invalid filters: {filterset.errors.as_text()}")
        settings.REPORT_EXPORT_DIR.mkdir(parents=True, exist_ok=True)

        def progress(done: int) -> None:
            rows.update(done=done)

        if export.format == ReportExport.Format.CSV:
            with open(part, "wb") as file:
                for data in csv_parts(filterset.qs, filterset.time_zone, progress):
                    file.write(data)
        else:
            write_xlsx(filterset.qs, filterset.time_zone, part, progress)
        part.rename(export.path)
    except Exception as error:
        log.exception("Report export %s failed", export.pk)
        part.unlink(missing_ok=True)
        rows.update(state=ReportExport.State.FAILED, error=str(error)[:1000], finished_at=timezone.now())
        return
    rows.update(state=ReportExport.State.DONE, finished_at=timezone.now())


def delete_old_exports(now: datetime | None = None) -> int:
    """Delete export jobs asked for more than REPORT_EXPORT_KEEP_HOURS ago, their files, and any stray file
    of that age in the export folder (left by a worker that died). Returns the number of jobs deleted."""
    cutoff = (now or timezone.now()) - timedelta(hours=settings.REPORT_EXPORT_KEEP_HOURS)
    old = list(ReportExport.objects.filter(created__lt=cutoff))
    for export in old:
        export.path.unlink(missing_ok=True)
        export.path.with_suffix(".part").unlink(missing_ok=True)
    ReportExport.objects.filter(pk__in=[export.pk for export in old]).delete()
    folder = settings.REPORT_EXPORT_DIR
    if folder.is_dir():
        for path in folder.iterdir():
            if path.is_file() and path.stat().st_mtime < cutoff.timestamp():
                path.unlink(missing_ok=True)
    return len(old)
