"""The production Procfile run by honcho, as on a machine of a real installation: web (Uvicorn) ×2, Celery
worker ×2 and beat ×1, each a real process, on this test run's database (PostgreSQL, or SQLite's file) and Redis.

Unlike tests/browser's in-process server, nothing here shares memory with the test: whatever the processes
know of each other goes through the database, the broker and the channel layer, as between machines.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection

from config.celery import app as celery_app
from monitoring import live

ROOT = Path(__file__).resolve().parent.parent.parent
HONCHO = ROOT / ".venv" / "bin" / "honcho"
WEB_PROCESSES = 2
WORKERS = 2
START_TIMEOUT = 60  # seconds; a safety net (five Django processes start on a machine of two cores)


@dataclass
class Installation:
    """What the test sees of the running processes."""

    web_ports: list[int]
    worker_names: list[str]
    log: Path
    process: subprocess.Popen = field(repr=False)

    def url(self, web: int, path: str) -> str:
        return f"http://127.0.0.1:{self.web_ports[web]}{path}"

    def health(self, web: int, path: str = "/healthz") -> tuple[int, dict]:
        try:
            with urllib.request.urlopen(self.url(web, path), timeout=5) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    def log_tail(self, lines: int = 60) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


def database_url() -> str:
    """The test database, as DATABASE_URL says it to config.settings (dj-database-url)."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    user, password = quote(db["USER"], safe=""), quote(db["PASSWORD"], safe="")
    return f"postgres://{user}:{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def free_base_port(count: int) -> int:
    """A port such that it and the next count - 1 are free now (honcho gives web.1, web.2… consecutive ports)."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            base = probe.getsockname()[1]
        if base + count < 65000 and all(_free(base + n) for n in range(count)):
            return base
    raise RuntimeError("no free consecutive ports")


def _free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def forget_run_state() -> None:
    """This run's monitor and health keys in Redis, and tasks left in its queue (beat keeps sending until it stops)."""
    client = live.redis_client()
    keys = client.keys(settings.MONITOR_REDIS_PREFIX + "*")
    if keys:
        client.delete(*keys)
    with celery_app.connection_for_write() as conn:
        conn.default_channel.queue_purge(settings.CELERY_TASK_DEFAULT_QUEUE)


def stop(process: subprocess.Popen) -> None:
    """honcho stops every process it started on SIGTERM; whatever is left of the group after 20 s is killed."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(20)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(5)


def start_procfile(tmp_path: Path, concurrency: dict[str, int], env: dict[str, str]) -> Installation:
    """``honcho start`` of the production Procfile with these numbers of processes, on free ports."""
    base = free_base_port(concurrency["web"])
    # honcho numbers the ports by line of the Procfile: web from base, worker from base + 100, beat base + 200.
    worker_names = [f"worker-{base + 100 + n}@{socket.gethostname()}" for n in range(concurrency["worker"])]
    log = tmp_path / "honcho.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [HONCHO, "--no-colour", "-f", ROOT / "Procfile", "-d", ROOT, "start", "-c", _numbers(concurrency)],
            cwd=ROOT,
            env={**env, "PORT": str(base), "PYTHONUNBUFFERED": "1"},
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a process group of its own: stopped as a whole whatever happens
        )
    return Installation([base + n for n in range(concurrency["web"])], worker_names, log, process)


def _numbers(concurrency: dict[str, int]) -> str:
    return ",".join(f"{name}={count}" for name, count in concurrency.items())


@pytest.fixture
def installation(transactional_db, tmp_path):
    """Started once the test database exists; stopped before it is emptied. Ready when both web processes say
    /healthz 200 (database, Redis, a worker heartbeat and beat's tick all fine) and both workers are heard from."""
    forget_run_state()
    env = {
        **os.environ,  # with CALLBACKS_TEST_RUN (config/settings/test.py): this run's queue and Redis names
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "DATABASE_POOL_MAX_SIZE": "4",  # five processes share a PostgreSQL that others use too
        "WORKER_CONCURRENCY": "1",
        "BEAT_SCHEDULE_FILE": str(tmp_path / "celerybeat-schedule"),
        # Both workers heard from within seconds; not in step with the timer tick (every second), lest the same
        # worker take every tick and the other every heartbeat.
        "HEALTH_HEARTBEAT_SECONDS": "0.7",
        "CELERY_LOG_LEVEL": "info",
    }
    running = start_procfile(tmp_path, {"web": WEB_PROCESSES, "worker": WORKERS, "beat": 1}, env)
    try:
        _wait_until_ready(running, lambda status, body: status == 200 and body["workers"] == WORKERS)
        yield running
    finally:
        stop(running.process)
        forget_run_state()


@pytest.fixture
def production_web(transactional_db, tmp_path):
    """One web process of the Procfile with the settings it defaults to (production), on the test database;
    no worker, no beat. Ready when /healthz?checks=database,redis answers 200 over plain HTTP."""
    env = {key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"}
    env.update(
        SECRET_KEY="production-settings-test-only-" + "k" * 40,
        DATABASE_URL=database_url(),
        REDIS_URL=settings.REDIS_URL,
        DATABASE_POOL_MAX_SIZE="2",
        ALLOWED_HOSTS="127.0.0.1,callbacks.example.com",
    )
    running = start_procfile(tmp_path, {"web": 1, "worker": 0, "beat": 0}, env)
    try:
        _wait_until_ready(running, lambda status, body: status == 200, "/healthz?checks=database,redis")
        yield running
    finally:
        stop(running.process)


def _wait_until_ready(running: Installation, ready, path: str = "/healthz") -> None:
    deadline = time.monotonic() + START_TIMEOUT
    answers: list = []
    while time.monotonic() < deadline:
        assert running.process.poll() is None, f"honcho stopped:\n{running.log_tail()}"
        try:
            answers = [running.health(web, path) for web in range(len(running.web_ports))]
        except OSError:  # not listening yet
            time.sleep(0.5)
            continue
        if all(ready(status, body) for status, body in answers):
            return
        time.sleep(0.5)
    raise AssertionError(f"not ready within {START_TIMEOUT} s: {answers}\n{running.log_tail()}")
