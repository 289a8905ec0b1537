from django.urls import path

from .views import administration, business_processes, explain, monitor, reports, whatif

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
        business_processes.BusinessProcessTimingView.as_view(),
        name="business-process-timing",
    ),
    path(
        "business-processes/<str:code>/timing/what-if/",
        whatif.WhatIfView.as_view(),
        name="business-process-what-if",
    ),
    path(
        "business-processes/<str:code>/search/",
        business_processes.BusinessProcessSearchView.as_view(),
        name="business-process-search",
    ),
    path("business-processes/<str:code>/explain/<str:column>/", explain.ExplainView.as_view(), name="explain-column"),
    path("explain/<str:column>/", explain.ExplainView.as_view(), name="explain-totals"),
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
