"""Reports for managers and administrators (``callbacks.view_reports``): 6.04 Completed Callback Interaction,
its downloads, and the download jobs too large to stream (progress, then the file, for their owner only)."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.mixins import PermissionRequiredMixin
from django.db import transaction
from django.http import Http404, HttpResponseBadRequest, JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.http import urlencode
from django.views import View
from django.views.generic import DetailView
from django_filters.views import FilterView
from django_tables2 import LazyPaginator, SingleTableMixin

from ..models import ReportExport
from ..reports import completed, exports
from ..reports.filtersets import CompletedCallbackFilterSet
from ..reports.tables import CompletedCallbackTable
from ..tasks import export_report


class ReportPermissionMixin(PermissionRequiredMixin):
    # A signed-in user without the permission (a supervisor) is told 403, not sent to the login page.
    permission_required = "callbacks.view_reports"
    raise_exception = True


class CompletedCallbacksReportView(ReportPermissionMixin, SingleTableMixin, FilterView):
    """6.04 Completed Callback Interaction: filters, a paged table whose rows unfold to their attempts, and
    the CSV / XLSX downloads of the same selection."""

    template_name = "monitoring/reports/completed_callbacks.html"
    queryset = completed.with_attempts(completed.completed_callbacks())
    filterset_class = CompletedCallbackFilterSet
    table_class = CompletedCallbackTable
    # Counting a month of a busy contact center (a million completed callbacks) takes PostgreSQL a second,
    # where a page of 100 takes a millisecond: pages are not counted, and the total stops at COUNT_LIMIT.
    table_pagination = {"per_page": 100, "paginator_class": LazyPaginator}
    COUNT_LIMIT = 10_000

    def get_table_kwargs(self):
        return {"tz": self.filterset.time_zone}

    def get_context_data(self, **kwargs):
        count = self.object_list.order_by()[: self.COUNT_LIMIT + 1].count()
        return super().get_context_data(
            title=completed.TITLE,
            count=min(count, self.COUNT_LIMIT),
            count_is_limited=count > self.COUNT_LIMIT,
            download_parameters=self.filterset.parameters(),
            direct_download_max=settings.REPORT_DIRECT_DOWNLOAD_MAX,
            formats=ReportExport.Format.choices,
            **kwargs,
        )


class CompletedCallbacksDownloadView(ReportPermissionMixin, View):
    """POST the report's filters and a format: the file at once when it is small, else a job and its page."""

    def post(self, request):
        fmt = request.POST.get("format")
        if fmt not in ReportExport.Format.values:
            return HttpResponseBadRequest("Choose CSV or XLSX.")
        parameters = {name: request.POST.getlist(name) for name in CompletedCallbackFilterSet.PARAMETERS}
        parameters = {name: values for name, values in parameters.items() if values}
        filterset = exports.filterset_of(parameters)
        report_url = f"{reverse('report-completed-callbacks')}?{urlencode(parameters, doseq=True)}"
        if not filterset.is_valid():
            messages.error(request, "The filters are not valid; correct them before downloading.")
            return redirect(report_url)
        callbacks = filterset.qs
        total = callbacks.count()
        if total <= settings.REPORT_DIRECT_DOWNLOAD_MAX:
            return exports.direct_download(request, callbacks, filterset.time_zone, fmt)
        export = ReportExport.objects.create(
            user=request.user, report=completed.REPORT, format=fmt, parameters=parameters, total=total
        )
        transaction.on_commit(lambda: export_report.delay(str(export.pk)))
        return redirect("report-export", pk=export.pk)


class OwnExportMixin(ReportPermissionMixin):
    """A download job, seen only by the user who started it: anyone else is told it does not exist."""

    def get_export(self) -> ReportExport:
        return get_object_or_404(ReportExport, pk=self.kwargs["pk"], user=self.request.user)


def export_status(export: ReportExport) -> dict:
    return {
        "state": export.state,
        "label": export.get_state_display(),
        "done": export.done,
        "total": export.total,
        "percent": export.percent,
        "error": export.error,
        "url": reverse("report-export-file", kwargs={"pk": export.pk}) if export.state == export.State.DONE else "",
    }


class ReportExportView(OwnExportMixin, DetailView):
    """The page of a download job: its progress bar (static/js/reports.js polls the status), then its link."""

    template_name = "monitoring/reports/export.html"
    context_object_name = "export"

    def get_object(self, queryset=None):
        return self.get_export()

    def get_context_data(self, **kwargs):
        return super().get_context_data(status=export_status(self.object), **kwargs)


class ReportExportStatusView(OwnExportMixin, View):
    def get(self, request, pk):
        return JsonResponse(export_status(self.get_export()))


class ReportExportFileView(OwnExportMixin, View):
    def get(self, request, pk):
        export = self.get_export()
        if export.state != ReportExport.State.DONE or not export.path.is_file():
            raise Http404("This download is not ready, or it has expired.")
        return exports.file_response(request, export.path, export.file_name)
