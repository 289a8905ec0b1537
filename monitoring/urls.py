from django.urls import path

from .views import audit, business_processes, explain, monitor, timing

urlpatterns = [
    path("", monitor.MonitorView.as_view(), name="home"),
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
    path("audit/", audit.AuditLogView.as_view(), name="audit-log"),
]
