"""Administrators' tables: business processes with their actions, and the ingest API's tokens."""

from __future__ import annotations

import django_tables2 as tables
from django.middleware.csrf import get_token
from django.urls import reverse
from django.utils.html import format_html

from callbacks.models import ApiToken, BusinessProcess


def _post_button(request, url: str, label: str, confirm: str, css: str = "") -> str:
    return format_html(
        '<form method="post" action="{}" class="inline-form" data-confirm="{}">'
        '<input type="hidden" name="csrfmiddlewaretoken" value="{}">'
        '<button type="submit" class="{}">{}</button></form>',
        url,
        confirm,
        get_token(request),
        css,
        label,
    )


class BusinessProcessAdminTable(tables.Table):
    code = tables.Column()
    name = tables.Column()
    time_zone = tables.Column("Time zone")
    callback_count = tables.Column("Callbacks", attrs={"td": {"class": "num"}})
    is_active = tables.Column("Status")
    actions = tables.Column("", empty_values=(), orderable=False)

    class Meta:
        model = BusinessProcess
        fields = ["code", "name", "time_zone", "callback_count", "is_active", "actions"]
        attrs = {"class": "grid admin-table"}
        row_attrs = {
            "data-bp": lambda record: record.code,
            "class": lambda record: "" if record.is_active else "inactive",
        }

    def render_code(self, record: BusinessProcess) -> str:
        if not record.is_active:  # its pages are gone with it
            return record.code
        return format_html(
            '<a href="{}">{}</a>', reverse("business-process-timing", kwargs={"code": record.code}), record.code
        )

    def render_is_active(self, value: bool) -> str:
        return format_html(
            '<span class="badge {}">{}</span>', "status-active" if value else "", "Active" if value else "Inactive"
        )

    def render_actions(self, record: BusinessProcess) -> str:
        request = self.request
        rename = format_html(
            '<a href="{}">Rename</a>', reverse("administration-rename-business-process", kwargs={"code": record.code})
        )
        if record.is_active:
            toggle = _post_button(
                request,
                reverse("administration-deactivate-business-process", kwargs={"code": record.code}),
                "Deactivate",
                f"Deactivate {record.code}? It disappears from the monitor; its history is kept.",
                "danger",
            )
        else:
            toggle = _post_button(
                request,
                reverse("administration-reactivate-business-process", kwargs={"code": record.code}),
                "Reactivate",
                f"Reactivate {record.code}? It comes back on the monitor.",
            )
        return format_html("{} {}", rename, toggle)


class ApiTokenTable(tables.Table):
    name = tables.Column()
    prefix = tables.Column("Key starts with", orderable=False)
    created = tables.DateTimeColumn(format="Y-m-d H:i")
    last_used_at = tables.DateTimeColumn(format="Y-m-d H:i", verbose_name="Last used", default="never")
    revoked_at = tables.DateTimeColumn(format="Y-m-d H:i", verbose_name="Revoked", default="—")
    actions = tables.Column("", empty_values=(), orderable=False)

    class Meta:
        model = ApiToken
        fields = ["name", "prefix", "created", "last_used_at", "revoked_at", "actions"]
        attrs = {"class": "grid admin-table"}
        row_attrs = {"data-token": lambda record: record.name}

    def render_prefix(self, value: str) -> str:
        return format_html("<code>{}…</code>", value)

    def render_actions(self, record: ApiToken) -> str:
        if not record.is_active:
            return ""
        return _post_button(
            self.request,
            reverse("administration-revoke-api-token", kwargs={"pk": record.pk}),
            "Revoke",
            f"Revoke {record.name}? Every request with it is refused from then on.",
            "danger",
        )
