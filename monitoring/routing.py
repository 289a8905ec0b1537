"""WebSocket routes. The live monitor's consumer joins here."""

websocket_urlpatterns: list = []
