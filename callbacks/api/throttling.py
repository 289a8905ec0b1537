"""API rate limits: too many requests answer 429 with a Retry-After header, before the view runs (nothing applied).

Three callers, three limits (REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], read at each request): an integration's
token ("token", sized for the ingest load), a logged-in user ("user"), an anonymous caller by address ("anon").

Each limit is a counter per caller and time window in Redis (one INCR, shared by every web process), rather than
DRF's list of request times in the cache, which costs a list read and write per request: too much at 1,000/s.
A rate limit guards the service and is not its duty: if Redis is slow or gone (the database is the source of
truth, and the ingest API must go on taking events), requests go through, and Redis is left alone for a while.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

import redis
from django.conf import settings
from redis.backoff import NoBackoff
from redis.retry import Retry
from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle

from .authentication import Integration

if TYPE_CHECKING:  # rest_framework.views imports this module (DEFAULT_THROTTLE_CLASSES) as it loads
    from rest_framework.views import APIView

log = logging.getLogger(__name__)

PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
# After Redis failed, requests go through without asking it for this long: an outage must not slow each one down.
REDIS_PAUSE_SECONDS = 5.0

_client: redis.Redis | None = None
_redis_down_until = 0.0


def parse_rate(rate: str) -> tuple[int, int]:
    """ "1000/s", "600/min", "50/hour" → (requests, seconds)."""
    number, period = rate.split("/")
    return int(number), PERIODS[period.strip()[0]]


def redis_client() -> redis.Redis:
    global _client
    if _client is None:
        _client = redis.Redis.from_url(
            settings.REDIS_URL, socket_connect_timeout=0.5, socket_timeout=0.5, retry=Retry(NoBackoff(), 0)
        )
    return _client


class FixedWindowRateThrottle(BaseThrottle):
    """At most `rate` requests per caller in each window of the rate's period (a second, a minute…)."""

    scope = ""

    def caller(self, request: Request) -> str | None:
        """Who is counted, or None when this limit is not theirs."""
        raise NotImplementedError

    def allow_request(self, request: Request, view: APIView) -> bool:
        global _redis_down_until
        caller = self.caller(request)
        if caller is None:
            return True
        limit, period = parse_rate(api_settings.DEFAULT_THROTTLE_RATES[self.scope])
        now = time.time()
        if now < _redis_down_until:
            return True
        window = int(now // period)
        key = f"{settings.API_THROTTLE_REDIS_PREFIX}{self.scope}:{caller}:{period}:{window}"
        try:
            pipeline = redis_client().pipeline(transaction=False)
            pipeline.incr(key)
            pipeline.expire(key, period + 1)
            count, _ = pipeline.execute()
        except redis.RedisError:
            log.warning("Rate limits not applied for %.0f s: Redis does not answer", REDIS_PAUSE_SECONDS)
            _redis_down_until = now + REDIS_PAUSE_SECONDS
            return True
        self.retry_after = (window + 1) * period - now
        return count <= limit

    def wait(self) -> float:
        return self.retry_after


class TokenRateThrottle(FixedWindowRateThrottle):
    """An integration, by its token: the telephony platform posting events (200/s in DESIGN.md)."""

    scope = "token"

    def caller(self, request: Request) -> str | None:
        return f"{request.user.token.pk}" if isinstance(request.user, Integration) else None


class UserRateThrottle(FixedWindowRateThrottle):
    """A logged-in person (session): a supervisor's actions, the monitor's numbers."""

    scope = "user"

    def caller(self, request: Request) -> str | None:
        user = request.user
        if user is None or isinstance(user, Integration) or not user.is_authenticated:
            return None
        return f"{user.pk}"


class AnonymousRateThrottle(FixedWindowRateThrottle):
    """Anyone else, by address (behind TRUSTED_PROXY_COUNT proxies, read from X-Forwarded-For)."""

    scope = "anon"

    def caller(self, request: Request) -> str | None:
        user = request.user
        if user is not None and user.is_authenticated:
            return None
        return self.get_ident(request)


def document_rate_limits(result: dict, generator, request, public) -> dict:
    """drf-spectacular postprocessing hook: every operation of the API may answer 429 (its callers must know)."""
    too_many = {
        "description": "Too many requests from this token, user or address: nothing was done; try again later.",
        "headers": {
            "Retry-After": {"schema": {"type": "integer"}, "description": "Seconds until the next request counts."}
        },
    }
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            if isinstance(operation, dict) and "responses" in operation:
                operation["responses"].setdefault("429", too_many)
    return result
