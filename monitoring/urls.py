from django.urls import path

from .views import (
    administration,
    agent_report,
    audit,
    business_processes,
    explain,
    monitor,
    report_index,
    reports,
    summary_report,
    timing,
    whatif,
)

urlpatterns = [
    path("", monitor.MonitorView.as_view(), name="home"),
    path(
        "administration/business-processes/",
        administration.BusinessProcessesView.as_view(),
        name="administration-business-processes",
    ),
    path(
        "administration/business-processes/<str:code>/rename/",
        administration.RenameBusinessProcessView.as_view(),
        name="administration-rename-business-process",
    ),
    path(
        "administration/business-processes/<str:code>/deactivate/",
        administration.SetActiveView.as_view(active=False),
        name="administration-deactivate-business-process",
    ),
    path(
        "administration/business-processes/<str:code>/reactivate/",
        administration.SetActiveView.as_view(active=True),
        name="administration-reactivate-business-process",
    ),
    path("administration/api-tokens/", administration.ApiTokensView.as_view(), name="administration-api-tokens"),
    path(
        "administration/api-tokens/<int:pk>/revoke/",
        administration.RevokeTokenView.as_view(),
        name="administration-revoke-api-token",
    ),
    path(
        "business-processes/<str:code>/",
        business_processes.BusinessProcessPerformanceView.as_view(),
        name="business-process",
    ),
    path(
        "business-processes/<str:code>/timing/",
        timing.BusinessProcessTimingView.as_view(),
        name="business-process-timing",
    ),
    path(
        "business-processes/<str:code>/timing/what-if/",
        whatif.WhatIfView.as_view(),
        name="business-process-what-if",
    ),
    path(
        "business-processes/<str:code>/timing/settings/",
        timing.TimingSettingsView.as_view(),
        name="business-process-timing-settings",
    ),
    path(
        "business-processes/<str:code>/timing/schedule/",
        timing.TimingScheduleView.as_view(),
        name="business-process-timing-schedule",
    ),
    path(
        "business-processes/<str:code>/search/",
        business_processes.BusinessProcessSearchView.as_view(),
        name="business-process-search",
    ),
    path("business-processes/<str:code>/explain/<str:column>/", explain.ExplainView.as_view(), name="explain-column"),
    path("explain/<str:column>/", explain.ExplainView.as_view(), name="explain-totals"),
    path("reports/", report_index.ReportIndexView.as_view(), name="reports"),
    path("reports/agents/", agent_report.AgentReportView.as_view(), name="report-agents"),
    path("reports/summary/", summary_report.SummaryReportView.as_view(), name="report-summary"),
    path("audit/", audit.AuditLogView.as_view(), name="audit-log"),
    path(
        "reports/completed-callbacks/",
        reports.CompletedCallbacksReportView.as_view(),
        name="report-completed-callbacks",
    ),
    path(
        "reports/completed-callbacks/download/",
        reports.CompletedCallbacksDownloadView.as_view(),
        name="report-completed-callbacks-download",
    ),
    path("reports/exports/<uuid:pk>/", reports.ReportExportView.as_view(), name="report-export"),
    path("reports/exports/<uuid:pk>/status/", reports.ReportExportStatusView.as_view(), name="report-export-status"),
    path("reports/exports/<uuid:pk>/file/", reports.ReportExportFileView.as_view(), name="report-export-file"),
]
