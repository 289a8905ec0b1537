from django.urls import path

from .consumers import CallbackSearchConsumer, MonitorConsumer

websocket_urlpatterns = [
    path("ws/monitor/", MonitorConsumer.as_asgi()),
    path("ws/business-processes/<str:code>/callbacks/", CallbackSearchConsumer.as_asgi()),
]
