"""Bad input to the ingest API gets the documented 400 (or 401 / 404) with a clear message and stores nothing."""

from contextlib import contextmanager
from datetime import timedelta

import pytest
from rest_framework.test import APIClient

from callbacks.models import Agent, ApiToken, Attempt, AuditEntry, Callback, IngestedEvent
from tests.conftest import event, fetch, in_

pytestmark = pytest.mark.django_db

URL = "/api/v1/events/"
EVENT_TYPES = [
    "callback.requested",
    "attempt.offered",
    "attempt.accepted",
    "attempt.connected",
    "attempt.completed",
    "attempt.wrapup_completed",
    "callback.cancelled",
]


def counts() -> dict:
    return {
        model.__name__: model.objects.count()
        for model in (Callback, IngestedEvent, Agent, AuditEntry, Attempt, ApiToken)
    } | {"callbacks": list(Callback.objects.order_by("external_id").values())}


@contextmanager
def stores_nothing():
    """No Callback, IngestedEvent, Agent, AuditEntry or Attempt is created, and no callback changes."""
    before = counts()
    yield
    assert counts() == before


def assert_field_error(response, field: str, *fragments: str) -> None:
    """400 whose body names the field with a readable message (containing the given fragments)."""
    assert response.status_code == 400, response.content
    body = response.json()
    assert field in body, body
    messages = body[field]
    assert isinstance(messages, list) and messages and all(isinstance(m, str) and m for m in messages), body
    for fragment in fragments:
        assert any(fragment in m for m in messages), (fragment, messages)


def requested(**fields) -> dict:
    body = {"business_process": "SALES", "phone": "+12125550134"}
    body.update(fields)
    return event("callback.requested", "cb-1", **body)


@pytest.fixture
def dialing(events, business_process):
    """cb-1, offered to and accepted by agent-1."""
    assert events.request().status_code == 201
    events.dial()
    return fetch()


# ---------------------------------------------------------------------------------------------------------
# callback.requested


@pytest.mark.parametrize("phone", ["12345", "not a phone", "", "+1 555", "+99 123 456 789", "555-0134-9999-8888"])
def test_bad_phone(events, business_process, phone):
    """Callback: the customer phone is validated; an invalid one is a 400 on `phone`."""
    with stores_nothing():
        assert_field_error(events.post(requested(phone=phone)), "phone")


@pytest.mark.parametrize(
    ("typed", "e164"),
    [
        ("(212) 555-0134", "+12125550134"),
        ("212.555.0134", "+12125550134"),
        ("212-555-0134", "+12125550134"),
        ("+1 212 555 0134", "+12125550134"),
        ("+44 20 7946 0958", "+442079460958"),
        ("+33 1 42 68 53 00", "+33142685300"),
    ],
)
def test_phone_formats_people_type_are_stored_in_e164(events, business_process, typed, e164):
    """Callback: the phone is stored in E.164 whatever the punctuation it was typed with."""
    response = events.post(requested(phone=typed))
    assert response.status_code == 201, response.json()
    assert response.json()["callback"]["phone"] == e164
    assert fetch().phone == e164
    assert events.callback()["phone"] == e164


def test_unknown_business_process(events, business_process):
    """Ingest: a business process code that does not exist is a 400 naming it."""
    with stores_nothing():
        assert_field_error(events.post(requested(business_process="NOPE")), "business_process", "NOPE")


def test_inactive_business_process(events, make_business_process):
    """Ingest: an inactive business process takes no new callbacks."""
    make_business_process("OLD", is_active=False)
    with stores_nothing():
        assert_field_error(events.post(requested(business_process="OLD")), "business_process", "OLD")


@pytest.mark.parametrize(
    "desired_in",
    [
        pytest.param(-301, id="past-beyond-tolerance"),
        pytest.param(-86400, id="yesterday"),
        pytest.param(30 * 86400 + 60, id="beyond-30-days"),
    ],
)
def test_desired_time_outside_the_schedule_ahead_window(events, business_process, desired_in):
    """Callback: a desired time must lie in [now − 5 min, now + max schedule-ahead]."""
    with stores_nothing():
        assert_field_error(events.post(requested(desired_time=in_(desired_in).isoformat())), "desired_time")


def test_desired_time_beyond_a_shorter_max_schedule_ahead(events, make_business_process):
    """Callback: the window is the business process's own Max schedule-ahead (here 2 hours)."""
    make_business_process("SALES", max_schedule_ahead=timedelta(hours=2))
    with stores_nothing():
        assert_field_error(events.post(requested(desired_time=in_(2 * 3600 + 60).isoformat())), "desired_time")
    assert events.post(requested(desired_time=in_(2 * 3600 - 60).isoformat())).status_code == 201


