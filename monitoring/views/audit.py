"""The audit log: every audited action across the product (administrators and managers), filtered, sorted,
paginated, and downloadable as CSV with the same filters."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator

from django.contrib.auth.mixins import PermissionRequiredMixin
from django.http import StreamingHttpResponse
from django.utils import timezone
from django_filters.views import FilterView
from django_tables2 import SingleTableMixin
from django_tables2.paginators import LazyPaginator

from callbacks.choices import AuditAction
from callbacks.models import AuditEntry

from ..filtersets import AuditEntryFilterSet
from ..tables_audit import AuditEntryTable

CSV_CHUNK = 2000
CSV_COLUMNS = ["at", "actor", "action", "business_process", "callback_ref", "changes", "note"]


class AuditLogView(PermissionRequiredMixin, SingleTableMixin, FilterView):
    permission_required = "callbacks.view_auditentry"
    template_name = "monitoring/audit_log.html"
    queryset = AuditEntry.objects.select_related("business_process")
    filterset_class = AuditEntryFilterSet
    table_class = AuditEntryTable
    # The log grows with every event: no COUNT over it, only the rows of the page (and one more to know if
    # there is a next page).
    table_pagination = {"per_page": 50, "paginator_class": LazyPaginator}

    def get(self, request, *args, **kwargs):
        if request.GET.get("export") == "csv":
            filterset = self.get_filterset(self.get_filterset_class())
            entries = filterset.qs if filterset.is_valid() else AuditEntry.objects.none()
            return self.csv_response(entries)
        return super().get(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        query = self.request.GET.copy()
        query.pop("page", None)
        query.pop("sort", None)
        query["export"] = "csv"
        return super().get_context_data(csv_query=query.urlencode(), **kwargs)

    @staticmethod
    def csv_response(entries) -> StreamingHttpResponse:
        rows = entries.order_by("-at", "-id").values_list(
            "at", "actor", "action", "business_process__code", "callback_ref", "changes", "note"
        )
        stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
        response = StreamingHttpResponse(_csv_lines(rows), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="audit-log-{stamp}.csv"'
        return response


def _csv_lines(rows) -> Iterator[str]:
    """The CSV text, one piece per chunk of rows read: constant memory, and few pieces for the server to send."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    labels = dict(AuditAction.choices)
    writer.writerow(CSV_COLUMNS)
    for number, (at, actor, action, code, callback_ref, changes, note) in enumerate(
        rows.iterator(chunk_size=CSV_CHUNK), 1
    ):
        writer.writerow(
            [
                at.isoformat(),
                actor,
                labels.get(action, action),
                code or "",
                callback_ref,
                json.dumps(changes, ensure_ascii=False, sort_keys=True) if changes else "",
                note,
            ]
        )
        if number % CSV_CHUNK == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()
