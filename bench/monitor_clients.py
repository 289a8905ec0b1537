"""The monitor benchmark's WebSocket clients: many /ws/monitor/ connections in one asyncio process.

Runs in a child process of bench/monitor_load.py (multiprocessing, spawn) so that parsing what 200 clients
receive does not slow down the process that posts events and timestamps them. No Django in here.

Each client keeps, per business process, the history of two numbers read from the rows it receives:
    A = Clbk To Be Proc + Proc   grows by one with each callback.requested event
    B = Proc                     grows by one with each attempt.completed that ends a callback
                                 (Handled → Reached, Wrong Destination)
Neither moves for offers, accepts, connections or wrap-ups, so after the drive the k-th successful event of
a business process (in the order it was sent) was visible to a client from the first message that made the
number k above the value the client had before the drive began. Its latency is that receive time minus the
time the POST was sent.
"""

from __future__ import annotations

import asyncio
import gc
import json
import statistics
import time
from collections import Counter, defaultdict
from datetime import datetime

from netclients import WebSocket, WebSocketClosed

CONNECT_CONCURRENCY = 20


class Client:
    def __init__(self, number: int, host: str, port: int, headers: dict[str, str]):
        self.number, self.host, self.port, self.headers = number, host, port, headers
        self.ws: WebSocket | None = None
        self.seq = None
        self.messages: Counter = Counter()
        self.bytes = 0
        self.snapshot_bytes = 0
        self.first_snapshot = asyncio.Event()
        self.gaps = self.reconnects = self.errors = 0
        self.last: dict[str, tuple[int, int]] = {}
        self.history: dict[str, list[tuple[float, int, int]]] = defaultdict(list)
        self.push_delays: list[float] = []  # receive time − computed_at of each "rows" message
        self.computed_at = 0.0
        self.out_of_order = 0  # "rows" messages computed before the message received just before them

    async def run(self, stopping: asyncio.Event, connect_gate: asyncio.Semaphore) -> None:
        while not stopping.is_set():
            try:
                async with connect_gate:
                    self.ws = await WebSocket.connect(self.host, self.port, "/ws/monitor/", self.headers)
                while not stopping.is_set():
                    text = await self.ws.recv()
                    await self.handle(text, time.time())
            except (WebSocketClosed, ConnectionError, asyncio.IncompleteReadError, OSError) as error:
                if stopping.is_set():
                    return
                self.errors += 1
                if not self.first_snapshot.is_set() and "handshake refused" in str(error):
                    raise
                self.reconnects += 1
                await asyncio.sleep(0.5)

    async def handle(self, text: str, received: float) -> None:
        message = json.loads(text)
        kind = message.get("type")
        self.messages[kind] += 1
        self.bytes += len(text)
        if kind == "snapshot":
            if not self.snapshot_bytes:
                self.snapshot_bytes = len(text)
            self.seq = message["seq"]
            self.observe(message["rows"], received)
            self.first_snapshot.set()
        elif kind == "rows":
            if self.seq is not None and message["seq"] != self.seq + 1:
                await self.resync()
            self.seq = message["seq"]
            self.observe(message["rows"], received)
            computed_at = datetime.fromisoformat(message["computed_at"]).timestamp()
            self.push_delays.append(received - computed_at)
            self.out_of_order += computed_at < self.computed_at
            self.computed_at = computed_at
        elif kind == "heartbeat":
            if self.seq is not None and message["seq"] != self.seq:
                await self.resync()
                self.seq = message["seq"]

    async def resync(self) -> None:
        """A gap in the sequence: ask for a full snapshot, as the monitor page does."""
        self.gaps += 1
        await self.ws.send(json.dumps({"type": "resync"}))

    def observe(self, rows: list[dict], received: float) -> None:
        for row in rows:
            cells = row["cells"]
            try:
                proc, to_be_processed = int(cells["proc"]), int(cells["to_be_processed"])
            except (KeyError, ValueError):
                continue
            numbers = (to_be_processed + proc, proc)
            if self.last.get(row["code"]) != numbers:
                self.last[row["code"]] = numbers
                self.history[row["code"]].append((received, *numbers))


def run_swarm(pipe, targets: list[tuple[str, int]], clients: int, headers: dict[str, str]) -> None:
    """Entry point of the child process: connect, report, wait for the event log, report latencies."""
    # What the clients keep grows to hundreds of thousands of small tuples, which no reference cycle holds: the
    # garbage collector's full passes over them (up to 200 ms each, measured) would stop every client's clock and
    # count as the server's latency. Reference counting frees everything else.
    gc.disable()
    asyncio.run(_swarm(pipe, targets, clients, headers))


async def _swarm(pipe, targets, count, headers) -> None:
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)
    clients = [Client(n, *targets[n % len(targets)], headers) for n in range(count)]
    tasks = [asyncio.create_task(client.run(stopping, gate)) for client in clients]
    started = time.perf_counter()
    # Every client has its snapshot, or one failed for good (a client's task only ends on a refused handshake).
    snapshots = asyncio.ensure_future(asyncio.gather(*(c.first_snapshot.wait() for c in clients)))
    done, _ = await asyncio.wait([snapshots, *tasks], timeout=120, return_when=asyncio.FIRST_COMPLETED)
    failures = [t.exception() for t in done if t in tasks and t.exception()]
    connected = sum(c.first_snapshot.is_set() for c in clients)
    pipe.send(
        {
            "connected": connected,
            "connect_seconds": time.perf_counter() - started,
            "failures": [repr(f) for f in failures[:3]],
            "snapshot_bytes": max((c.snapshot_bytes for c in clients), default=0),
        }
    )
    lags: list[float] = []
    lag = asyncio.create_task(_measure_loop_lag(stopping, lags))
    order = await loop.run_in_executor(None, pipe.recv)  # {"drive_start", "events"} once the drive is over
    stopping.set()
    for client in clients:
        if client.ws is not None:
            await client.ws.close()
    for task in tasks + [lag]:
        task.cancel()
    await asyncio.gather(*tasks, lag, return_exceptions=True)
    pipe.send(
        summarize(clients, order["drive_start"], order["drive_end"], order["events"], lags, set(order["shift_began"]))
    )


