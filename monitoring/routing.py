from django.urls import path, re_path

from .consumers import CallbackSearchConsumer, MonitorConsumer

websocket_urlpatterns = [
    path("ws/monitor/", MonitorConsumer.as_asgi()),
    # Any code but one holding a NUL, which PostgreSQL text cannot hold: such a path matches nothing (closed).
    re_path(r"^ws/business-processes/(?P<code>[^/\x00]+)/callbacks/$", CallbackSearchConsumer.as_asgi()),
]
