"""The reports' on-screen tables. Times are shown in the time zone the report's filters chose."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import django_tables2 as tables
from django.template.loader import render_to_string
from django.utils.html import format_html

from callbacks.choices import END_STATE_COLOURS
from callbacks.models import Callback

from .completed import Entry

REPORT_TIME = "%Y-%m-%d %H:%M:%S"


def report_time(value: datetime | None, tz: ZoneInfo) -> str:
    return value.astimezone(tz).strftime(REPORT_TIME) if value else "—"


class CompletedCallbackTable(tables.Table):
    """6.04 Completed Callback Interaction, one row per completed callback; its attempts unfold in the row."""

    # Each order ends on unique columns, so that pages neither repeat nor skip a callback.
    business_process = tables.Column(
        "Business process", accessor="business_process__name", order_by=("business_process__name", "completed_at", "pk")
    )
    external_id = tables.Column("Callback ID", orderable=False)
    phone = tables.Column("Phone", orderable=False)
    customer_name = tables.Column("Customer name", orderable=False, default="—")
    end_state = tables.Column("End state", order_by=("end_state", "completed_at", "pk"))
    created = tables.Column("Original entrance time", orderable=False)
    completed_at = tables.Column("Completion time", order_by=("completed_at", "pk"))
    last_attempt = tables.Column("Last attempt time", empty_values=(), orderable=False)
    attempts = tables.Column("Attempts", empty_values=(), orderable=False)

    class Meta:
        model = Callback
        fields = ()
        sequence = (
            "business_process",
            "external_id",
            "phone",
            "customer_name",
            "end_state",
            "created",
            "completed_at",
            "last_attempt",
            "attempts",
        )
        attrs = {"class": "grid report-table", "id": "report-table"}
        row_attrs = {"data-callback": lambda record: record.external_id}
        empty_text = "No completed callback matches these filters."
        order_by = ("-completed_at",)

    def __init__(self, *args, tz: ZoneInfo, **kwargs):
        super().__init__(*args, **kwargs)
        self.tz = tz
        self._entries: dict[object, Entry] = {}

    def entry(self, record: Callback) -> Entry:
        if record.pk not in self._entries:
            self._entries[record.pk] = Entry(record)
        return self._entries[record.pk]

    def render_end_state(self, record: Callback) -> str:
        return format_html(
            '<span class="badge end-{}">{}</span>', END_STATE_COLOURS[record.end_state], record.get_end_state_display()
        )

    def render_created(self, value: datetime) -> str:
        return report_time(value, self.tz)

    def render_completed_at(self, value: datetime) -> str:
        return report_time(value, self.tz)

    def render_last_attempt(self, record: Callback) -> str:
        return report_time(self.entry(record).last_attempt_time, self.tz)

    def render_attempts(self, record: Callback) -> str:
        """Total attempts, unfolding (a <details>) to each attempt's time, agent name and attempt state."""
        entry = self.entry(record)
        lines = [
            {"number": line.number, "time": report_time(line.time, self.tz), "agent": line.agent, "state": line.state}
            for line in entry.attempts
        ]
        return render_to_string(
            "monitoring/reports/attempts_cell.html", {"total": len(lines), "lines": lines, "callback": record}
        )
