"""The audit log table: every audited action across the product, newest first."""

from __future__ import annotations

import django_tables2 as tables
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from callbacks.models import AuditEntry


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
        return format_html(
            '<ul class="audit-changes">{}</ul>',
            format_html_join("", "<li><strong>{}</strong>: {} → {}</li>", audit_changes(value)),
        )


def audit_changes(changes: dict) -> list[tuple[str, str, str]]:
    return [(field, _text(before), _text(after)) for field, (before, after) in changes.items()]


def _text(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    return str(value)
