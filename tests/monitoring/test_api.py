"""The read API: the monitor's columns as numbers (session or token), and Stop / Resume for supervisors."""

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.test import APIClient

from callbacks import engine
from callbacks.choices import AuditAction
from callbacks.models import AuditEntry, BusinessProcess
from monitoring.api.serializers import MonitorRowSerializer
from monitoring.columns import compute_rows

from .test_explain import build_scenario

LIST = "/api/v1/business-processes/"


@pytest.fixture
def scenario(make_business_process):
    return build_scenario(make_business_process)


@pytest.fixture
def manager(make_user) -> APIClient:
    client = APIClient()
    client.force_login(make_user("managers"))
    return client


def without_time(row: dict) -> dict:
    return {key: value for key, value in row.items() if key != "computed_at"}


def test_the_list_gives_every_row_as_the_columns_compute_it(scenario, manager):
    response = manager.get(LIST)
    assert response.status_code == 200
    body = response.json()
    monitor = compute_rows()
    assert [without_time(row) for row in body["results"]] == [without_time(row.as_api()) for row in monitor.rows]
    assert without_time(body["totals"]) == without_time(monitor.totals.as_api())
    paris = next(row for row in body["results"] if row["code"] == "PARIS")
    assert paris | {"computed_at": None, "shift_start": None} == {
        "code": "PARIS",
        "name": "Paris",
        "status": "active",
        "proc": 3,
        "to_be_processed": 3,
        "avg_time_seconds": None,
        "purged": 1,
        "pct_reached": 33.3,
        "pct_failed": 66.7,
        "shift_start": None,
        "computed_at": None,
    }
    assert body["totals"]["proc"] == 5 and body["totals"]["pct_reached"] == 40.0
    assert set(body["totals"]) == set(paris) == set(MonitorRowSerializer().fields), "the schema describes the rows"


def test_the_detail_gives_one_row(scenario, manager):
    response = manager.get(f"{LIST}TOKYO/")
    assert response.status_code == 200
    (tokyo,) = compute_rows(business_process_ids=[scenario.tokyo.pk]).rows
    assert without_time(response.json()) == without_time(tokyo.as_api())
    assert (response.json()["proc"], response.json()["pct_reached"]) == (2, 50.0)


def test_an_unknown_or_inactive_code_is_404(scenario, manager):
    BusinessProcess.objects.filter(code="TOKYO").update(is_active=False)
    assert manager.get(f"{LIST}NOPE/").status_code == 404
    assert manager.get(f"{LIST}TOKYO/").status_code == 404
    assert "TOKYO" not in {row["code"] for row in manager.get(LIST).json()["results"]}


def test_percentages_are_null_when_nothing_was_processed(scenario, manager):
    empty = manager.get(f"{LIST}EMPTY/").json()
    assert (empty["proc"], empty["pct_reached"], empty["pct_failed"], empty["avg_time_seconds"]) == (
        0,
        None,
        None,
        None,
    )


def test_status_values(make_business_process, manager):
    make_business_process("OPEN")
    make_business_process("CLOSED", open=False)
    stopped = make_business_process("STOPPED")
    engine.set_stopped(stopped.pk, True, engine.Actor("tests"))
    statuses = {row["code"]: row["status"] for row in manager.get(LIST).json()["results"]}
    assert statuses == {"OPEN": "active", "CLOSED": "off_schedule", "STOPPED": "stopped"}
    assert manager.get(LIST).json()["totals"]["status"] is None


def test_a_token_may_read(scenario, api):
    assert api.get(LIST).status_code == 200
    assert api.get(f"{LIST}PARIS/").json()["proc"] == 3


def test_reading_needs_a_login_or_a_token(scenario, make_user):
    anonymous = APIClient().get(LIST)
    assert anonymous.status_code == 401
    assert anonymous["WWW-Authenticate"] == "Token"
    nobody = APIClient()
    nobody.force_login(make_user(None))
    assert nobody.get(LIST).status_code == 403
    assert nobody.get(f"{LIST}PARIS/").status_code == 403
    assert APIClient(HTTP_AUTHORIZATION="Token wrong").get(LIST).status_code == 401