@pytest.mark.parametrize("desired_in", [-240, 60, 29 * 86400])
def test_desired_time_inside_the_window_is_accepted(events, business_process, desired_in):
    """Callback: the edges of the window that are allowed (4 min in the past is a clock difference)."""
    assert events.post(requested(desired_time=in_(desired_in).isoformat())).status_code == 201


def test_desired_time_without_offset(events, business_process):
    """Ingest: every date-time carries its UTC offset."""
    with stores_nothing():
        assert_field_error(events.post(requested(desired_time="2030-01-01T10:00:00")), "desired_time", "offset")


def test_same_callback_requested_twice_is_a_conflict(events, business_process):
    """Callback: an external id names one callback; a second request for it is refused and stores nothing."""
    assert events.post(requested()).status_code == 201
    with stores_nothing():
        response = events.post(requested(phone="+442079460958"))
        assert response.status_code == 409
        assert "cb-1" in response.json()["error"]


# ---------------------------------------------------------------------------------------------------------
# Fields of every event


def test_unknown_type(events, business_process):
    """Ingest: an unknown event type is a 400 on `type` listing the known ones."""
    with stores_nothing():
        response = events.post(event("attempt.exploded", "cb-1"))
        assert_field_error(response, "type", "callback.requested", "attempt.completed")


@pytest.mark.parametrize("kind", [["callback.requested"], {"name": "callback.requested"}, 7, None, True])
def test_type_that_is_not_a_string(events, business_process, kind):
    """Ingest: a `type` that is not a string is a 400 on `type`, not a server error."""
    with stores_nothing():
        assert_field_error(events.post({**requested(), "type": kind}), "type")


REQUIRED = {
    "callback.requested": ["event_id", "type", "occurred_at", "callback", "business_process", "phone"],
    "attempt.offered": ["event_id", "occurred_at", "callback", "agent"],
    "attempt.accepted": ["agent"],
    "attempt.connected": ["agent", "answered_by"],
    "attempt.completed": ["agent", "status"],
    "attempt.wrapup_completed": ["agent"],
    "callback.cancelled": ["event_id", "occurred_at", "callback"],
}


def full_event(kind: str) -> dict:
    fields = {
        "callback.requested": {"business_process": "SALES", "phone": "+12125550134"},
        "attempt.connected": {"agent": "agent-1", "answered_by": "person"},
        "attempt.completed": {"agent": "agent-1", "status": "no_answer"},
        "callback.cancelled": {},
    }.get(kind, {"agent": "agent-1"})
    return event(kind, "cb-1", **fields)


@pytest.mark.parametrize(("kind", "field"), [(kind, field) for kind, fields in REQUIRED.items() for field in fields])
def test_missing_fields(events, dialing, kind, field):
    """Ingest: each required field, when missing, is a 400 naming it."""
    body = full_event(kind)
    del body[field]
    with stores_nothing():
        response = events.post(body)
        assert_field_error(response, field)


@pytest.mark.parametrize("kind", EVENT_TYPES)
def test_null_and_blank_fields(events, dialing, kind):
    """Ingest: null or blank values of required fields are refused like missing ones."""
    for value in (None, ""):
        body = {**full_event(kind), "occurred_at": value}
        with stores_nothing():
            assert_field_error(events.post(body), "occurred_at")


@pytest.mark.parametrize("occurred_at", ["2026-01-01T10:00:00", "2026-01-01 10:00", "2026-01-01T10:00:00.123456"])
def test_occurred_at_without_offset(events, business_process, occurred_at):
    """Ingest: occurred_at without a UTC offset is ambiguous: 400 asking for the offset."""
    with stores_nothing():
        assert_field_error(events.post({**requested(), "occurred_at": occurred_at}), "occurred_at", "offset")


@pytest.mark.parametrize("occurred_at", ["yesterday", "2026-13-01T10:00:00Z", "12", "2026-01-01T25:00:00+01:00"])
def test_occurred_at_not_a_date_time(events, business_process, occurred_at):
    """Ingest: occurred_at must be an ISO 8601 date-time."""
    with stores_nothing():
        assert_field_error(events.post({**requested(), "occurred_at": occurred_at}), "occurred_at")


def test_occurred_at_more_than_5_minutes_in_the_future(events, business_process):
    """Ingest: an event from more than 5 minutes in the future is a clock error: 400."""
    with stores_nothing():
        response = events.post(requested(**{"occurred_at": in_(6 * 60).isoformat()}))
        assert_field_error(response, "occurred_at", "future")
    assert events.post(requested(**{"occurred_at": in_(4 * 60).isoformat()})).status_code == 201


