"""The audit log table: every audited action across the product, newest first."""

from __future__ import annotations

import django_tables2 as tables
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from callbacks import timing
from callbacks.models import AuditEntry

from .forms import TimingSettingsForm


class AuditEntryTable(tables.Table):
    at = tables.DateTimeColumn("Y-m-d H:i:s", verbose_name="When", order_by=("at", "id"))
    actor = tables.Column("Who")
    action = tables.Column("Action")
    business_process = tables.Column(
        "Business process",
        accessor="business_process__code",
        order_by=("business_process__code",),
        default="—",
        linkify=lambda record: reverse("business-process", kwargs={"code": record.business_process.code}),
    )
    callback_ref = tables.Column("Callback", default="—")
    changes = tables.Column("Changes (before → after)", orderable=False, empty_values=())
    note = tables.Column("Note", orderable=False, default="")

    class Meta:
        model = AuditEntry
        fields = ("at", "actor", "action", "business_process", "callback_ref", "changes", "note")
        order_by = ("-at",)
        attrs = {"class": "grid monitor audit-table"}

    def render_changes(self, value: dict) -> str:
        if not value:
            return ""
        changes = [
            (field_label(field), describe_change(field, before), describe_change(field, after))
            for field, (before, after) in value.items()
        ]
        return format_html(
            '<ul class="audit-changes">{}</ul>', format_html_join("", "<li><strong>{}</strong>: {} → {}</li>", changes)
        )


def field_label(field: str) -> str:
    """A Callback Timing setting's label as its form shows it; other keys (callback fields, weekday names,
    dates of schedule exceptions) are shown as recorded."""
    if field in TimingSettingsForm.base_fields:
        return str(TimingSettingsForm.base_fields[field].label)
    return field


def describe_change(field: str, value) -> str:
    """A recorded before or after value as people read it (durations of the timing settings as typed)."""
    if value is None:
        return "—"
    if field == "recall_intervals":
        return ", ".join(timing.format_duration(seconds) for seconds in value)
    if field == "max_schedule_ahead":
        return timing.format_duration(value)
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    return str(value)
