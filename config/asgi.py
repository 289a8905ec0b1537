"""ASGI entry point: Django for HTTP, Channels for WebSocket (authenticated, origin-checked)."""

import gc
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
# Django must be set up before anything imports models (the WebSocket routing does).
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.urls import get_resolver  # noqa: E402

from monitoring.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)


def _freeze_what_lives_as_long_as_the_process() -> None:
    """Keep the garbage collector's full passes off what was built at start (modules, models, URL patterns, the
    views, about 150,000 objects), which lives as long as the process anyway.

    Under load (bench/monitor_load.py) a web process ran a full pass every few seconds, each walking all of it:
    75–130 ms of CPU, during which every request and WebSocket of the process waits. Frozen, a full pass walks only
    what came after: 4–16 ms.
    """
    get_resolver().url_patterns  # noqa: B018 — imports the views now, not at the first request
    gc.collect()
    gc.freeze()


_freeze_what_lives_as_long_as_the_process()
