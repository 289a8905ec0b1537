"""Hostile WebSocket clients against the real ASGI application and the real Redis channel layer: anything a client
sends is answered with an error frame (or ignored) and never crashes the socket, a flood does not hold up the other
clients' pushes, and the consumer keeps nothing of what it refused."""

import gc
import json
import tracemalloc

import pytest
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from config.asgi import application
from monitoring import live
from tests.monitoring.test_live import clean_redis, reply, run, session_headers  # noqa: F401 (fixture)

MB = 1 << 20
HOSTILE_FRAMES = [
    ("", "Not JSON."),
    ("\x00", "Not JSON."),
    ("{", "Not JSON."),
    ("null", "Unknown frame"),
    ("1e999999", "Unknown frame"),
    ('"resync"', "Unknown frame"),
    ("[]", "Unknown frame"),
    ("{}", "Unknown frame"),
    ('{"type": "ping\\u0000"}', "Unknown frame"),
    ('{"type": {"type": "resync"}}', "Unknown frame"),
    ('{"type": ["ping"]}', "Unknown frame"),
    # A client posing as a worker's push must not be sent on to anyone.
    ('{"type": "monitor.message", "text": "{\\"type\\": \\"snapshot\\"}"}', "Unknown frame"),
    ('{"type": "websocket.disconnect"}', "Unknown frame"),
    ("[" * 2000 + "]" * 2000, "nested too deeply"),  # deep enough to exhaust the JSON parser's recursion limit
    ('{"a":' * 600 + "1" + "}" * 600, "Unknown frame"),
    ("x" * MB, "too large"),
    ('{"type": "ping", "pad": "' + "x" * (5 * MB) + '"}', "too large"),
]


async def connect(headers, path: str = "/ws/monitor/") -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(application, path, headers=headers)
    connected, _ = await communicator.connect()
    assert connected
    assert (await reply(communicator))["type"] == "snapshot"
    return communicator


async def send_frame(communicator: WebsocketCommunicator, kind: str, data) -> None:
    """Any frame, the empty ones too (which WebsocketCommunicator.send_to refuses to send)."""
    await communicator.send_input({"type": "websocket.receive", kind: data})


async def still_answers(communicator: WebsocketCommunicator) -> None:
    await communicator.send_json_to({"type": "ping"})
    assert await reply(communicator) == {"type": "pong"}


@pytest.fixture
def supervisor_headers(transactional_db, make_business_process, make_user):
    make_business_process("SALES", name="Sales")
    return session_headers(make_user("supervisors"))


@pytest.mark.parametrize("path", ["/ws/monitor/", "/ws/business-processes/SALES/callbacks/"])
def test_every_hostile_frame_gets_an_error_and_the_socket_goes_on(supervisor_headers, path):
    async def scenario():
        communicator = await connect(supervisor_headers, path)
        for frame, expected in HOSTILE_FRAMES:
            await send_frame(communicator, "text", frame)
            answer = await reply(communicator)
            assert answer["type"] == "error" and expected in answer["error"], (frame[:60], answer)
        for frame in (b"", b"\x00" * 10, b"\xff" * MB):
            await send_frame(communicator, "bytes", frame)
            assert (await reply(communicator))["type"] == "error"
        await still_answers(communicator)
        await communicator.disconnect()

    run(scenario)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5),
    max_leaves=30,
)
client_frames = st.one_of(
    st.text(max_size=5000).map(lambda text: ("text", text)),
    json_values.map(lambda value: ("text", json.dumps(value))),
    st.fixed_dictionaries({"type": st.text(max_size=20) | json_values}).map(lambda f: ("text", json.dumps(f))),
    st.binary(max_size=100).map(lambda data: ("bytes", data)),
)


@settings(derandomize=True, max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(frames=st.lists(client_frames, min_size=1, max_size=20))
def test_random_frames_are_answered_one_for_one(supervisor_headers, frames):
    async def scenario():
        communicator = await connect(supervisor_headers)
        for kind, frame in frames:
            await send_frame(communicator, kind, frame)
            answer = await reply(communicator)
            assert answer["type"] in ("error", "pong", "snapshot"), answer
        await still_answers(communicator)
        await communicator.disconnect()

    run(scenario)


async def next_flood_push(watcher: WebsocketCommunicator) -> dict:
    """The next push this test sent, skipping the workers' own (rows of the business process made for the test)."""
    while True:
        message = await watcher.receive_json_from(timeout=10)
        if message.get("computed_at") == "flood":
            return message


def test_a_flood_neither_holds_up_other_clients_nor_piles_up_memory(supervisor_headers):
    """One client sends thousands of frames, huge ones among them, without reading; another still gets each push
    at once, and once the flood is answered the process holds no more memory than before it."""

    async def scenario():
        watcher = await connect(supervisor_headers)
        flooder = await connect(supervisor_headers)
        layer = get_channel_layer()
        push = {"type": "heartbeat", "seq": 0, "computed_at": "flood"}

        gc.collect()
        tracemalloc.start()
        before, _ = tracemalloc.get_traced_memory()
        frames = 0
        for round_ in range(10):
            for _ in range(300):
                await flooder.send_to(text_data="not json")
            for _ in range(5):
                await flooder.send_to(text_data="x" * MB)
            frames += 305
            # The watcher gets a push sent now, while the flooder's frames wait to be answered.
            await layer.group_send(live.GROUP, {"type": "monitor.message", "text": json.dumps(push | {"seq": round_})})
            assert await next_flood_push(watcher) == push | {"seq": round_}
        errors = 0
        while errors < frames:
            message = await flooder.receive_json_from(timeout=30)
            errors += message["type"] == "error"
        await still_answers(flooder)
        gc.collect()
        after, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        await flooder.disconnect()
        await watcher.disconnect()
        return frames, errors, after - before, peak - before

    frames, errors, growth, peak = run(scenario)
    assert errors == frames == 3050
    # 50 MB went through; the consumer keeps none of it (the test's own bookkeeping is well under a megabyte).
    assert growth < 2 * MB, f"memory grew by {growth / MB:.1f} MB"
    print(f"flood: {frames} frames, growth {growth / 1024:.0f} KiB, peak {peak / MB:.1f} MB")


@pytest.mark.parametrize("code", ["NOPE", "a\x00b", "%", "'; --", "x" * 10_000, "📞"])
def test_a_hostile_business_process_code_in_the_socket_path_is_closed_as_not_found(supervisor_headers, code):
    async def scenario():
        communicator = WebsocketCommunicator(
            application, f"/ws/business-processes/{code}/callbacks/", headers=supervisor_headers
        )
        assert await communicator.connect() == (False, 4404)

    run(scenario)
