from django.contrib.auth.decorators import login_not_required
from django.urls import path

from .views import (
    BusinessProcessDetailView,
    BusinessProcessListView,
    BusinessProcessResumeView,
    BusinessProcessStopView,
)

# DRF authenticates these views itself (session or token); the site's login redirect must not get in the way.
urlpatterns = [
    path("business-processes/", login_not_required(BusinessProcessListView.as_view()), name="api-business-processes"),
    path(
        "business-processes/<str:code>/",
        login_not_required(BusinessProcessDetailView.as_view()),
        name="api-business-process",
    ),
    path(
        "business-processes/<str:code>/stop/",
        login_not_required(BusinessProcessStopView.as_view()),
        name="api-business-process-stop",
    ),
    path(
        "business-processes/<str:code>/resume/",
        login_not_required(BusinessProcessResumeView.as_view()),
        name="api-business-process-resume",
    ),
]
