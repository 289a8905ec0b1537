"""Real processes for the fault tests: a Redis of the test's own, daphne web processes and Celery workers as
subprocesses on the test database, monitors as real WebSocket clients, and events through the real HTTP API.

Everything a test kills is its own: the Redis is a throwaway ``redis-server`` on a free port (never the shared
private one on 6390), the web processes and workers are started per test in process groups of their own.

The subprocesses use config.settings.test with DATABASE_URL pointing at the test database (PostgreSQL's
``test_…`` database, or SQLite's file of this run: config/settings/test.py), hence ``transactional_db``: they
see only what the test commits. Logs: .run/faults/<name>.log (printed when a test fails to start a service).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import re
import signal
import socket
import subprocess
import threading
import time
import uuid
from pathlib import Path

import pytest
import redis
import requests
import websockets
from celery import Celery
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.auth.models import Group, User
from django.contrib.sessions.backends.db import SessionStore
from django.db import connections

from callbacks.models import ApiToken
from monitoring.columns import compute_rows

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = ROOT / ".venv" / "bin"
LOGS = ROOT / ".run" / "faults"
START_TIMEOUT = 60  # seconds: a safety net, on a busy 2-core machine


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(condition, timeout: float, what: str, interval: float = 0.05):
    """Poll until condition() is truthy (returned) or fail after timeout seconds, saying what was awaited."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


# ---------------------------------------------------------------------------------------------------------
# Processes


class Process:
    """A subprocess in a process group of its own (so that a worker's pool children go with it)."""

    def __init__(self, name: str, argv: list, env: dict[str, str]):
        self.name, self.argv, self.env = name, [str(part) for part in argv], env
        self.popen: subprocess.Popen | None = None
        self.log_path = LOGS / f"{name}.log"

    def start(self) -> None:
        LOGS.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "a") as log:
            log.write(f"\n==== start {' '.join(self.argv)}\n")
            log.flush()
            self.popen = subprocess.Popen(
                self.argv, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def check_alive(self) -> None:
        if not self.alive():
            raise AssertionError(f"{self.name} exited ({self.popen.returncode}):\n{self.log_tail()}")

    def log_tail(self, chars: int = 3000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:] if self.log_path.exists() else ""

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Send sig to the whole process group and wait for the leader to go."""
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, sig)
            self.popen.wait(timeout=30)
        if sig == signal.SIGKILL:  # children of a killed leader (a worker's pool) may linger a moment
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGKILL)

    def stop(self) -> None:
        if not self.alive():
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGTERM)
        try:
            self.popen.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.kill()


class RedisServer(Process):
    """A throwaway redis-server on a port of its own, persisting nothing: killing it and starting it again
    gives an empty Redis on the same address."""

    def __init__(self, port: int):
        argv = ["redis-server", "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        super().__init__(f"redis-{port}", argv, dict(os.environ))
        self.port = port
        self.url = f"redis://127.0.0.1:{port}/0"

    def start(self) -> None:
        super().start()
        wait_for(lambda: _port_open(self.port), START_TIMEOUT, f"redis-server on port {self.port}")

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url, socket_timeout=5)


class Web(Process):
    """config.asgi:application served by daphne (as Procfile.local does) or uvicorn on a free port."""

    def __init__(self, name: str, env: dict[str, str], *, server: str = "daphne", app: str = "config.asgi:application"):
        self.port = free_port()
        if server == "daphne":
            argv = [VENV_BIN / "daphne", "-b", "127.0.0.1", "-p", self.port, app]
        else:
            argv = [VENV_BIN / "uvicorn", "--host", "127.0.0.1", "--port", self.port, "--lifespan", "off"]
            argv += ["--timeout-graceful-shutdown", "10", app]
        super().__init__(name, argv, env)
        self.url = f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        super().start()

        def ready():
            self.check_alive()
            return _port_open(self.port)

        wait_for(ready, START_TIMEOUT, f"{self.name} listening on port {self.port}")


class Worker(Process):
    """A Celery worker on this run's queue: prefork with one child (so that the child executing a task can be
    killed while its parent lives) unless told otherwise."""

    def __init__(self, name: str, env: dict[str, str], *, pool: str = "prefork", app: str = "config"):
        argv = [VENV_BIN / "celery", "-A", app, "worker", f"--pool={pool}", "-c", "1", "-l", "info"]
        argv += ["-n", f"{name}-{uuid.uuid4().hex[:6]}@%h", "--without-gossip", "--without-mingle"]
        super().__init__(name, argv, env)

    def start(self, *, ready: bool = True) -> None:
        super().start()
        if ready:

            def is_ready():
                self.check_alive()
                return " ready." in self.log_tail(20_000).rsplit("==== start", 1)[-1]

            wait_for(is_ready, START_TIMEOUT, f"{self.name} ready")


class Beat(Process):
    def __init__(self, env: dict[str, str], tmp: Path):
        argv = [VENV_BIN / "celery", "-A", "config", "beat", "-l", "info", "--schedule", tmp / "celerybeat-schedule"]
        super().__init__("beat", argv, env)


# ---------------------------------------------------------------------------------------------------------
# The system under test


def database_url() -> str:
    """The test database, as the subprocesses must name it."""
    database = connections["default"].settings_dict
    if connections["default"].vendor == "sqlite":
        return f"sqlite:///{database['NAME']}"
    user, password = database.get("USER") or "", database.get("PASSWORD") or ""
    host, port = database.get("HOST") or "127.0.0.1", database.get("PORT") or 5432
    return f"postgres://{user}:{password}@{host}:{port}/{database['NAME']}"


class System:
    """The product as a deployment runs it, on one machine: Redis, web processes, workers (and beat if asked).

    Start what a test needs with ``web()``, ``worker()``, ``beat()``; everything is stopped after the test.
    """

    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.redis = RedisServer(free_port())
        self.env = dict(
            os.environ,
            DJANGO_SETTINGS_MODULE="config.settings.test",
            DATABASE_URL=database_url(),
            REDIS_URL=self.redis.url,
            DATABASE_POOL_MAX_SIZE="2",
            PYTHONUNBUFFERED="1",
            LOG_LEVEL="WARNING",
        )
        self.env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        self.processes: list[Process] = []
        self.token = _api_token()
        self.cookie = _supervisor_session_cookie()
        self._celery: Celery | None = None

    def start_redis(self) -> None:
        self.redis.start()

    def web(self, name: str = "web", **options) -> Web:
        web = Web(f"{name}-{os.getpid()}", self.env, **options)
        self.processes.append(web)
        web.start()
        return web

    def worker(self, name: str = "worker", *, extra_env: dict[str, str] | None = None, **options) -> Worker:
        worker = Worker(f"{name}-{os.getpid()}", dict(self.env, **(extra_env or {})), **options)
        self.processes.append(worker)
        worker.start()
        return worker

    def beat(self) -> Beat:
        beat = Beat(self.env, self.tmp)
        self.processes.append(beat)
        beat.start()
        return beat

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.stop()
        self.redis.stop()
        if self._celery is not None:
            self._celery.close()

    # -- talking to it ----------------------------------------------------------------------------------------

    def celery(self) -> Celery:
        """A Celery client on this system's broker, to send tasks as beat does."""
        if self._celery is None:
            self._celery = Celery("faults", broker=self.redis.url)
        return self._celery

    def send_task(self, name: str) -> None:
        self.celery().send_task(name, queue=settings.CELERY_TASK_DEFAULT_QUEUE)

    def monitor_snapshot(self) -> dict[str, dict]:
        """What the workers last pushed (monitoring.live's SNAPSHOT in this system's Redis): code → row message."""
        stored = self.redis.client().hgetall(settings.MONITOR_REDIS_PREFIX + "snapshot")
        return {code.decode(): json.loads(value)["message"] for code, value in stored.items()}


