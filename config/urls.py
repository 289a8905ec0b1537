from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from monitoring.health import healthz

handler500 = "config.errors.server_error"  # 503 when the database is busy or out of reach

urlpatterns = [
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("callbacks.api.urls")),
    path("api/v1/", include("monitoring.api.urls")),
    path("callbacks/", include("callbacks.urls")),
    path("", include("monitoring.urls")),
]
