from django.urls import path

from . import views

urlpatterns = [
    path("", views.MonitorView.as_view(), name="home"),
]
