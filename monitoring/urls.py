from django.urls import path

from .views import business_processes, explain, monitor

urlpatterns = [
    path("", monitor.MonitorView.as_view(), name="home"),
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
        "business-processes/<str:code>/search/",
        business_processes.BusinessProcessSearchView.as_view(),
        name="business-process-search",
    ),
    path("business-processes/<str:code>/explain/<str:column>/", explain.ExplainView.as_view(), name="explain-column"),
    path("explain/<str:column>/", explain.ExplainView.as_view(), name="explain-totals"),
]
