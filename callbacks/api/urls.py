from django.contrib.auth.decorators import login_not_required
from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from .views import CallbackDetailView, EventsView

# The API authenticates with tokens (DRF), not with the site's login sessions; the schema and docs are public.
urlpatterns = [
    path("events/", login_not_required(EventsView.as_view()), name="api-events"),
    path("callbacks/<str:external_id>/", login_not_required(CallbackDetailView.as_view()), name="api-callback-detail"),
    path("schema/", login_not_required(SpectacularAPIView.as_view()), name="api-schema"),
    path("docs/", login_not_required(SpectacularSwaggerView.as_view(url_name="api-schema")), name="api-docs"),
]