def test_occurred_at_with_an_offset_other_than_utc(events, business_process):
    """Ingest: any offset is fine; it is the instant that counts."""
    response = events.post(requested(**{"occurred_at": "2026-01-15T09:30:00+01:00"}))
    assert response.status_code == 201
    assert response.json()["callback"]["created"] == "2026-01-15T08:30:00Z"


@pytest.mark.parametrize("status", ["completed", "aborted", "withdrawn", "HANDLED", "", None])
def test_unknown_status(events, dialing, status):
    """Ingest: only the six agent completion statuses exist; others (and the system's own) are 400."""
    with stores_nothing():
        assert_field_error(events.complete(status), "status")


def test_callback_requested_without_reschedule_time(events, dialing):
    """Rule 3 Callback Requested: the time to call back is required."""
    with stores_nothing():
        assert_field_error(events.complete("callback_requested", reschedule_agent="agent-9"), "reschedule_time")
    with stores_nothing():
        response = events.complete("callback_requested", reschedule_time=None, reschedule_agent="agent-9")
        assert_field_error(response, "reschedule_time")


@pytest.mark.parametrize("reschedule_in", [-3600, 31 * 86400])
def test_reschedule_time_outside_the_window(events, dialing, reschedule_in):
    """Callback Requested: the reschedule time must lie in the schedule-ahead window; the agent is not created."""
    with stores_nothing():
        response = events.complete(
            "callback_requested", reschedule_time=in_(reschedule_in).isoformat(), reschedule_agent="agent-9"
        )
        assert_field_error(response, "reschedule_time")
    assert not Agent.objects.filter(login_id="agent-9").exists()


@pytest.mark.parametrize("answered_by", ["machine", "robot", "PERSON", "", None])
def test_answered_by_must_be_person_or_voicemail(events, dialing, answered_by):
    """Rule 3: the attempt records a person or a voicemail, nothing else."""
    with stores_nothing():
        assert_field_error(events.connect(answered_by=answered_by), "answered_by")


@pytest.mark.parametrize(
    "kind",
    [
        "attempt.offered",
        "attempt.accepted",
        "attempt.connected",
        "attempt.completed",
        "attempt.wrapup_completed",
        "callback.cancelled",
    ],
)
def test_unknown_callback_id(events, dialing, kind):
    """Ingest: an event about a callback that does not exist is a 400 on `callback`; no agent is created."""
    body = {**full_event(kind), "callback": "cb-unknown", "agent": "agent-new"}
    if kind == "callback.cancelled":
        del body["agent"]
    with stores_nothing():
        assert_field_error(events.post(body), "callback", "cb-unknown")


@pytest.mark.parametrize("field", ["event_id", "callback", "agent"])
def test_overlong_identifiers(events, dialing, field):
    """Ingest: identifiers longer than their columns are 400, not a database error."""
    body = {**full_event("attempt.completed"), field: "x" * 201}
    with stores_nothing():
        assert_field_error(events.post(body), field)


# ---------------------------------------------------------------------------------------------------------
# The body


@pytest.mark.parametrize("raw", [b'{"event_id": ', b"{'event_id': 'x'}", b"[1, 2", b"\xff\xfe"])
def test_malformed_json(api, business_process, raw):
    """Ingest: a body that is not JSON is a 400 with a parse error."""
    with stores_nothing():
        response = api.post(URL, data=raw, content_type="application/json")
        assert response.status_code == 400, response.content
        assert "JSON" in response.json()["detail"] or "parse" in response.json()["detail"].lower()


@pytest.mark.parametrize("raw", [b'"an event"', b"42", b"null", b"true"])
def test_json_body_that_is_not_an_object_or_array(api, business_process, raw):
    """Ingest: the body is an event object or an array of events."""
    with stores_nothing():
        response = api.post(URL, data=raw, content_type="application/json")
        assert_field_error(response, "non_field_errors", "event")


def test_form_encoded_body_is_refused(api, business_process):
    """Ingest: the API speaks JSON only."""
    with stores_nothing():
        response = api.post(URL, data="event_id=1", content_type="application/x-www-form-urlencoded")
        assert response.status_code == 415


def test_empty_array(api, business_process):
    """Ingest: an empty array is a 400 — nothing to apply."""
    with stores_nothing():
        response = api.post(URL, [], format="json")
        assert_field_error(response, "non_field_errors", "at least one")


