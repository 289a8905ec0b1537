"""API rate limits (callbacks/api/throttling.py): past its rate a caller gets 429 with Retry-After, and the refused
request applies nothing; each token, user and address has its own count; a batch of events is one request; and
when Redis is gone the API goes on (the database is the source of truth)."""

import logging
import time
from types import SimpleNamespace

import pytest
from rest_framework.test import APIClient

from callbacks.api import throttling
from callbacks.api.authentication import Integration
from callbacks.choices import CallbackState
from callbacks.models import ApiToken, AuditEntry, Callback, IngestedEvent
from tests.conftest import event

EVENTS = "/api/v1/events/"


@pytest.fixture
def rates(settings):
    """Small limits per day (a window no test straddles but at midnight), counted from zero."""
    client = throttling.redis_client()
    keys = client.keys(settings.API_THROTTLE_REDIS_PREFIX + "*")
    if keys:
        client.delete(*keys)

    def set_rates(**rates):
        settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}

    set_rates(token="3/day", user="2/day", anon="2/day")
    return set_rates


def token_client(name: str = "rate-limited") -> APIClient:
    _, key = ApiToken.issue(name)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def request_event(callback: str) -> dict:
    return event("callback.requested", callback, business_process="SALES", phone="+12125550134")


def test_a_token_past_its_rate_gets_429_with_retry_after_and_nothing_is_applied(rates, business_process):
    client = token_client()
    for number in range(3):
        assert client.post(EVENTS, request_event(f"cb-{number}"), format="json").status_code == 201
    applied = (Callback.objects.count(), IngestedEvent.objects.count(), AuditEntry.objects.count())

    refused = client.post(EVENTS, request_event("cb-refused"), format="json")

    assert refused.status_code == 429
    assert 0 < int(refused["Retry-After"]) <= 24 * 3600
    assert "Request was throttled" in refused.json()["detail"]
    assert not Callback.objects.filter(external_id="cb-refused").exists()
    assert (Callback.objects.count(), IngestedEvent.objects.count(), AuditEntry.objects.count()) == applied
    assert token_client("another").post(EVENTS, request_event("cb-other"), format="json").status_code == 201, (
        "its own count"
    )


def test_a_batch_is_one_request(rates, business_process):
    client = token_client()
    batch = [request_event(f"cb-{number}") for number in range(10)]
    response = client.post(EVENTS, batch, format="json")
    assert response.status_code == 200 and {r["result"] for r in response.json()["results"]} == {"applied"}
    assert Callback.objects.count() == 10


def test_a_supervisor_past_the_user_rate_is_refused_and_the_action_is_not_done(
    rates, business_process, events, make_user
):
    assert events.request("cb-1").status_code == 201
    client = APIClient()
    client.force_login(make_user("supervisors"))
    for _ in range(2):
        assert client.get("/api/v1/business-processes/").status_code == 200

    refused = client.post("/api/v1/callbacks/cb-1/purge/", {}, format="json")

    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
    assert Callback.objects.get(external_id="cb-1").state == CallbackState.QUEUED
    other = APIClient()
    other.force_login(make_user("administrators"))
    assert other.post("/api/v1/callbacks/cb-1/purge/", {}, format="json").status_code == 200, "its own count"


def test_anonymous_callers_are_counted_by_address_whatever_x_forwarded_for_says(rates, db):
    first = APIClient(REMOTE_ADDR="198.51.100.1")
    statuses = [
        first.get("/api/v1/schema/", HTTP_X_FORWARDED_FOR=f"203.0.113.{number}").status_code for number in range(3)
    ]
    assert statuses == [200, 200, 429]
    assert APIClient(REMOTE_ADDR="198.51.100.2").get("/api/v1/schema/").status_code == 200


def test_behind_a_trusted_proxy_the_forwarded_address_counts(rates, settings, db):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    proxy = APIClient(REMOTE_ADDR="10.0.0.1")
    assert [proxy.get("/api/v1/schema/", HTTP_X_FORWARDED_FOR="203.0.113.7").status_code for _ in range(3)] == [
        200,
        200,
        429,
    ]
    assert proxy.get("/api/v1/schema/", HTTP_X_FORWARDED_FOR="203.0.113.8").status_code == 200


@pytest.fixture
def redis_gone(settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    throttling._client = None
    yield
    throttling._client = None
    throttling._redis_down_until = 0.0


def test_without_redis_the_api_goes_on_and_says_so_once(rates, redis_gone, business_process, caplog):
    client = token_client()
    with caplog.at_level(logging.WARNING, logger="callbacks.api.throttling"):
        statuses = [client.post(EVENTS, request_event(f"cb-{n}"), format="json").status_code for n in range(5)]
    assert statuses == [201] * 5
    assert Callback.objects.count() == 5
    warnings = [r for r in caplog.records if "Redis does not answer" in r.getMessage()]
    assert len(warnings) == 1, "Redis is left alone for a while after a failure, not asked at each request"


def test_rates_parse():
    assert throttling.parse_rate("1000/s") == (1000, 1)
    assert throttling.parse_rate("600/min") == (600, 60)
    assert throttling.parse_rate("50/hour") == (50, 3600)
    assert throttling.parse_rate("3/day") == (3, 86400)


def test_the_token_rate_lets_a_burst_through_and_stops_exactly_past_it(rates, db):
    """1,000 requests in one second from one token pass (the ingest load is 200/s), the next one does not."""
    rates(token="1000/s", user="2/day", anon="2/day")
    token, _ = ApiToken.issue("burst")
    request = SimpleNamespace(user=Integration(token), META={})
    throttle = throttling.TokenRateThrottle()
    for _ in range(3):
        time.sleep(1 - time.time() % 1)  # at the start of a second: the 1,001 checks take about 0.3 s
        window = int(time.time())
        allowed = [throttle.allow_request(request, None) for _ in range(1001)]
        if int(time.time()) == window:
            break
    else:
        pytest.skip("this machine is too busy to make 1,001 checks within one second")
    assert allowed == [True] * 1000 + [False]
    assert 0 < throttle.wait() <= 1


def test_the_schema_says_every_operation_may_answer_429(db):
    schema = APIClient().get("/api/v1/schema/", {"format": "json"}).json()
    operations = [operation for path in schema["paths"].values() for operation in path.values()]
    assert len(operations) >= 10
    for operation in operations:
        assert "Retry-After" in operation["responses"]["429"]["headers"], operation["operationId"]
