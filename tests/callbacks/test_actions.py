"""A supervisor's actions on one callback: the engine's rules (stale pages included) and the action API."""

import json
import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from callbacks import engine
from callbacks.choices import AuditAction, CallbackState
from callbacks.models import Agent, Attempt, AuditEntry, Callback
from tests.conftest import fetch

pytestmark = pytest.mark.django_db

SUPERVISOR = engine.Actor("user:sophie")
ACTIONS = ["send-to-queue", "purge", "cancel", "reschedule", "recreate"]


def request(bp, ext: str = "cb-1", *, later: timedelta | None = None, **fields) -> Callback:
    """A callback: Queued (the business process is open), or Pending when it has a desired time ``later``."""
    now = timezone.now()
    return engine.request_callback(
        external_id=ext,
        business_process=bp,
        phone="+12125550134",
        at=now,
        actor=SUPERVISOR,
        desired_time=now + later if later else None,
        **fields,
    )


def dialing(bp, ext: str = "cb-1") -> Callback:
    callback = request(bp, ext)
    agent, _ = Agent.objects.get_or_create(login_id="agent-1")
    engine.offer(callback.pk, agent, timezone.now(), SUPERVISOR)
    return engine.accept(callback.pk, agent, timezone.now(), SUPERVISOR)


def unchanged(callback: Callback) -> tuple:
    """What a refused action must leave as it was: the row, its attempts and the audit log."""
    fresh = Callback.objects.get(pk=callback.pk)
    return (
        fresh.state,
        fresh.agent_phase,
        fresh.end_state,
        fresh.desired_time,
        fresh.due_at,
        fresh.updated,
        list(Attempt.objects.filter(callback=callback).values_list("completion_status", "completed_at")),
        AuditEntry.objects.count(),
        Callback.objects.count(),
    )


# ---------------------------------------------------------------------------------------------------------
# The engine: stale pages


@pytest.mark.parametrize(
    "act",
    [
        lambda pk, expected: engine.send_to_queue(pk, timezone.now(), SUPERVISOR, expected),
        lambda pk, expected: engine.purge(pk, timezone.now(), SUPERVISOR, expected),
        lambda pk, expected: engine.cancel(pk, timezone.now(), SUPERVISOR, "", expected),
        lambda pk, expected: engine.reschedule(
            pk, timezone.now() + timedelta(hours=2), timezone.now(), SUPERVISOR, expected
        ),
    ],
    ids=["send_to_queue", "purge", "cancel", "reschedule"],
)
def test_an_action_on_a_callback_that_moved_on_since_the_page_was_drawn_is_refused(business_process, act):
    callback = request(business_process, later=timedelta(hours=1))
    engine.send_to_queue(callback.pk, timezone.now(), SUPERVISOR)  # another supervisor, meanwhile
    before = unchanged(callback)

    with pytest.raises(engine.TransitionRefused) as refused:
        act(callback.pk, CallbackState.SCHEDULED)

    assert str(refused.value) == (
        "Callback cb-1 is now Queued (HandlingByBusinessProcess); it was Scheduled (Pending) when your page was "
        "drawn. Nothing was changed."
    )
    assert unchanged(callback) == before


def test_an_action_whose_expected_state_holds_applies(business_process):
    callback = request(business_process, later=timedelta(hours=1))
    engine.send_to_queue(callback.pk, timezone.now(), SUPERVISOR, CallbackState.SCHEDULED)
    assert fetch().state == CallbackState.QUEUED
    engine.purge(callback.pk, timezone.now(), SUPERVISOR, CallbackState.QUEUED)
    assert (fetch().state, fetch().end_state) == ("completed", "purged")


