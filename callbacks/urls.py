from django.urls import path

from . import views

urlpatterns = [
    path("", views.CallbacksView.as_view(), name="callbacks"),
    path("create/", views.CreateCallbackView.as_view(), name="callback-create"),
    path("slots/", views.SlotsView.as_view(), name="callback-slots"),
    path("preferences/", views.PreferencesView.as_view(), name="callback-preferences"),
    path("bulk-cancel/preview/", views.BulkCancelPreviewView.as_view(), name="callback-bulk-cancel-preview"),
    path("bulk-cancel/", views.BulkCancelView.as_view(), name="callback-bulk-cancel"),
    path(
        "cancellations/<uuid:pk>/summary.csv",
        views.CancellationSummaryView.as_view(),
        name="callback-cancellation-summary",
    ),
    path("<str:external_id>/details/", views.CallbackDetailsView.as_view(), name="callback-details"),
]