def test_array_items_that_are_not_objects_are_rejected_one_by_one(events, business_process):
    """Ingest: inside an array, a non-object item is rejected and the others applied."""
    response = events.post(["x", requested(), 5])
    assert response.status_code == 200
    assert [r["result"] for r in response.json()["results"]] == ["rejected", "applied", "rejected"]


def test_an_array_answers_results_without_the_callback_and_its_events_stay_idempotent(events, business_process):
    """Ingest: an array's results carry event_id, result and error only; an event of it sent again alone is a
    duplicate whose answer repeats that first answer."""
    first = requested()
    results = events.post([first]).json()["results"]
    assert results == [{"event_id": first["event_id"], "result": "applied"}]

    again = events.post(first)

    assert again.status_code == 200
    assert again.json() == {"event_id": first["event_id"], "result": "duplicate"}
    assert Callback.objects.count() == 1


def test_more_than_1000_events(events, business_process):
    """Ingest: at most 1,000 events per request; 1,001 is a 400 and none of them is applied."""
    first = requested()
    with stores_nothing():
        response = events.post([first] + [requested() for _ in range(1000)])
        assert_field_error(response, "non_field_errors", "1000", "1001")


def test_exactly_1000_events(events, business_process):
    """Ingest: 1,000 events is allowed: one result per event, in order."""
    first = requested()
    batch = [first] * 1000  # one applied, the rest duplicates: cheap, and every one is answered
    response = events.post(batch)
    assert response.status_code == 200
    results = response.json()["results"]
    assert len(results) == 1000
    assert results[0]["result"] == "applied"
    assert {r["result"] for r in results[1:]} == {"duplicate"}
    assert Callback.objects.count() == 1


# ---------------------------------------------------------------------------------------------------------
# Authentication


def test_no_token(business_process):
    """API tokens: without a token every endpoint is 401."""
    client = APIClient()
    with stores_nothing():
        assert client.post(URL, requested(), format="json").status_code == 401
        assert client.get("/api/v1/callbacks/cb-1/").status_code == 401


def test_revoked_token(business_process):
    """API tokens: a revoked token is refused with 401."""
    token, key = ApiToken.issue("revoked")
    token.revoke()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    with stores_nothing():
        response = client.post(URL, requested(), format="json")
        assert response.status_code == 401
        assert "revoked" in response.json()["detail"].lower()


@pytest.mark.parametrize("header", ["Token not-a-real-key", "Bearer abc", "Token", "Token a b"])
def test_wrong_token(business_process, header):
    """API tokens: an unknown key or a malformed header is 401."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    with stores_nothing():
        assert client.post(URL, requested(), format="json").status_code == 401


def test_a_valid_token_records_its_use(api, business_process):
    """API tokens: a request with a valid token is accepted, and the token's last use is recorded."""
    assert api.post(URL, requested(), format="json").status_code == 201
    assert ApiToken.objects.get(name="tests").last_used_at is not None


# ---------------------------------------------------------------------------------------------------------
# Reading, schema, docs


def test_get_unknown_callback(api, business_process):
    """API: an unknown callback id is 404."""
    assert api.get("/api/v1/callbacks/cb-nope/").status_code == 404


def test_get_callback_shows_it(events, dialing):
    """API: a callback reads back with its state, location and attempts."""
    body = events.callback()
    assert body["callback"] == "cb-1"
    assert body["business_process"] == "SALES"
    assert body["attempts_before_failure"] == 3
    assert len(body["attempt_history"]) == 1


def test_schema_documents_the_events_endpoint():
    """API: /api/v1/schema/ is an OpenAPI document describing POST /api/v1/events/ and every event type."""
    response = APIClient().get("/api/v1/schema/", {"format": "json"})
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert "post" in schema["paths"]["/api/v1/events/"]
    assert "/api/v1/callbacks/{external_id}/" in schema["paths"]
    text = response.content.decode()
    for kind in EVENT_TYPES:
        assert kind in text, kind


def test_schema_default_format_is_yaml():
    """API: the schema also answers in its default (YAML) form."""
    response = APIClient().get("/api/v1/schema/")
    assert response.status_code == 200
    assert b"/api/v1/events/" in response.content
    assert b"openapi:" in response.content


def test_docs_render():
    """API: /api/v1/docs/ renders the Swagger UI pointing at the schema."""
    response = APIClient().get("/api/v1/docs/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    # Its start script comes from a URL of its own (no inline script under the Content Security Policy).
    assert b'<script src="/api/v1/docs/?script="></script>' in response.content
    assert b"/api/v1/schema/" in APIClient().get("/api/v1/docs/?script=").content