def test_the_stale_message_names_the_agent_phase_and_the_end_state(business_process):
    callback = dialing(business_process)
    with pytest.raises(
        engine.TransitionRefused,
        match=r"is now Processing \(Dialing, HandlingByAgent\); it was Queued \(HandlingByBusinessProcess\) ",
    ):
        engine.purge(callback.pk, timezone.now(), SUPERVISOR, CallbackState.QUEUED)
    other = request(business_process, "cb-2")
    engine.cancel(other.pk, timezone.now(), SUPERVISOR)
    with pytest.raises(engine.TransitionRefused, match=r"cb-2 is now Completed \(Cancelled\); it was Queued"):
        engine.purge(other.pk, timezone.now(), SUPERVISOR, CallbackState.QUEUED)


def test_purge_while_processing_is_refused_and_changes_nothing(business_process):
    callback = dialing(business_process)
    before = unchanged(callback)
    with pytest.raises(engine.TransitionRefused, match="cannot be purged while an agent is on it"):
        engine.purge(callback.pk, timezone.now(), SUPERVISOR, CallbackState.PROCESSING)
    assert unchanged(callback) == before


# ---------------------------------------------------------------------------------------------------------
# The engine: reschedule


def test_reschedule_moves_a_pending_callback_and_audits_before_and_after(business_process):
    callback = request(business_process)  # immediate: Queued
    pending = request(business_process, "cb-2", later=timedelta(hours=1))
    old_time = pending.desired_time
    new_time = (timezone.now() + timedelta(days=2)).replace(microsecond=0)

    engine.reschedule(pending.pk, new_time, timezone.now(), SUPERVISOR, CallbackState.SCHEDULED)

    moved = fetch("cb-2")
    assert (moved.state, moved.desired_time, moved.due_at, moved.was_scheduled) == (
        "scheduled",
        new_time,
        new_time,
        True,
    )
    entry = AuditEntry.objects.filter(callback=moved).first()
    assert (entry.action, entry.actor) == (AuditAction.RESCHEDULED, "user:sophie")
    assert entry.changes == {
        "desired_time": [old_time.isoformat(), new_time.isoformat()],
        "due_at": [old_time.isoformat(), new_time.isoformat()],
    }
    before = unchanged(callback)
    with pytest.raises(engine.TransitionRefused, match="cb-1 cannot be rescheduled: it is Queued, not Scheduled"):
        engine.reschedule(callback.pk, new_time, timezone.now(), SUPERVISOR)
    assert unchanged(callback) == before


def test_reschedule_outside_the_schedule_ahead_window_is_a_validation_error(make_business_process):
    bp = make_business_process(max_schedule_ahead=timedelta(days=1))
    callback = request(bp, later=timedelta(hours=1))
    before = unchanged(callback)
    for when in (timezone.now() + timedelta(days=2), timezone.now() - timedelta(hours=1)):
        with pytest.raises(engine.ValidationError) as error:
            engine.reschedule(callback.pk, when, timezone.now(), SUPERVISOR)
        assert "schedule-ahead window of SALES" in error.value.message_dict["desired_time"][0]
    assert unchanged(callback) == before


# ---------------------------------------------------------------------------------------------------------
# The engine: recreate


def test_recreate_makes_a_new_immediate_callback_and_both_audit_trails_name_the_other(business_process):
    owner = Agent.objects.create(login_id="owner-7", display_name="Olga")
    old = request(business_process, later=timedelta(hours=1), customer_name="Ada Lovelace", owner_agent=owner)
    engine.purge(old.pk, timezone.now(), SUPERVISOR)
    callbacks_before = Callback.objects.count()

    new = engine.recreate(old.pk, timezone.now(), SUPERVISOR, CallbackState.COMPLETED)

    assert Callback.objects.count() == callbacks_before + 1
    new = fetch(new.external_id)
    assert new.external_id == "cb-1-r1"
    assert (new.business_process, new.phone, new.customer_name, new.owner_agent) == (
        business_process,
        "+12125550134",
        "Ada Lovelace",
        owner,
    )
    assert (new.state, new.desired_time, new.was_scheduled, new.attempts) == ("queued", None, False, 0)
    assert fetch("cb-1").end_state == "purged", "the old one stays as it was"
    old_entry = AuditEntry.objects.filter(callback=old).first()
    new_entry = AuditEntry.objects.get(callback=new)
    assert (old_entry.action, old_entry.note, old_entry.actor) == (
        AuditAction.RECREATED,
        "recreated as cb-1-r1",
        "user:sophie",
    )
    assert (new_entry.action, new_entry.note) == (AuditAction.CALLBACK_REQUESTED, "recreated from cb-1")


