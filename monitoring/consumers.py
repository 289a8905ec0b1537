"""The live WebSockets: the monitor's, and each business process's Callback Search list. Both send a snapshot on
connect, then the changed rows the workers push."""

import json

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from callbacks.models import BusinessProcess

from . import live, search_live

MAX_FRAME_CHARS = 4096


class LiveConsumer(AsyncWebsocketConsumer):
    """What the live WebSockets share: client frames are JSON objects {"type": "resync" | "ping"}; anything else
    is answered with {"type": "error", "error": …} and changes nothing. Pushed messages go straight out."""

    push_type: str  # the group message type the workers send, e.g. "monitor.message", with the JSON in "text"

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if bytes_data is not None:
            return await self._error("Binary frames are not understood; send JSON text.")
        if len(text_data) > MAX_FRAME_CHARS:
            return await self._error(f"Frame too large (over {MAX_FRAME_CHARS} characters).")
        try:
            frame = json.loads(text_data)
        except ValueError:
            return await self._error("Not JSON.")
        except RecursionError:  # "[[[[…]]]]" nested deeper than the parser goes: it would close the socket
            return await self._error("Frame nested too deeply.")
        kind = frame.get("type") if isinstance(frame, dict) else None
        if kind == "resync":
            await self.resync()
        elif kind == "ping":
            await self.ping()
        else:
            await self._error('Unknown frame; send {"type": "resync"} or {"type": "ping"}.')

    async def dispatch(self, message: dict) -> None:
        # Channels closes stale database connections before every handler, through the process's one thread
        # for sync code, which also serves every HTTP request. Pushes never touch the database: they go
        # straight to the browser instead of queueing there once per client per push.
        if message["type"] == self.push_type:
            await self.send(text_data=message["text"])  # encoded once by the worker, not once per browser
        else:
            await super().dispatch(message)

    async def resync(self) -> None:
        raise NotImplementedError

    async def ping(self) -> None:
        await self.send(text_data=json.dumps({"type": "pong"}))

    async def _error(self, message: str) -> None:
        await self.send(text_data=json.dumps({"type": "error", "error": message}))


class MonitorConsumer(LiveConsumer):
    """`/ws/monitor/`, for logged-in users who may watch the monitor; {"type": "resync"} → a fresh snapshot."""

    push_type = "monitor.message"

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated or not await _may_watch(user):
            await self.close(code=4403)
            return
        await self.channel_layer.group_add(live.GROUP, self.channel_name)
        await self.accept()
        await self._send_snapshot()

    async def disconnect(self, code: int) -> None:
        await self.channel_layer.group_discard(live.GROUP, self.channel_name)

    async def resync(self) -> None:
        # Joining again is cheap and mends a membership lost with a Redis restart.
        await self.channel_layer.group_add(live.GROUP, self.channel_name)
        await self._send_snapshot()

    async def _send_snapshot(self) -> None:
        await self.send(text_data=json.dumps(await database_sync_to_async(live.snapshot)()))


@database_sync_to_async
def _may_watch(user) -> bool:
    return user.has_perm("callbacks.view_monitor")


class CallbackSearchConsumer(LiveConsumer):
    """`/ws/business-processes/<code>/callbacks/`: one business process's callbacks to be processed (Callback
    Search), for logged-in users who may watch the monitor. Protocol in monitoring/search_live.py; client frames
    as for the monitor: {"type": "resync"}, {"type": "ping"} (which also keeps the list watched: the page sends
    one every 30 s); anything else gets an error frame.
    """

    push_type = "search.message"

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated or not await _may_watch(user):
            await self.close(code=4403)
            return
        self.business_process = await _active_business_process(self.scope["url_route"]["kwargs"]["code"])
        if self.business_process is None:
            await self.close(code=4404)
            return
        self.group = search_live.group_name(self.business_process.pk)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        await self._watch()
        await self._send_snapshot()

    async def disconnect(self, code: int) -> None:
        if getattr(self, "group", None):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def resync(self) -> None:
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self._watch()
        await self._send_snapshot()

    async def ping(self) -> None:
        lapsed = await self._watch()
        await super().ping()
        if lapsed:  # the list went unwatched for a while (pings lost): pushes may have been missed
            await self._send_snapshot()

    async def _watch(self) -> bool:
        return await database_sync_to_async(search_live.watch)(self.business_process.pk)

    async def _send_snapshot(self) -> None:
        message = await database_sync_to_async(search_live.snapshot)(self.business_process)
        await self.send(text_data=json.dumps(message))


@database_sync_to_async
def _active_business_process(code: str) -> BusinessProcess | None:
    if "\x00" in code:  # PostgreSQL text cannot hold NUL: no business process has such a code
        return None
    return BusinessProcess.objects.filter(code=code, is_active=True).first()
