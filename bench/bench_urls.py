"""The benchmark's web processes: the product's URLs, plus the naive baseline's page."""

from django.urls import path
from naive_monitor import naive_monitor_page

from config.urls import handler500  # noqa: F401 — the product's error answers too
from config.urls import urlpatterns as product_urlpatterns

urlpatterns = [*product_urlpatterns, path("bench/naive-monitor/", naive_monitor_page)]