def test_a_callback_is_recreated_once_and_a_recreated_one_gets_the_next_number(business_process):
    old = request(business_process)
    engine.cancel(old.pk, timezone.now(), SUPERVISOR)
    first = engine.recreate(old.pk, timezone.now(), SUPERVISOR)
    before = unchanged(old)
    with pytest.raises(engine.TransitionRefused, match="cb-1 was already recreated as cb-1-r1. Nothing was changed."):
        engine.recreate(old.pk, timezone.now(), SUPERVISOR)
    assert unchanged(old) == before

    engine.purge(first.pk, timezone.now(), SUPERVISOR)
    assert engine.recreate(first.pk, timezone.now(), SUPERVISOR).external_id == "cb-1-r2"


def test_only_a_completed_callback_of_an_active_business_process_is_recreated(business_process):
    callback = request(business_process)
    before = unchanged(callback)
    with pytest.raises(engine.TransitionRefused, match="cb-1 cannot be recreated: it is Queued, not Completed"):
        engine.recreate(callback.pk, timezone.now(), SUPERVISOR)
    assert unchanged(callback) == before

    engine.purge(callback.pk, timezone.now(), SUPERVISOR)
    business_process.is_active = False
    business_process.save()
    before = unchanged(callback)
    with pytest.raises(engine.TransitionRefused, match="business process SALES is no longer active"):
        engine.recreate(callback.pk, timezone.now(), SUPERVISOR)
    assert unchanged(callback) == before


# ---------------------------------------------------------------------------------------------------------
# The API


def url(action: str, ext: str = "cb-1") -> str:
    return reverse(f"api-callback-{action}", kwargs={"external_id": ext})


def ready(bp, action: str) -> dict:
    """A callback in a state the action fits, and the body to post."""
    if action in ("send-to-queue", "reschedule"):
        request(bp, later=timedelta(hours=1))
        expected = "scheduled"
    elif action == "recreate":
        engine.purge(request(bp).pk, timezone.now(), SUPERVISOR)
        expected = "completed"
    else:
        request(bp)
        expected = "queued"
    body = {"expected_state": expected}
    if action == "reschedule":
        body["desired_time"] = (timezone.now() + timedelta(days=1)).isoformat()
    if action == "cancel":
        body["reason"] = "customer called in"
    return body


def logged_in(make_user, role: str | None, username: str | None = None) -> APIClient:
    client = APIClient()
    client.force_login(make_user(role, username))
    return client


def test_the_url_names_and_paths_other_pages_use():
    assert [url(action) for action in ACTIONS] == [f"/api/v1/callbacks/cb-1/{action}/" for action in ACTIONS]


@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize("role", ["supervisors", "administrators"])
def test_supervisors_and_administrators_act_under_their_name(business_process, make_user, role, action):
    body = ready(business_process, action)
    client = logged_in(make_user, role)

    response = client.post(url(action), body, format="json")

    assert response.status_code == (201 if action == "recreate" else 200), response.json()
    shown = response.json()
    expected = {
        "send-to-queue": ("cb-1", "queued", ""),
        "purge": ("cb-1", "completed", "purged"),
        "cancel": ("cb-1", "completed", "cancelled"),
        "reschedule": ("cb-1", "scheduled", ""),
        "recreate": ("cb-1-r1", "queued", ""),
    }[action]
    assert (shown["callback"], shown["state"], shown["end_state"]) == expected
    entry = AuditEntry.objects.filter(callback__external_id=expected[0]).first()
    assert (entry.actor, entry.user.username) == (f"user:{role}-user", f"{role}-user")
    if action == "cancel":
        assert AuditEntry.objects.get(action=AuditAction.CANCELLED).note == "customer called in"
    if action == "reschedule":
        assert shown["desired_time"] is not None and fetch().desired_time.isoformat()[:16] == body["desired_time"][:16]


