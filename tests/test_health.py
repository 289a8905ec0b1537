"""/healthz: each check's failure shows as itself (503), all fine is 200, and no failure is ever a 500."""

import contextlib
import socket
import threading
import time

import pytest
from django.db import connection

from monitoring import health
from monitoring.tasks import heartbeat

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_health_state():
    """No heartbeat recorded, and a health Redis client made from the current settings."""
    health._client = None
    client = health.redis_client()
    client.delete(health.WORKERS, health.BEAT)
    yield client
    health._client = None
    client.delete(health.WORKERS, health.BEAT)


def get(client, path="/healthz"):
    response = client.get(path)
    assert response["Content-Type"] == "application/json"
    return response.status_code, response.json()


def heartbeat_seconds_ago(redis_client, worker_seconds: float | None, beat_seconds: float | None, worker="w1@host"):
    now = health._redis_now(redis_client)
    if worker_seconds is not None:
        redis_client.hset(health.WORKERS, worker, now - worker_seconds)
    if beat_seconds is not None:
        redis_client.set(health.BEAT, now - beat_seconds)


@contextlib.contextmanager
def redis_at(settings, url: str):
    settings.REDIS_URL = url
    health._client = None
    try:
        yield
    finally:
        health._client = None


def unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def silent_server():
    """A TCP server that accepts connections and never answers: a Redis that hangs."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    accepted = []
    stop = threading.Event()

    def accept():
        server.settimeout(0.1)
        while not stop.is_set():
            with contextlib.suppress(OSError):
                accepted.append(server.accept()[0])

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        stop.set()
        thread.join(2)
        for conn in accepted:
            conn.close()
        server.close()


def test_all_fine_is_200_with_each_check_and_its_age(client, fresh_health_state, django_assert_num_queries):
    heartbeat_seconds_ago(fresh_health_state, worker_seconds=3, beat_seconds=2)
    heartbeat_seconds_ago(fresh_health_state, worker_seconds=6, beat_seconds=None, worker="w2@host")

    with django_assert_num_queries(1):  # SELECT 1; Redis in one round trip
        status, body = get(client)

    assert status == 200
    assert body["status"] == "ok"
    assert {key: body[key] for key in ("database", "redis", "worker", "beat")} == dict.fromkeys(
        ("database", "redis", "worker", "beat"), "ok"
    )
    assert body["workers"] == 2
    assert 3 <= body["worker_age"] < 5  # the youngest heartbeat
    assert 2 <= body["beat_age"] < 4


def test_anonymous_get_answers_without_login_or_cookie(client):
    response = client.get("/healthz")
    assert response.status_code in (200, 503)  # not a redirect to the login page
    assert "sessionid" not in response.cookies and "csrftoken" not in response.cookies
    assert response["Cache-Control"].startswith("max-age=0")
    assert client.post("/healthz").status_code == 405
    assert client.head("/healthz").status_code == response.status_code


def test_no_heartbeat_ever_is_503_missing(client):
    status, body = get(client)
    assert status == 503
    assert body["status"] == "fail"
    assert body["database"] == "ok" and body["redis"] == "ok"
    assert body["worker"] == "missing" and body["worker_age"] is None and body["workers"] == 0
    assert body["beat"] == "missing" and body["beat_age"] is None


def test_old_worker_heartbeat_is_503_stale_while_beat_is_fine(client, settings, fresh_health_state):
    settings.HEALTH_WORKER_MAX_AGE_SECONDS = 30
    heartbeat_seconds_ago(fresh_health_state, worker_seconds=45, beat_seconds=1)
    status, body = get(client)
    assert status == 503
    assert body["worker"] == "stale" and 45 <= body["worker_age"] < 47 and body["workers"] == 0
    assert body["beat"] == "ok"


def test_beat_silent_is_503_stale_while_workers_are_fine(client, settings, fresh_health_state):
    settings.HEALTH_BEAT_MAX_AGE_SECONDS = 10
    heartbeat_seconds_ago(fresh_health_state, worker_seconds=1, beat_seconds=11)
    status, body = get(client)
    assert status == 503
    assert body["beat"] == "stale" and body["worker"] == "ok"


def test_redis_down_is_503_redis_down_and_heartbeats_unknown(client, settings):
    with redis_at(settings, f"redis://127.0.0.1:{unused_port()}/0"):
        status, body = get(client)
    assert status == 503
    assert body == {
        "status": "fail",
        "database": "ok",
        "redis": "down",
        "worker": "unknown",
        "beat": "unknown",
    }


def test_redis_that_hangs_is_down_within_seconds(client, settings):
    with silent_server() as port, redis_at(settings, f"redis://127.0.0.1:{port}/0"):
        started = time.monotonic()
        status, body = get(client)
        elapsed = time.monotonic() - started
    assert status == 503 and body["redis"] == "down"
    assert elapsed < 10  # a safety net only: the client's timeouts are 1 s, without retries


@contextlib.contextmanager
def database_unreachable():
    """Point the default connection at a database that cannot be opened, then restore it.

    SQLite: a file in a directory that does not exist. PostgreSQL: a port where nothing listens (with a short
    pool timeout, and the pool rebuilt on the way in and out, since it keeps the settings it was made with).
    """
    settings_dict = connection.settings_dict
    saved = {key: settings_dict[key] for key in ("NAME", "PORT", "OPTIONS")}
    connection.close()
    if connection.vendor == "postgresql":
        connection.close_pool()
        options = dict(settings_dict["OPTIONS"])
        if "pool" in options:
            options["pool"] = {**options["pool"], "timeout": 1}
        settings_dict.update(PORT=str(unused_port()), OPTIONS={**options, "connect_timeout": 1})
    else:
        settings_dict["NAME"] = "/nonexistent-directory/health.sqlite3"
    try:
        yield
    finally:
        connection.close()
        if connection.vendor == "postgresql":
            connection.close_pool()
        settings_dict.update(saved)


@pytest.mark.django_db(transaction=True)
def test_database_down_is_503_database_down(client, fresh_health_state):
    heartbeat_seconds_ago(fresh_health_state, worker_seconds=1, beat_seconds=1)
    with database_unreachable():
        status, body = get(client)
    assert status == 503
    assert body["database"] == "down"
    assert body["redis"] == "ok" and body["worker"] == "ok" and body["beat"] == "ok"
    assert get(client)[0] == 200  # and back once the database is


def test_checks_parameter_asks_for_only_some(client, settings):
    status, body = get(client, "/healthz?checks=database,redis")
    assert status == 200  # no heartbeat, but that was not asked
    assert body == {"status": "ok", "database": "ok", "redis": "ok"}

    with redis_at(settings, f"redis://127.0.0.1:{unused_port()}/0"):
        assert get(client, "/healthz?checks=database") == (200, {"status": "ok", "database": "ok"})
        assert get(client, "/healthz?checks=worker")[1] == {"status": "fail", "worker": "unknown"}

    status, body = get(client, "/healthz?checks=database,disk")
    assert status == 400 and body["unknown"] == ["disk"]
    assert get(client, "/healthz?checks=")[0] == 400


def test_plain_http_probe_is_not_redirected_to_https(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    assert client.get("/healthz").status_code in (200, 503)
    assert client.get("/login/").status_code == 301  # everything else still is


def test_a_worker_gone_for_an_hour_is_forgotten(fresh_health_state):
    heartbeat_seconds_ago(fresh_health_state, worker_seconds=health.FORGET_WORKER_AFTER_SECONDS + 5, beat_seconds=None)
    health.record_worker_heartbeat("w2@host")
    assert set(fresh_health_state.hgetall(health.WORKERS)) == {b"w2@host"}


def test_beat_schedules_the_heartbeat(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["heartbeat"]
    assert entry["task"] == heartbeat.name == "monitoring.tasks.heartbeat"
    assert entry["schedule"] == settings.HEALTH_HEARTBEAT_SECONDS
    assert entry["schedule"] < settings.HEALTH_WORKER_MAX_AGE_SECONDS


@pytest.mark.worker
def test_heartbeat_sent_and_run_by_a_real_worker_makes_it_healthy(client, celery_worker, fresh_health_state):
    assert get(client)[0] == 503
    heartbeat.delay()  # what beat does: sending it records beat's tick…
    assert fresh_health_state.exists(health.BEAT)
    deadline = time.monotonic() + 10
    while not fresh_health_state.hlen(health.WORKERS):  # …and the worker that runs it, its own
        assert time.monotonic() < deadline, "the worker did not run the heartbeat task"
        time.sleep(0.05)

    status, body = get(client)
    assert status == 200, body
    assert body["workers"] == 1
    assert fresh_health_state.hlen(health.WORKERS) == 1
