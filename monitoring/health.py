"""`/healthz`: is this installation able to work? For load balancers and monitoring.

Four checks, each "ok" or why not:
    database  a trivial query answers                                   ok | down
    redis     PING answers (broker, channel layer, monitor state)       ok | down
    worker    a Celery worker ran the beat-scheduled ``heartbeat`` task  ok | stale | missing | unknown
              within HEALTH_WORKER_MAX_AGE_SECONDS
    beat      beat sent that task within HEALTH_BEAT_MAX_AGE_SECONDS     ok | stale | missing | unknown
("unknown": Redis, where both times are kept, did not answer.) 200 when every check asked for is ok, else 503;
``?checks=database,redis`` asks for only some. The body never names a host, an error or a secret: anonymous
callers may read it. One query and one Redis round trip; Redis timeouts are short, so a Redis that hangs costs
about a second, not a stuck probe.

Times come from Redis's own clock (TIME), for the writer and the reader alike: web, worker and beat may run on
machines whose clocks disagree.
"""

from __future__ import annotations

import logging

import redis
from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from redis.backoff import NoBackoff
from redis.retry import Retry

log = logging.getLogger(__name__)

# Kept with the monitor's derived state (a test run has its own prefix); losing them costs one heartbeat period.
WORKERS = settings.MONITOR_REDIS_PREFIX + "health:workers"  # hash: worker hostname → its last heartbeat (unix time)
BEAT = settings.MONITOR_REDIS_PREFIX + "health:beat"  # the time beat last sent the heartbeat task
FORGET_WORKER_AFTER_SECONDS = 3600  # a worker gone for this long leaves the hash
CHECKS = ("database", "redis", "worker", "beat")

_client: redis.Redis | None = None


def redis_client() -> redis.Redis:
    """A client of its own: short timeouts and no retries, so that a probe answers quickly whatever Redis does."""
    global _client
    if _client is None:
        _client = redis.Redis.from_url(
            settings.REDIS_URL, socket_timeout=1, socket_connect_timeout=1, retry=Retry(NoBackoff(), 0)
        )
    return _client


def record_worker_heartbeat(hostname: str) -> None:
    """A worker ran the heartbeat task (monitoring.tasks.heartbeat)."""
    client = redis_client()
    now = _redis_now(client)
    with client.pipeline(transaction=True) as pipe:
        pipe.hset(WORKERS, hostname, now)
        pipe.hgetall(WORKERS)
        _, seen = pipe.execute()
    gone = [name for name, at in seen.items() if now - float(at) > FORGET_WORKER_AFTER_SECONDS]
    if gone:
        client.hdel(WORKERS, *gone)


def record_beat_tick() -> None:
    """Beat sent the heartbeat task (only beat sends it)."""
    client = redis_client()
    client.set(BEAT, _redis_now(client))


@never_cache
@login_not_required
@require_safe  # GET, and HEAD for the probes that send it
def healthz(request: HttpRequest) -> JsonResponse:
    """The checks asked for (all by default): 200 when each is ok, 503 when one is not; 400 for an unknown name."""
    wanted = [name.strip() for name in request.GET.get("checks", ",".join(CHECKS)).split(",") if name.strip()]
    unknown = sorted(set(wanted) - set(CHECKS))
    if unknown or not wanted:
        return JsonResponse({"error": f"checks: choose among {', '.join(CHECKS)}.", "unknown": unknown}, status=400)
    body: dict = {}
    if "database" in wanted:
        body["database"] = _check_database()
    if {"redis", "worker", "beat"} & set(wanted):
        body.update(_check_redis(wanted))
    healthy = all(body[name] == "ok" for name in wanted)
    return JsonResponse({"status": "ok" if healthy else "fail", **body}, status=200 if healthy else 503)


def _check_database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as error:  # noqa: BLE001 — whatever the failure, the answer is "down", never a 500
        # One line, not a traceback: load balancers probe every few seconds for as long as it lasts.
        log.warning("Health check: the database did not answer: %r", error)
        return "down"
    return "ok"


def _check_redis(wanted: list[str]) -> dict:
    """Redis's PING, and the ages of the worker heartbeat and of beat's last tick, in one round trip."""
    try:
        with redis_client().pipeline(transaction=False) as pipe:
            pipe.ping()
            pipe.time()
            pipe.hgetall(WORKERS)
            pipe.get(BEAT)
            _, (seconds, microseconds), workers, beat = pipe.execute()
    except Exception as error:  # noqa: BLE001
        log.warning("Health check: Redis did not answer: %r", error)
        return {name: "down" if name == "redis" else "unknown" for name in wanted if name != "database"}
    now = seconds + microseconds / 1_000_000
    worker_times = [float(at) for at in workers.values()]
    worker_age = now - max(worker_times) if worker_times else None
    beat_age = now - float(beat) if beat else None
    worker_max_age, beat_max_age = settings.HEALTH_WORKER_MAX_AGE_SECONDS, settings.HEALTH_BEAT_MAX_AGE_SECONDS
    result: dict = {}
    if "redis" in wanted:
        result["redis"] = "ok"
    if "worker" in wanted:
        result["worker"] = _freshness(worker_age, worker_max_age)
        result["worker_age"] = _rounded(worker_age)
        # Workers heard from within the max age: how many machines/processes are taking tasks.
        result["workers"] = sum(1 for at in worker_times if now - at <= worker_max_age)
    if "beat" in wanted:
        result["beat"] = _freshness(beat_age, beat_max_age)
        result["beat_age"] = _rounded(beat_age)
    return result


def _freshness(age: float | None, max_age: float) -> str:
    if age is None:
        return "missing"
    return "ok" if age <= max_age else "stale"


def _rounded(age: float | None) -> float | None:
    return None if age is None else round(max(age, 0.0), 1)


def _redis_now(client: redis.Redis) -> float:
    seconds, microseconds = client.time()
    return seconds + microseconds / 1_000_000
