"""Schemathesis against the OpenAPI schema the app serves: every operation, random and example inputs, in-process
through Django's WSGI handler (no server). Never a 500, and every answer as the schema describes it."""

import zlib

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from django.test import Client
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from callbacks.models import ApiToken

CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance]
# Session-only operations: a person acts (an API token gets 403 there by design).
SESSION_OPERATIONS = (
    "send_to_queue_callback",
    "purge_callback",
    "cancel_callback",
    "reschedule_callback",
    "recreate_callback",
    "stop_business_process",
    "resume_business_process",
)
CSRF_SECRET = "a" * 32


@pytest.fixture
def api_schema(transactional_db, make_business_process, events):
    # A real WSGI handler commits for real (it closes the connection after each request), hence transactional_db.
    make_business_process("SALES")
    for number in range(3):
        assert events.request(f"cb-{number}").status_code == 201
    return schemathesis.openapi.from_wsgi("/api/v1/schema/", get_wsgi_application())


schema = schemathesis.pytest.from_fixture("api_schema")


@pytest.fixture
def credentials(make_user):
    """Headers and cookies for each kind of caller: an integration's token, a supervisor's session with CSRF."""
    _, key = ApiToken.issue("schemathesis")
    client = Client()
    client.force_login(make_user("supervisors"))
    return {
        "token": ({"Authorization": f"Token {key}"}, {}),
        "session": (
            {"X-CSRFToken": CSRF_SECRET},
            {"sessionid": client.cookies["sessionid"].value, "csrftoken": CSRF_SECRET},
        ),
    }


@pytest.mark.slow
@pytest.mark.timeout(600)  # ~10 s on an idle machine; generous for a loaded CI runner
@schema.parametrize()
@settings(derandomize=True, max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_answers_as_its_schema_says(case, credentials):
    kind = "session" if case.operation.definition.raw.get("operationId") in SESSION_OPERATIONS else "token"
    parameters = case.path_parameters or {}
    existing = zlib.crc32(repr(sorted(parameters.items())).encode()) % 4  # 3 in 4: an id that exists
    if existing:
        # Random ids all answer 404: aim at the callbacks and business process that exist as often as not, so that
        # bodies reach the engine (200, 400, 409 as their states change along the run).
        if "external_id" in parameters:
            case.path_parameters = parameters | {"external_id": f"cb-{existing - 1}"}
        if "code" in parameters:
            case.path_parameters = parameters | {"code": "SALES"}
    headers, cookies = credentials[kind]
    # Schemathesis fills the schema's security schemes with random values: replace them with real credentials.
    case.headers = {k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"} | headers
    case.cookies = cookies
    case.call_and_validate(checks=CHECKS)
