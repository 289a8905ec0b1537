"""Tables of the business process pages: the callbacks to be processed (Callback Search) and the callbacks
behind a monitor number (explain pages). Times are shown in each business process's own time zone."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import django_tables2 as tables
from django.utils import dateformat
from django.utils.html import format_html

from callbacks.choices import END_STATE_COLOURS, AgentPhase, CallbackState, Location
from callbacks.models import BusinessProcess, Callback

LOCAL_TIME = "j M H:i"


def local_time(value: datetime | None, tz: ZoneInfo, fmt: str = LOCAL_TIME) -> str:
    return dateformat.format(value.astimezone(tz), fmt) if value else "—"


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
            "desired_time": local_time(desired, tz) if desired else "As soon as possible",
            "next_return": local_time(next_return, tz),
            "owner_agent": str(callback.owner_agent) if callback.owner_agent else "—",
            "current_agent": str(callback.current_agent) if callback.current_agent else "—",
            "created": local_time(created, tz),
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
    """A column of the Callback Search tab: the text of ``search_row``'s cell, with what the script needs to find
    (``data-col``) and sort (``data-sort``) it."""

    def __init__(self, key: str, verbose_name: str, *, numeric: bool = False, **kwargs):
        aligned = {"class": "num"} if numeric else {}
        super().__init__(
            verbose_name=verbose_name,
            accessor=tables.A(f"cells.{key}"),
            empty_values=(),
            orderable=False,
            attrs={
                "th": {"data-col": key, **aligned},
                "td": {"data-col": key, "data-sort": lambda record: _sort_value(record, key), **aligned},
            },
            **kwargs,
        )


def _sort_value(record: dict, key: str):
    value = record["sort"].get(key)
    return repr(value) if isinstance(value, float) else value


class CallbackColumn(SearchColumn):
    """The callback ID, with the keyboard-reachable row menu button."""

    def render(self, value: str) -> str:
        return format_html(
            '<div class="callback-cell"><span data-text>{}</span><button type="button" class="row-menu-button" '
            'aria-haspopup="menu" aria-expanded="false" aria-label="Actions for callback {}" title="Actions">⋮'
            "</button></div>",
            value,
            value,
        )


class WaitingColumn(SearchColumn):
    """Time waiting since the entrance time; the browser counts it on from the row's data-created."""

    def __init__(self):
        super().__init__("waiting", "Time waiting", numeric=True, accessor=tables.A("created"))

    def render(self, value: str, table: ToBeProcessedTable) -> str:
        return format_wait(table.now - datetime.fromisoformat(value))


class ToBeProcessedTable(tables.Table):
    """The callbacks still to be processed in one business process (Callback Search), over ``search_row`` dicts.

    The browser sorts, filters and patches the rows (static/js/callback_search.js): they are rendered in the
    order given, newest entrance first, without paging.
    """

    external_id = CallbackColumn("external_id", "Callback")
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
    waiting = WaitingColumn()

    class Meta:
        attrs = {"class": "grid callbacks search", "id": "search-table"}
        row_attrs = {
            "data-callback": lambda record: record["id"],
            "data-state": lambda record: record["state"],
            "data-created": lambda record: record["created"],
        }
        empty_text = "No callback waits in this business process."

    def __init__(self, *args, now: datetime, **kwargs):
        super().__init__(*args, **kwargs)
        self.now = now


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
