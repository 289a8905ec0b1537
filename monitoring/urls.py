from django.urls import path

from .views import monitor

urlpatterns = [
    path("", monitor.MonitorView.as_view(), name="home"),
]