def recomputed() -> dict[str, dict]:
    """Every monitor row computed afresh from the database: code → row message."""
    return {row.code: row.as_message() for row in compute_rows().rows}


def _api_token() -> str:
    _, key = ApiToken.issue(f"faults-{uuid.uuid4().hex[:8]}")
    return key


def _supervisor_session_cookie() -> str:
    """A logged-in supervisor's session, stored in the database the web processes read."""
    user = User.objects.create_user(f"faults-supervisor-{uuid.uuid4().hex[:6]}")
    user.groups.add(Group.objects.get(name="supervisors"))
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    return f"{settings.SESSION_COOKIE_NAME}={session.session_key}"


@pytest.fixture
def system(transactional_db, tmp_path):
    """A Redis of the test's own (started); web processes, workers and beat as the test starts them."""
    the_system = System(tmp_path)
    the_system.start_redis()
    try:
        yield the_system
    finally:
        the_system.stop()


# ---------------------------------------------------------------------------------------------------------
# Clients


class Ingest:
    """Posts events to one web process's ingest API; keeps every answer, in order."""

    def __init__(self, web: Web, token: str):
        self.web = web
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Token {token}"
        self.answers: list[tuple[dict, int, dict]] = []

    def post(self, event: dict, *, retry_for: float = 0, timeout: float = 30) -> tuple[int, dict]:
        """Post one event; with retry_for, post the same event (same event_id) again while no answer comes (the
        web process is down, or went down before answering), as the platform does."""
        deadline = time.monotonic() + retry_for
        while True:
            try:
                response = self.session.post(f"{self.web.url}/api/v1/events/", json=event, timeout=timeout)
            except (requests.ConnectionError, requests.Timeout):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
                continue
            body = response.json() if response.headers.get("Content-Type", "").startswith("application/json") else {}
            self.answers.append((event, response.status_code, body))
            return response.status_code, body


def monitor_js_seconds(name: str) -> float:
    """A timing constant of static/js/monitor.js (e.g. BACKOFF_MAX_MS), in seconds: the Python monitor waits as
    the page does, so a test of how soon monitors come back holds for browsers too."""
    source = (ROOT / "static" / "js" / "monitor.js").read_text()
    return int(re.search(rf"const {name} = (\d+);", source).group(1)) / 1000