@pytest.mark.parametrize("action", ACTIONS)
def test_managers_tokens_and_anonymous_callers_are_refused_and_nothing_changes(
    business_process, make_user, api, action
):
    body = ready(business_process, action)
    callback = fetch()
    before = unchanged(callback)
    manager = logged_in(make_user, "managers")
    nobody = logged_in(make_user, None)

    assert manager.post(url(action), body, format="json").status_code == 403
    assert nobody.post(url(action), body, format="json").status_code == 403
    assert api.post(url(action), body, format="json").status_code == 403, "a token is a machine, not a person"
    anonymous = APIClient().post(url(action), body, format="json")
    assert anonymous.status_code == 401, "an API answers, it does not redirect to the login page"
    assert anonymous.headers["WWW-Authenticate"] == "Token"
    assert unchanged(callback) == before


def test_a_refusal_answers_409_with_the_current_state_in_words(business_process, make_user):
    dialing(business_process)
    client = logged_in(make_user, "supervisors")

    purge = client.post(url("purge"), {"expected_state": "processing"}, format="json")
    assert purge.status_code == 409
    assert purge.json() == {
        "detail": "Callback cb-1 cannot be purged while an agent is on it (Processing (Dialing)).",
        "state": "processing",
        "state_label": "Dialing",
        "location": "HandlingByAgent",
    }

    stale = client.post(url("send-to-queue"), {"expected_state": "scheduled"}, format="json")
    assert stale.status_code == 409
    assert stale.json()["detail"].startswith("Callback cb-1 is now Processing (Dialing, HandlingByAgent); it was ")

    engine.cancel(request(business_process, "cb-2").pk, timezone.now(), SUPERVISOR)
    late = client.post(url("cancel", "cb-2"), {}, format="json")
    assert (late.status_code, late.json()["state_label"], late.json()["location"]) == (409, "Cancelled", "")


def test_bad_bodies_answer_400_with_field_errors_and_change_nothing(business_process, make_user):
    callback = request(business_process, later=timedelta(hours=1))
    before = unchanged(callback)
    client = logged_in(make_user, "supervisors")

    def post(action: str, data, **kwargs):
        return client.post(url(action), data, **kwargs)

    not_json = post("purge", "{nope", content_type="application/json")
    assert not_json.status_code == 400 and "JSON parse error" in not_json.json()["non_field_errors"][0]
    not_object = post("purge", json.dumps(["purge"]), content_type="application/json")
    assert not_object.json() == {"non_field_errors": ["Send a JSON object."]}
    unknown = post("purge", {"expected_state": "pending"}, format="json")
    assert unknown.status_code == 400 and "expected_state" in unknown.json()
    assert post("reschedule", {}, format="json").json() == {"desired_time": ["This field is required."]}
    naive = post("reschedule", {"desired_time": "2026-11-25T14:30:00"}, format="json")
    assert naive.json() == {"desired_time": ["Include the UTC offset, e.g. 2026-11-25T14:30:00+01:00."]}
    garbage = post("reschedule", {"desired_time": "tomorrow"}, format="json")
    assert garbage.status_code == 400 and "desired_time" in garbage.json()
    too_far = post("reschedule", {"desired_time": (timezone.now() + timedelta(days=45)).isoformat()}, format="json")
    assert too_far.status_code == 400
    assert "schedule-ahead window of SALES" in too_far.json()["desired_time"][0]
    long_reason = post("cancel", {"reason": "x" * 501}, format="json")
    assert long_reason.status_code == 400 and "reason" in long_reason.json()
    assert unchanged(callback) == before


def test_an_unknown_callback_is_404(business_process, make_user):
    client = logged_in(make_user, "supervisors")
    for action in ACTIONS:
        assert client.post(url(action, "nope"), {}, format="json").status_code == 404


