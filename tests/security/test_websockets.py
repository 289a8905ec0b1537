"""Every WebSocket route (read from monitoring/routing.py): only a logged-in user with the monitor permission, from
an allowed Origin, gets in. Anonymous, a token, a user without a role, a foreign / missing / look-alike Origin,
or a business process that does not exist: refused before any data is sent."""

import re

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.test import Client

from config.asgi import application
from monitoring.routing import websocket_urlpatterns

pytestmark = pytest.mark.django_db(transaction=True)

ALLOWED_ORIGIN = b"http://localhost"
# Values for the routes' parameters: an existing object, and one that does not exist.
PARAMETERS = {"code": ("SALES", "NO_SUCH_BP")}


def concrete_paths(existing: bool = True) -> list[str]:
    paths = []
    for pattern in websocket_urlpatterns:
        route = str(pattern.pattern)
        names = re.findall(r"<(?:\w+:)?(\w+)>", route)
        assert set(names) <= set(PARAMETERS), f"give tests/security/test_websockets.py values for {names} of {route}"
        paths.append("/" + re.sub(r"<(?:\w+:)?(\w+)>", lambda m: PARAMETERS[m.group(1)][0 if existing else 1], route))
    return paths


def session_cookie(user) -> bytes:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


def connects(path: str, headers: list[tuple[bytes, bytes]]) -> tuple[bool, object]:
    async def attempt():
        communicator = WebsocketCommunicator(application, path, headers=headers)
        connected, code = await communicator.connect(timeout=5)
        first = await communicator.receive_json_from(timeout=5) if connected else None
        await communicator.disconnect()
        return connected, first if connected else code

    return async_to_sync(attempt)()


@pytest.fixture
def sales(make_business_process):
    return make_business_process("SALES", name="Sales")


def test_every_websocket_route_is_in_this_matrix():
    assert len(concrete_paths()) == len(websocket_urlpatterns) >= 2
    assert "/ws/monitor/" in concrete_paths()


# Each test here empties the database afterwards (the consumer reads it from another thread): one test per route
# goes through all the callers, rather than one test per caller.
@pytest.mark.parametrize("path", concrete_paths())
def test_a_user_with_the_monitor_permission_from_an_allowed_origin_gets_a_snapshot(path, sales, make_user):
    for role in ["managers", "supervisors", "administrators"]:
        headers = [(b"cookie", session_cookie(make_user(role))), (b"origin", ALLOWED_ORIGIN)]
        connected, first = connects(path, headers)
        assert connected and first["type"] == "snapshot", role


@pytest.mark.parametrize("path", concrete_paths())
def test_the_socket_refuses(path, sales, make_user, api):
    supervisor = session_cookie(make_user("supervisors"))
    refused = {
        "anonymous": [(b"origin", ALLOWED_ORIGIN)],
        "token": [(b"origin", ALLOWED_ORIGIN), (b"authorization", api._credentials["HTTP_AUTHORIZATION"].encode())],
        "no role": [(b"cookie", session_cookie(make_user(None))), (b"origin", ALLOWED_ORIGIN)],
        "foreign origin": [(b"cookie", supervisor), (b"origin", b"http://evil.example.com")],
        "look-alike origin": [(b"cookie", supervisor), (b"origin", b"http://localhost.evil.example.com")],
        "origin without a scheme": [(b"cookie", supervisor), (b"origin", b"localhost")],
        "https origin of another host": [(b"cookie", supervisor), (b"origin", b"https://attacker.test")],
        "null origin": [(b"cookie", supervisor), (b"origin", b"null")],
        "no origin": [(b"cookie", supervisor)],
        "forged session": [(b"cookie", b"sessionid=forged0123456789abcdefghijklmnop"), (b"origin", ALLOWED_ORIGIN)],
    }
    for who, headers in refused.items():
        connected, _ = connects(path, headers)
        assert not connected, who
    assert connects(path, [(b"cookie", supervisor), (b"origin", ALLOWED_ORIGIN)])[0], "the same, allowed, gets in"


@pytest.mark.parametrize("path", concrete_paths(existing=False))
def test_a_business_process_that_does_not_exist_is_refused(path, sales, make_user):
    headers = [(b"cookie", session_cookie(make_user("administrators"))), (b"origin", ALLOWED_ORIGIN)]
    if path == "/ws/monitor/":
        pytest.skip("the monitor socket names no object")
    connected, _ = connects(path, headers)
    assert not connected


def test_an_inactive_business_process_is_refused(make_business_process, make_user):
    make_business_process("SALES", is_active=False)
    headers = [(b"cookie", session_cookie(make_user("administrators"))), (b"origin", ALLOWED_ORIGIN)]
    for path in concrete_paths():
        if path != "/ws/monitor/":
            assert not connects(path, headers)[0], path