class MonitorClient:
    """A browser's monitor as static/js/monitor.js behaves, in Python: a WebSocket to /ws/monitor/ with the
    supervisor's session cookie and the page's Origin, rows kept by code from the snapshot and the numbered
    "rows" messages, a resync on any gap (or on a heartbeat whose seq differs), a reconnect with the page's backoff
    when the socket closes, and a new socket when nothing arrived for ``stale_after`` seconds (the page's 20 s
    unless told otherwise).

    Runs in a thread with its own event loop. ``states`` records (monotonic time, "connected" | "reconnecting" |
    "synced") as the badge would show them.
    """

    BACKOFF_FIRST = monitor_js_seconds("BACKOFF_FIRST_MS")
    BACKOFF_MAX = monitor_js_seconds("BACKOFF_MAX_MS")
    STALE_AFTER = monitor_js_seconds("RECONNECT_STALE_AFTER_MS")

    def __init__(self, web: Web, cookie: str, *, stale_after: float | None = None):
        self.web, self.cookie, self.stale_after = web, cookie, stale_after or self.STALE_AFTER
        self.rows: dict[str, dict] = {}
        self.totals: dict | None = None
        self.last_seq: int | None = None
        self.synced = False
        self.states: list[tuple[float, str]] = []
        self.snapshots = 0
        self.messages = 0
        self.lock = threading.Lock()
        self._stop = False
        self._loop = asyncio.new_event_loop()
        self._task: asyncio.Task | None = None
        self._thread = threading.Thread(target=self._thread_main, daemon=True)

    def start(self) -> MonitorClient:
        self._thread.start()
        wait_for(lambda: self.synced, 30, "the monitor's first snapshot")
        return self

    def stop(self) -> None:
        self._stop = True
        if self._task is not None:
            self._loop.call_soon_threadsafe(self._task.cancel)
        self._thread.join(15)

    def _thread_main(self) -> None:
        self._task = self._loop.create_task(self._run())
        with contextlib.suppress(asyncio.CancelledError):
            self._loop.run_until_complete(self._task)
        self._loop.close()

    def state(self, name: str) -> None:
        self.states.append((time.monotonic(), name))

    def view(self) -> dict[str, dict]:
        with self.lock:
            return dict(self.rows)

    def synced_since(self, moment: float) -> float | None:
        """When the client first held a fresh snapshot after moment (monotonic), or None."""
        return next((at for at, name in self.states if name == "synced" and at >= moment), None)

    def reconnecting_since(self, moment: float) -> bool:
        return any(name == "reconnecting" and at >= moment for at, name in self.states)

    async def _run(self) -> None:
        failures = 0
        uri = f"ws://127.0.0.1:{self.web.port}/ws/monitor/"
        headers = {"Cookie": self.cookie}
        while not self._stop:
            try:
                async with websockets.connect(
                    uri, origin=self.web.url, additional_headers=headers, open_timeout=5, close_timeout=1
                ) as socket_:
                    self.state("connected")
                    self.awaiting_snapshot = True
                    failures = await self._receive(socket_, failures)
            except (TimeoutError, OSError, websockets.WebSocketException):
                pass
            self.synced = False
            if self._stop:
                return
            self.state("reconnecting")
            delay = min(self.BACKOFF_MAX, self.BACKOFF_FIRST * 2**failures)
            failures += 1
            await asyncio.sleep(delay / 2 + random.random() * delay / 2)

    async def _receive(self, socket_, failures: int) -> int:
        while not self._stop:
            try:
                text = await asyncio.wait_for(socket_.recv(), timeout=self.stale_after)
            except TimeoutError:
                return failures  # silent too long (the JS replaces such a socket too)
            self.messages += 1
            message = json.loads(text)
            kind = message.get("type")
            if kind == "snapshot":
                with self.lock:
                    self.rows = {row["code"]: row for row in message["rows"]}
                    self.totals = message["totals"]
                    self.last_seq = message["seq"]
                self.awaiting_snapshot = False
                self.synced = True
                self.snapshots += 1
                failures = 0
                self.state("synced")
            elif kind == "rows":
                if self.awaiting_snapshot or message["seq"] == self.last_seq:
                    continue
                if message["seq"] != self.last_seq + 1:
                    await self._resync(socket_)
                    continue
                with self.lock:
                    for code in message.get("removed", []):
                        self.rows.pop(code, None)
                    for row in message["rows"]:
                        self.rows[row["code"]] = row
                    self.totals = message["totals"]
                    self.last_seq = message["seq"]
            elif kind == "heartbeat":
                if not self.awaiting_snapshot and message["seq"] != self.last_seq:
                    await self._resync(socket_)
        return failures

    async def _resync(self, socket_) -> None:
        self.awaiting_snapshot = True
        await socket_.send(json.dumps({"type": "resync"}))


@pytest.fixture
def monitors():
    """Start MonitorClients with ``monitors(web, cookie, n)``; all are stopped after the test."""
    started: list[MonitorClient] = []

    def start(web: Web, cookie: str, count: int = 1, **options) -> list[MonitorClient]:
        clients = [MonitorClient(web, cookie, **options).start() for _ in range(count)]
        started.extend(clients)
        return clients

    yield start
    for client in started:
        client.stop()