async def _measure_loop_lag(stopping: asyncio.Event, lags: list[float]) -> None:
    """How late this process's event loop wakes up: if it is busy, every latency measured here is inflated."""
    while not stopping.is_set():
        before = time.perf_counter()
        await asyncio.sleep(0.05)
        lags.append(time.perf_counter() - before - 0.05)


def summarize(
    clients: list[Client], drive_start: float, drive_end: float, events: list, lags, shift_began: set[str]
) -> dict:
    """Latencies from the event log (code, counter, sent, answered, ok) and what every client saw.

    Each latency is measured twice: from the moment the POST was sent (what an integrator sees: ingest time
    included), and from the moment its 201 answer came back (the monitor's own part: the commit happened
    before; 0 when a client saw the change before the answer arrived).

    The business processes whose new shift began during the drive (``shift_began``) are left out: their Proc
    went back to 0, and with it the numbers their events are recognised by.
    """
    sends: dict[tuple[str, int], list[tuple[float, float]]] = defaultdict(list)
    left_out = 0
    for code, counter, sent, answered, ok in events:
        if ok and code in shift_began:
            left_out += 1
        elif ok:
            sends[(code, counter)].append((sent, answered))
    for times in sends.values():
        times.sort()
    first_seen: dict[tuple[str, int, int], float] = {}
    all_latencies: list[float] = []
    all_after_answer: list[float] = []
    early = 0
    for client in clients:
        for (code, counter), times in sends.items():
            history = client.history.get(code, [])
            base = None
            seen = 0  # how many of this business process's events the client has seen so far
            for received, *numbers in history:
                value = numbers[counter]
                if received < drive_start:
                    base = value
                    continue
                if base is None:
                    break
                # A number that went down (a stale push, or a shift rollover) does not unsee events.
                while seen < min(value - base, len(times)):
                    sent, answered = times[seen]
                    if received < sent:
                        early += 1  # changed by something else than our event: not counted
                    else:
                        all_latencies.append(received - sent)
                        all_after_answer.append(max(received - answered, 0.0))
                        key = (code, counter, seen)
                        first_seen[key] = min(first_seen.get(key, received), received)
                    seen += 1
    went_back, examples = _went_back(clients, drive_start, shift_began)
    first_latencies, first_after_answer = [], []
    for (code, counter), times in sends.items():
        for k, (sent, answered) in enumerate(times):
            if (code, counter, k) in first_seen:
                first_latencies.append(first_seen[(code, counter, k)] - sent)
                first_after_answer.append(max(first_seen[(code, counter, k)] - answered, 0.0))
    measured = sum(len(t) for t in sends.values())
    messages = [c.messages for c in clients]
    push_delays = [d for c in clients for d in c.push_delays]
    duration = max(drive_end - drive_start, 1e-9)
    return {
        "events_measured": measured,
        "events_seen": len(first_latencies),
        "pairs_expected": measured * len(clients),
        "pairs_seen": len(all_latencies),
        "first": _percentiles(first_latencies),
        "all": _percentiles(all_latencies),
        "first_after_answer": _percentiles(first_after_answer),
        "all_after_answer": _percentiles(all_after_answer),
        "out_of_order": sum(c.out_of_order for c in clients),
        "push_delay": _percentiles(push_delays),
        "early": early,
        "shift_began": len(shift_began),
        "shift_began_events": left_out,
        "went_back": went_back,
        "went_back_examples": examples,
        "messages_per_client": {
            kind: _spread([m[kind] for m in messages]) for kind in ("snapshot", "rows", "heartbeat", "error")
        },
        "rows_messages_per_second": statistics.mean([m["rows"] for m in messages] or [0]) / duration,
        "bytes_per_client": statistics.mean([c.bytes for c in clients] or [0]),
        "gaps": sum(c.gaps for c in clients),
        "reconnects": sum(c.reconnects for c in clients),
        "loop_lag": _percentiles(lags or []),
    }


def _went_back(clients: list[Client], since: float, shift_began: set[str]) -> tuple[int, list[str]]:
    """Rows a client saw go backwards (Proc, or To Be Proc + Proc, smaller than in the row before), but for the
    business processes whose new shift began."""
    count, examples = 0, []
    for client in clients:
        for code, history in client.history.items():
            if code in shift_began:
                continue
            for (_, a0, b0), (received, a1, b1) in zip(history, history[1:], strict=False):
                if received >= since and (a1 < a0 or b1 < b0):
                    count += 1
                    if len(examples) < 3:
                        examples.append(f"client {client.number} {code}: A {a0}→{a1}, B {b0}→{b1} at {received:.3f}")
    return count, examples


def _percentiles(values: list[float]) -> dict:
    if not values:
        return {"n": 0}
    values = sorted(values)

    def at(q: float) -> float:
        return values[min(int(q * len(values)), len(values) - 1)]

    return {"n": len(values), "p50": at(0.5), "p90": at(0.9), "p99": at(0.99), "max": values[-1]}


def _spread(values: list[int]) -> dict:
    return {"mean": statistics.mean(values), "min": min(values), "max": max(values)} if values else {}
