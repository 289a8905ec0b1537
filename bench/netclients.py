"""Small asyncio clients for the benchmarks: HTTP/1.1 keep-alive POSTs and a WebSocket (RFC 6455) client.

Plain asyncio streams, no dependency: enough for talking to our own daphne on the loopback interface, not a
general-purpose library (no TLS, no proxies, no compression extensions, no redirects).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import os
import struct

WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class HttpError(Exception):
    pass


class HttpConnection:
    """One keep-alive HTTP/1.1 connection; ``post_json`` and ``get`` return (status, body bytes)."""

    def __init__(self, host: str, port: int, headers: dict[str, str]):
        self.host, self.port = host, port
        self.headers = "".join(f"{k}: {v}\r\n" for k, v in {"Host": f"{host}:{port}", **headers}.items())
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def _connect(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    async def post_json(self, path: str, body: bytes) -> tuple[int, bytes]:
        return await self.request("POST", path, body)

    async def get(self, path: str) -> tuple[int, bytes]:
        return await self.request("GET", path, None)

    async def request(self, method: str, path: str, body: bytes | None) -> tuple[int, bytes]:
        for retry in (True, False):
            if self.writer is None:
                await self._connect()
            try:
                return await self._send(method, path, body)
            except (ConnectionError, asyncio.IncompleteReadError):
                # The server closed an idle keep-alive connection: reconnect once and send again.
                self.close()
                if not retry:
                    raise
        raise AssertionError("unreachable")

    async def _send(self, method: str, path: str, body: bytes | None) -> tuple[int, bytes]:
        head = f"{method} {path} HTTP/1.1\r\n{self.headers}"
        if body is not None:
            head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        self.writer.write(head.encode() + b"\r\n" + (body or b""))
        await self.writer.drain()
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionResetError("connection closed")
        status = int(status_line.split()[1])
        length, chunked, close = None, False, False
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            name, value = name.strip().lower(), value.strip().lower()
            if name == "content-length":
                length = int(value)
            elif name == "transfer-encoding" and "chunked" in value:
                chunked = True
            elif name == "connection" and value == "close":
                close = True
        if chunked:
            parts = []
            while size := int((await self.reader.readline()).split(b";")[0], 16):
                parts.append(await self.reader.readexactly(size))
                await self.reader.readline()
            await self.reader.readline()
            payload = b"".join(parts)
        elif length is not None:
            payload = await self.reader.readexactly(length)
        else:
            payload, close = await self.reader.read(), True
        if close:
            self.close()
        return status, payload

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


class WebSocketClosed(Exception):
    pass


class WebSocket:
    """A client WebSocket: ``await WebSocket.connect(...)``, then ``recv()`` text messages, ``send(text)``.

    Answers pings by itself; a close frame from the server raises WebSocketClosed from ``recv``.
    """

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.reader, self.writer = reader, writer

    @classmethod
    async def connect(cls, host: str, port: int, path: str, headers: dict[str, str]) -> WebSocket:
        reader, writer = await asyncio.open_connection(host, port)
        key = base64.b64encode(os.urandom(16)).decode()
        lines = [
            f"GET {path} HTTP/1.1",
            f"Host: {host}:{port}",
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Key: {key}",
            "Sec-WebSocket-Version: 13",
            *(f"{k}: {v}" for k, v in headers.items()),
        ]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        await writer.drain()
        status_line = await reader.readline()
        response_headers = {}
        while (line := await reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            response_headers[name.strip().lower()] = value.strip()
        parts = status_line.split()
        if len(parts) < 2 or parts[1] != b"101":
            writer.close()
            raise WebSocketClosed(f"handshake refused: {status_line.decode(errors='replace').strip()}")
        expected = base64.b64encode(hashlib.sha1(key.encode() + WS_GUID).digest()).decode()
        if response_headers.get("sec-websocket-accept") != expected:
            writer.close()
            raise WebSocketClosed("bad Sec-WebSocket-Accept")
        return cls(reader, writer)

    async def recv(self) -> str:
        """The next text message (fragments joined); binary messages are returned decoded as well."""
        fragments: list[bytes] = []
        while True:
            first, second = await self.reader.readexactly(2)
            fin, opcode, length = first & 0x80, first & 0x0F, second & 0x7F
            if length == 126:
                (length,) = struct.unpack("!H", await self.reader.readexactly(2))
            elif length == 127:
                (length,) = struct.unpack("!Q", await self.reader.readexactly(8))
            mask = await self.reader.readexactly(4) if second & 0x80 else None
            payload = await self.reader.readexactly(length) if length else b""
            if mask:
                payload = _apply_mask(payload, mask)
            if opcode == 0x9:  # ping
                await self._send_frame(0xA, payload)
            elif opcode == 0xA:  # pong
                pass
            elif opcode == 0x8:  # close
                code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
                with contextlib.suppress(ConnectionError):
                    await self._send_frame(0x8, payload[:2])
                self.writer.close()
                raise WebSocketClosed(f"closed by server, code {code}")
            else:  # text, binary, continuation
                fragments.append(payload)
                if fin:
                    return b"".join(fragments).decode()

    async def send(self, text: str) -> None:
        await self._send_frame(0x1, text.encode())

    async def close(self) -> None:
        with contextlib.suppress(ConnectionError, RuntimeError):
            await self._send_frame(0x8, struct.pack("!H", 1000))
        self.writer.close()

    async def _send_frame(self, opcode: int, payload: bytes) -> None:
        length = len(payload)
        if length < 126:
            head = struct.pack("!BB", 0x80 | opcode, 0x80 | length)
        elif length < 65536:
            head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, length)
        else:
            head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, length)
        mask = os.urandom(4)  # a client must mask every frame it sends
        self.writer.write(head + mask + _apply_mask(payload, mask))
        await self.writer.drain()


def _apply_mask(payload: bytes, mask: bytes) -> bytes:
    if not payload:
        return payload
    repeated = (mask * (len(payload) // 4 + 1))[: len(payload)]
    return (int.from_bytes(payload, "big") ^ int.from_bytes(repeated, "big")).to_bytes(len(payload), "big")
