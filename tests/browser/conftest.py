"""A real browser: Playwright driving Debian's Chromium (never a downloaded one), headless.

The live monitor needs more than pytest-django's ``live_server`` (WSGI, no WebSocket): ``asgi_server`` serves
``config.asgi:application`` with Daphne — HTTP and WebSocket — from a thread of the test process, and
``monitor_backend`` adds a real Celery worker and a stand-in for beat's periodic recompute. Everything runs in
this process, so it uses the test database whatever it is: PostgreSQL, or SQLite's in-memory shared-cache
database (which a forked or separate server process could not see).
"""

import logging
import os
import queue
import threading
import time
from dataclasses import dataclass

import pytest
from celery.contrib.testing.worker import start_worker
from celery.signals import task_postrun
from django.conf import settings
from django.db import connection, connections
from django.db.backends.signals import connection_created
from kombu.asynchronous import set_event_loop
from playwright.sync_api import sync_playwright

from config.celery import app as celery_app
from monitoring import live

log = logging.getLogger(__name__)

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PASSWORD = "pw-for-tests-only"  # tests/conftest.py's make_user


# Per module, not per session: while Playwright's sync API runs, an event loop runs in this thread, which
# would fail every later test that calls async_to_sync (tests/monitoring/test_live.py, after tests/browser).
@pytest.fixture(scope="module")
def browser():
    # The tests' own ORM calls are still plain synchronous code despite that loop, so Django's async-safety
    # guard does not apply to them.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            yield browser
            browser.close()
    finally:
        del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]


@pytest.fixture
def page(browser):
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


def _read_uncommitted(sender, connection, **kwargs) -> None:
    """SQLite's shared-cache test database locks tables, and a lock conflict fails at once (no busy wait).
    The server, worker and beat threads only need to read what the test thread writes, so they read without
    taking table locks; PostgreSQL needs none of this."""
    if connection.vendor == "sqlite" and threading.current_thread() is not threading.main_thread():
        connection.connection.execute("PRAGMA read_uncommitted = true")


class AsgiServer:
    """config.asgi:application behind Daphne, on a free port of 127.0.0.1, in a thread of this process.

    Twisted's reactor runs once per process, hence one server for the whole session.
    """

    def __init__(self):
        from daphne.server import Server
        from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler

        from config.asgi import application

        # Static files from the finders, as runserver and pytest-django's live_server serve them.
        self.server = Server(
            ASGIStaticFilesHandler(application), endpoints=["tcp:port=0:interface=127.0.0.1"], signal_handlers=False
        )
        self.thread = threading.Thread(target=self.server.run, name="daphne", daemon=True)

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 5
        while not self.server.listening_addresses:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("Daphne did not start listening")
            time.sleep(0.05)
        host, port = self.server.listening_addresses[0]
        self.url = f"http://{host}:{port}"

    def stop(self) -> None:
        from twisted.internet import reactor

        reactor.callFromThread(reactor.stop)
        self.thread.join(10)


@pytest.fixture(scope="session")
def asgi_server(django_db_setup):
    # Under ASGI each request runs in a thread of its own: a persistent connection would outlive its thread
    # (and keep PostgreSQL from dropping the test database).
    database = connections["default"].settings_dict
    max_age = database["CONN_MAX_AGE"]
    database["CONN_MAX_AGE"] = 0
    connection_created.connect(_read_uncommitted)
    server = AsgiServer()
    server.start()
    yield server
    server.stop()
    connection_created.disconnect(_read_uncommitted)
    database["CONN_MAX_AGE"] = max_age


def _forget_monitor_state() -> None:
    """The last test's snapshot, dirty marks and seq (config/settings/test.py gives each test run its own)."""
    client = live.redis_client()
    keys = client.keys(settings.MONITOR_REDIS_PREFIX + "*")
    if keys:
        client.delete(*keys)


def _close_worker_connection(**kwargs) -> None:
    connection.close()


class Beat(threading.Thread):
    """Stands in for celery beat: the time-driven check (with its heartbeat) every 2 s, and a full recompute
    at once when a test calls ``tick()`` to know that one has run since."""

    def __init__(self):
        super().__init__(name="monitor-beat", daemon=True)
        self.requests: queue.Queue[threading.Event | None] = queue.Queue()

    def run(self) -> None:
        while True:
            try:
                done = self.requests.get(timeout=settings.MONITOR_TIME_CHECK_SECONDS)
            except queue.Empty:
                done = threading.Event()
                recompute = live.refresh_time_driven
            else:
                recompute = live.recompute_all
            if done is None:
                return
            try:
                recompute()
            except Exception:  # noqa: BLE001 — like beat, try again at the next tick
                log.exception("Monitor recompute failed")
            finally:
                connection.close()
                done.set()

    def tick(self) -> None:
        done = threading.Event()
        self.requests.put(done)
        assert done.wait(10), "the monitor recompute did not finish"

    def stop(self) -> None:
        self.requests.put(None)
        self.join(10)


@dataclass
class MonitorBackend:
    url: str
    beat: Beat


@pytest.fixture
def monitor_backend(transactional_db, asgi_server):
    """The live path behind the page: a real Celery worker (recomputes after each change) and the beat.

    Started per test and stopped before the test database is emptied, so that no recompute reads it then.
    """
    _forget_monitor_state()
    task_postrun.connect(_close_worker_connection)
    # A worker leaves its kombu hub behind as the process's event loop, and the next worker started in the
    # process would take that stale hub over: its timer never fires, so a task sent with a countdown (as
    # live.request_recompute sends recompute_dirty) would never run. Each worker gets a hub of its own.
    set_event_loop(None)
    beat = Beat()
    try:
        with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
            beat.start()
            yield MonitorBackend(asgi_server.url, beat)
            beat.stop()
    finally:
        task_postrun.disconnect(_close_worker_connection)
        set_event_loop(None)
        _forget_monitor_state()


@pytest.fixture
def monitor_page(browser, monitor_backend, make_user):
    """A browser context per user, logged in through the login page and showing the monitor.

    ``setup(page)`` runs before the first navigation (to route the WebSocket or install a clock); other keywords
    go to the browser context (``timezone_id``, ``locale``…).
    """
    contexts = []

    def open_as(role: str, username: str, *, path: str = "/", setup=None, **context_options):
        make_user(role, username)
        context = browser.new_context(**context_options)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(10_000)
        if setup:
            setup(page)
        page.goto(f"{monitor_backend.url}{path}")
        page.fill("#id_username", username)
        page.fill("#id_password", PASSWORD)
        page.click("button[type=submit]")
        # The script has run and the page holds its first snapshot.
        page.wait_for_selector("#live-badge.live")
        return page

    yield open_as
    for context in contexts:
        context.close()