@pytest.mark.parametrize("role", ["supervisors", "administrators"])
def test_supervisors_and_administrators_stop_and_resume(business_process, make_user, role):
    user = make_user(role)
    client = APIClient()
    client.force_login(user)

    stopped = client.post(f"{LIST}SALES/stop/")
    assert stopped.status_code == 200, stopped.content
    assert stopped.json()["status"] == "stopped" and stopped.json()["code"] == "SALES"
    business_process.refresh_from_db()
    assert business_process.is_stopped
    entry = AuditEntry.objects.get(action=AuditAction.STOPPED)
    assert (entry.user, entry.actor, entry.business_process, entry.changes) == (
        user,
        f"user:{user.username}",
        business_process,
        {"is_stopped": [False, True]},
    )

    resumed = client.post(f"{LIST}SALES/resume/")
    assert resumed.status_code == 200
    assert resumed.json()["status"] == "active"
    assert AuditEntry.objects.filter(action=AuditAction.RESUMED, user=user).count() == 1


def test_stopping_twice_is_a_conflict(business_process, make_user):
    client = APIClient()
    client.force_login(make_user("supervisors"))
    assert client.post(f"{LIST}SALES/stop/").status_code == 200
    again = client.post(f"{LIST}SALES/stop/")
    assert again.status_code == 409
    assert again.json() == {"detail": "Callbacks of SALES are already stopped."}
    assert client.post(f"{LIST}SALES/resume/").status_code == 200
    running = client.post(f"{LIST}SALES/resume/")
    assert running.status_code == 409 and "already" in running.json()["detail"]
    assert AuditEntry.objects.filter(business_process=business_process).count() == 2


def test_stop_of_an_unknown_business_process_is_404(db, make_user):
    client = APIClient()
    client.force_login(make_user("supervisors"))
    assert client.post(f"{LIST}NOPE/stop/").status_code == 404


@pytest.mark.parametrize("action", ["stop", "resume"])
def test_managers_tokens_and_anonymous_may_not_stop_or_resume(business_process, make_user, api, action):
    if action == "resume":
        engine.set_stopped(business_process.pk, True, engine.Actor("tests"))
    manager = APIClient()
    manager.force_login(make_user("managers"))
    nobody = APIClient()
    nobody.force_login(make_user(None))
    assert manager.post(f"{LIST}SALES/{action}/").status_code == 403
    assert nobody.post(f"{LIST}SALES/{action}/").status_code == 403
    assert api.post(f"{LIST}SALES/{action}/").status_code == 403
    assert APIClient().post(f"{LIST}SALES/{action}/").status_code == 401
    business_process.refresh_from_db()
    assert business_process.is_stopped == (action == "resume"), "nothing changed"
    assert not AuditEntry.objects.filter(action__in=[AuditAction.STOPPED, AuditAction.RESUMED], user__isnull=False)


def test_a_session_post_needs_its_csrf_token(business_process, make_user):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(make_user("supervisors"))
    browser.get("/")  # the page sets the csrftoken cookie, as in the real browser
    token = browser.cookies["csrftoken"].value

    refused = browser.post(f"{LIST}SALES/stop/")
    assert refused.status_code == 403
    assert "CSRF" in refused.json()["detail"]
    business_process.refresh_from_db()
    assert not business_process.is_stopped

    refused = browser.post(f"{LIST}SALES/stop/", content_type="application/json")
    assert refused.status_code == 403

    accepted = browser.post(f"{LIST}SALES/stop/", content_type="application/json", headers={"X-CSRFToken": token})
    assert accepted.status_code == 200
    business_process.refresh_from_db()
    assert business_process.is_stopped
    form = browser.post(f"{LIST}SALES/resume/", {"csrfmiddlewaretoken": token})
    assert form.status_code == 200, "a plain HTML form with its token works too"


def test_the_url_names_other_pages_use(business_process):
    assert reverse("api-business-process-stop", kwargs={"code": "SALES"}) == f"{LIST}SALES/stop/"
    assert reverse("api-business-process-resume", kwargs={"code": "SALES"}) == f"{LIST}SALES/resume/"


def test_the_list_costs_the_same_queries_for_3_or_30_business_processes(
    scenario, manager, make_business_process, django_assert_max_num_queries
):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert manager.get(LIST).status_code == 200
        return len(captured)

    few = queries()
    for n in range(27):
        make_business_process(f"MORE{n}", time_zone=["UTC", "Europe/Paris", "Asia/Tokyo"][n % 3])
    with django_assert_max_num_queries(few):
        assert len(manager.get(LIST).json()["results"]) == 30
    assert few <= 12


def test_the_schema_describes_the_monitor_endpoints_without_warnings(tmp_path):
    target = tmp_path / "schema.yml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    schema = target.read_text()
    for operation in (
        "list_business_processes",
        "retrieve_business_process",
        "stop_business_process",
        "resume_business_process",
    ):
        assert f"operationId: {operation}" in schema
