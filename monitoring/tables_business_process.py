"""Tables of the business process pages: the callbacks to be processed (Callback Search) and the callbacks
behind a monitor number (explain pages). Times are shown in each business process's own time zone."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import django_tables2 as tables
from django.utils import dateformat, translation
from django.utils.dates import MONTHS_3
from django.utils.html import escape, format_html
from django.utils.safestring import mark_safe

from callbacks.choices import END_STATE_COLOURS, AgentPhase, CallbackState, Location
from callbacks.models import BusinessProcess, Callback

LOCAL_TIME = "j M H:i"


def local_time(value: datetime | None, tz: ZoneInfo, fmt: str = LOCAL_TIME) -> str:
    return dateformat.format(value.astimezone(tz), fmt) if value else "—"


def local_minute(value: datetime | None, tz: ZoneInfo) -> str:
    """As ``local_time(value, tz)`` ("25 Nov 14:30"), ten times faster: the Callback Search list formats a
    thousand of them per push, and django.utils.dateformat with its translation lookups was most of that time."""
    if value is None:
        return "—"
    moment = value.astimezone(tz)
    return f"{moment.day} {_month_abbreviations()[moment.month]} {moment:%H:%M}"


def _month_abbreviations() -> list[str]:
    language = translation.get_language()
    if language not in _MONTHS:
        _MONTHS[language] = [""] + [str(MONTHS_3[month]).title() for month in range(1, 13)]
    return _MONTHS[language]


_MONTHS: dict[str | None, list[str]] = {}


def format_wait(delta: timedelta) -> str:
    """A waiting time at the precision a supervisor reads: 45 s, 12 min, 2 h 05 min, 3 d 4 h."""
    seconds = max(int(delta.total_seconds()), 0)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes:02d} min"
    return f"{minutes} min" if minutes else f"{secs} s"


def callback_state(callback: Callback) -> str:
    """Scheduled or Queued; with an agent, the agent-side phase the seed names: Offered, Dialing, Handling."""
    if callback.location == Location.AGENT and callback.agent_phase:
        return AgentPhase(callback.agent_phase).label
    return CallbackState(callback.state).label


def search_row(callback: Callback, business_process: BusinessProcess) -> dict:
    """One callback as the Callback Search tab shows it, and as its WebSocket pushes it (monitoring.search_live).

    ``cells`` holds the text of each column, ``sort`` the values the browser sorts by where the text would not
    do. Time waiting is not pushed: the browser counts it from ``created``, so a row only changes when the
    callback does.
    """
    tz = business_process.tz
    desired, created = callback.desired_time, callback.created
    # due_at is the end of a Pending wait; while Dialing it is the no-answer deadline, not a return to queue.
    next_return = callback.due_at if callback.state == CallbackState.SCHEDULED else None
    return {
        "id": callback.external_id,
        "state": callback.state,
        "created": created.isoformat(),
        "cells": {
            "external_id": callback.external_id,
            "phone": callback.phone,
            "customer_name": callback.customer_name or "—",
            "location": callback.location,
            "state": callback_state(callback),
            "attempts": f"{callback.attempts} of {business_process.attempts_before_failure}",
            "desired_time": local_minute(desired, tz) if desired else "As soon as possible",
            "next_return": local_minute(next_return, tz),
            "owner_agent": str(callback.owner_agent) if callback.owner_agent else "—",
            "current_agent": str(callback.current_agent) if callback.current_agent else "—",
            "created": local_minute(created, tz),
        },
        "sort": {
            "attempts": callback.attempts,
            "desired_time": desired.timestamp() if desired else 0,
            "next_return": next_return.timestamp() if next_return else None,
            "created": created.timestamp(),
            "waiting": -created.timestamp(),
        },
    }


class SearchColumn(tables.Column):
    """A column of the Callback Search tab: its heading, and the key of its cell in ``search_row``."""

    def __init__(self, key: str, verbose_name: str, *, numeric: bool = False):
        self.key, self.numeric = key, numeric
        aligned = {"class": "num"} if numeric else {}
        super().__init__(verbose_name=verbose_name, orderable=False, attrs={"th": {"data-col": key, **aligned}})


class ToBeProcessedTable(tables.Table):
    """The callbacks still to be processed in one business process (Callback Search), over ``search_row`` dicts.

    The browser sorts, filters and patches the rows (static/js/callback_search.js): they are rendered in the
    order given, newest entrance first, without paging. django-tables2 draws the headings; the rows are written
    by ``body_html`` (its template's tbody), since drawing 500 rows of 12 cells cell by cell through
    django-tables2 would take most of the page's time.
    """

    external_id = SearchColumn("external_id", "Callback")
    phone = SearchColumn("phone", "Phone")
    customer_name = SearchColumn("customer_name", "Customer")
    location = SearchColumn("location", "Interaction location")
    state = SearchColumn("state", "State")
    attempts = SearchColumn("attempts", "Attempts", numeric=True)
    desired_time = SearchColumn("desired_time", "Desired time")
    next_return = SearchColumn("next_return", "Next return to queue")
    owner_agent = SearchColumn("owner_agent", "Owner agent")
    current_agent = SearchColumn("current_agent", "Current agent")
    created = SearchColumn("created", "Entrance time")
    waiting = SearchColumn("waiting", "Time waiting", numeric=True)

    class Meta:
        template_name = "monitoring/search_table.html"
        attrs = {"class": "grid callbacks search", "id": "search-table"}
        empty_text = "No callback waits in this business process."

    def __init__(self, data: list[dict], *, now: datetime, **kwargs):
        super().__init__(data, **kwargs)
        self.rows_data, self.now = data, now

    def body_html(self) -> str:
        """The rows as HTML: each cell with what the script needs to find (``data-col``) and sort (``data-sort``)
        it; Time waiting as of ``now`` (the browser counts on from ``data-created``)."""
        if not self.rows_data:
            return format_html('<tr><td colspan="{}">{}</td></tr>', len(self.columns), self.empty_text)
        columns = [(column.column.key, column.column.numeric) for column in self.columns]
        return mark_safe("".join(self._row_html(row, columns) for row in self.rows_data))

    def _row_html(self, row: dict, columns: list[tuple[str, bool]]) -> str:
        cells = []
        for key, numeric in columns:
            if key == "waiting":
                content = format_wait(self.now - datetime.fromisoformat(row["created"]))
            elif key == "external_id":
                content = CALLBACK_CELL.format(escape(row["cells"][key]))
            else:
                content = escape(row["cells"][key])
            sort = _sort_value(row, key)
            sort_attr = f' data-sort="{sort}"' if sort is not None else ""
            cells.append(f'<td data-col="{key}"{sort_attr}{NUM if numeric else ""}>{content}</td>')
        return (
            f'<tr data-callback="{escape(row["id"])}" data-state="{escape(row["state"])}" '
            f'data-created="{escape(row["created"])}">{"".join(cells)}</tr>'
        )


# The callback ID with the keyboard-reachable row menu button (the script names the button after the row).
CALLBACK_CELL = (
    '<div class="callback-cell"><span data-text>{0}</span><button type="button" class="row-menu-button" '
    'aria-haspopup="menu" aria-expanded="false" aria-label="Actions for callback {0}" title="Actions">⋮</button></div>'
)
NUM = ' class="num"'


def _sort_value(record: dict, key: str):
    value = record["sort"].get(key)
    return repr(value) if isinstance(value, float) else value


class ExplainTable(tables.Table):
    """The callbacks a monitor number counts; on a percentage, the ones in its numerator are marked."""

    external_id = tables.Column("Callback")
    business_process = tables.Column(
        "Business process",
        accessor="business_process__code",
        linkify=("business-process", {"code": tables.A("business_process__code")}),
    )
    phone = tables.Column("Phone")
    customer_name = tables.Column("Customer", default="—")
    outcome = tables.Column("End state / location", empty_values=(), order_by=("end_state", "state"))
    completed_at = tables.Column("Completed at", empty_values=())
    attempts = tables.Column("Attempts", attrs={"td": {"class": "num"}})

    class Meta:
        model = Callback
        fields = ()
        sequence = ("external_id", "business_process", "phone", "customer_name", "outcome", "completed_at", "attempts")
        attrs = {"class": "grid callbacks"}
        row_attrs = {
            "data-callback": lambda record: record.external_id,
            "class": lambda record: "counted" if getattr(record, "counted", False) else "",
        }
        empty_text = "No callback is counted."

    def render_outcome(self, record: Callback) -> str:
        if record.end_state:
            return format_html(
                '<span class="badge end-{}">{}</span>',
                END_STATE_COLOURS[record.end_state],
                record.get_end_state_display(),
            )
        return f"{record.location} · {callback_state(record)}"

    def render_completed_at(self, record: Callback) -> str:
        # Each business process's own time zone, named by its abbreviation (CET, EST…): rows may mix zones.
        return local_time(record.completed_at, record.business_process.tz, LOCAL_TIME + " T")

    def render_attempts(self, record: Callback) -> str:
        return f"{record.attempts} of {record.business_process.attempts_before_failure}"