def test_a_session_post_needs_its_csrf_token(business_process, make_user):
    request(business_process)
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(make_user("supervisors"))
    browser.get(reverse("business-process-search", kwargs={"code": "SALES"}))  # the page sets the csrftoken cookie
    token = browser.cookies["csrftoken"].value

    refused = browser.post(url("purge"), {"expected_state": "queued"}, content_type="application/json")
    assert refused.status_code == 403 and "CSRF" in refused.json()["detail"]
    assert fetch().state == "queued"

    accepted = browser.post(
        url("purge"), {"expected_state": "queued"}, content_type="application/json", headers={"X-CSRFToken": token}
    )
    assert accepted.status_code == 200 and fetch().end_state == "purged"


def test_the_schema_documents_the_actions(tmp_path):
    from django.core.management import call_command

    target = tmp_path / "schema.yml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    schema = target.read_text()
    for operation in ("send_to_queue", "purge", "cancel", "reschedule", "recreate"):
        assert f"operationId: {operation}_callback" in schema
    assert "/api/v1/callbacks/{external_id}/send-to-queue/:" in schema


# ---------------------------------------------------------------------------------------------------------
# Two supervisors at once (PostgreSQL: SQLite serializes writers by locking the whole database, so there is no
# row lock to race for)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("second", ["send-to-queue", "purge"])
def test_two_supervisors_racing_for_one_callback_exactly_one_applies(make_business_process, make_user, second):
    if connection.vendor != "postgresql":
        pytest.skip("the race needs PostgreSQL's row locks; SQLite locks the whole database for each writer")
    bp = make_business_process()
    request(bp, later=timedelta(hours=1))
    clients = [logged_in(make_user, "supervisors", "sophie"), logged_in(make_user, "supervisors", "sam")]
    actions = ["purge", second]
    barrier = threading.Barrier(2)
    answers: dict[int, object] = {}

    def act(index: int) -> None:
        try:
            barrier.wait(5)
            answers[index] = clients[index].post(url(actions[index]), {"expected_state": "scheduled"}, format="json")
        finally:
            connection.close()

    threads = [threading.Thread(target=act, args=(index,)) for index in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)

    statuses = sorted(answers[index].status_code for index in range(2))
    assert statuses == [200, 409], [answers[index].json() for index in range(2)]
    loser = next(answers[index] for index in range(2) if answers[index].status_code == 409)
    winner = next(index for index in range(2) if answers[index].status_code == 200)
    now = fetch()
    assert loser.json()["state"] == now.state
    assert "when your page was drawn. Nothing was changed." in loser.json()["detail"]
    if actions[winner] == "purge":
        assert (now.state, now.end_state) == ("completed", "purged")
    else:
        assert now.state == "queued"
    supervisor_actions = AuditEntry.objects.filter(user__isnull=False).values_list("action", flat=True)
    assert len(supervisor_actions) == 1, "exactly one action applied and was audited"


@pytest.mark.django_db(transaction=True)
def test_two_supervisors_recreating_one_callback_at_once_make_one_new_callback(make_business_process, make_user):
    if connection.vendor != "postgresql":
        pytest.skip("the race needs PostgreSQL's row locks; SQLite locks the whole database for each writer")
    bp = make_business_process()
    engine.purge(request(bp).pk, timezone.now(), SUPERVISOR)
    clients = [logged_in(make_user, "supervisors", "sophie"), logged_in(make_user, "supervisors", "sam")]
    barrier = threading.Barrier(2)
    answers: dict[int, object] = {}

    def act(index: int) -> None:
        try:
            barrier.wait(5)
            answers[index] = clients[index].post(url("recreate"), {"expected_state": "completed"}, format="json")
        finally:
            connection.close()

    threads = [threading.Thread(target=act, args=(index,)) for index in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)

    assert sorted(answers[index].status_code for index in range(2)) == [201, 409]
    loser = next(answers[index] for index in range(2) if answers[index].status_code == 409)
    assert loser.json()["detail"] == "Callback cb-1 was already recreated as cb-1-r1. Nothing was changed."
    assert list(Callback.objects.order_by("external_id").values_list("external_id", flat=True)) == ["cb-1", "cb-1-r1"]
