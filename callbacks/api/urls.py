from csp.constants import UNSAFE_INLINE
from csp.decorators import csp_update
from django.contrib.auth.decorators import login_not_required
from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from . import actions
from .views import CallbackDetailView, EventsView

# The API authenticates with tokens (DRF), not with the site's login sessions; the schema and docs are public.
# The callback actions are for logged-in supervisors (session + CSRF), and DRF checks that itself: the site's
# login redirect must not get in the way of their 401 / 403.
urlpatterns = [
    path("events/", login_not_required(EventsView.as_view()), name="api-events"),
    path("callbacks/<str:external_id>/", login_not_required(CallbackDetailView.as_view()), name="api-callback-detail"),
    path(
        "callbacks/<str:external_id>/send-to-queue/",
        login_not_required(actions.SendToQueueView.as_view()),
        name="api-callback-send-to-queue",
    ),
    path(
        "callbacks/<str:external_id>/purge/", login_not_required(actions.PurgeView.as_view()), name="api-callback-purge"
    ),
    path(
        "callbacks/<str:external_id>/cancel/",
        login_not_required(actions.CancelView.as_view()),
        name="api-callback-cancel",
    ),
    path(
        "callbacks/<str:external_id>/reschedule/",
        login_not_required(actions.RescheduleView.as_view()),
        name="api-callback-reschedule",
    ),
    path(
        "callbacks/<str:external_id>/recreate/",
        login_not_required(actions.RecreateView.as_view()),
        name="api-callback-recreate",
    ),
    path("schema/", login_not_required(SpectacularAPIView.as_view()), name="api-schema"),
    # Swagger UI's start script from a URL of its own (the split view), not inline, for the Content Security Policy;
    # its page keeps one small <style> block, allowed on this page only.
    path(
        "docs/",
        login_not_required(
            csp_update({"style-src": [UNSAFE_INLINE]})(SpectacularSwaggerSplitView.as_view(url_name="api-schema"))
        ),
        name="api-docs",
    ),
]
