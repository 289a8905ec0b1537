"""Bulk cancel from the Callbacks page: engine.cancel_many, the confirmation's preview, the cancellation summary."""

import csv
import io
import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from callbacks import engine, views
from callbacks.choices import AuditAction, CallbackState, EndState
from callbacks.models import Agent, AuditEntry, Callback, CancellationSummary

PREVIEW = "/callbacks/bulk-cancel/preview/"
CANCEL = "/callbacks/bulk-cancel/"


def make_callback(external_id, business_process, phone="+12125550134", **kwargs) -> Callback:
    return engine.request_callback(
        external_id=external_id,
        business_process=business_process,
        phone=phone,
        at=kwargs.pop("at", None) or timezone.now(),
        actor=engine.SYSTEM,
        **kwargs,
    )


@pytest.fixture
def mixed(business_process, make_business_process):
    """One callback in each situation a bulk cancel meets."""
    agent = Agent.objects.create(login_id="agent-1")
    queued = make_callback("cb-queued", business_process, customer_name="Ada")
    scheduled = make_callback(
        "cb-scheduled", make_business_process("SUPPORT"), desired_time=timezone.now() + timedelta(hours=3)
    )
    routing = make_callback("cb-routing", business_process)
    engine.offer(routing.pk, agent, timezone.now(), engine.SYSTEM)
    processing = make_callback("cb-processing", business_process)
    engine.offer(processing.pk, Agent.objects.create(login_id="agent-2"), timezone.now(), engine.SYSTEM)
    engine.accept(processing.pk, Agent.objects.get(login_id="agent-2"), timezone.now(), engine.SYSTEM)
    reached = make_callback("cb-purged", business_process)
    engine.purge(reached.pk, timezone.now(), engine.SYSTEM)
    return {c.external_id: c for c in (queued, scheduled, routing, processing, reached)}


def states() -> dict[str, tuple[str, str]]:
    return {c.external_id: (c.state, c.end_state) for c in Callback.objects.all()}


class TestCancelMany:
    def test_each_callback_is_cancelled_or_skipped_with_the_reason(self, mixed, make_user):
        user = make_user("supervisors", "alice")
        outcomes = engine.cancel_many(
            [c.pk for c in mixed.values()], timezone.now(), engine.Actor.for_user(user), "storm"
        )
        by_id = {o.callback.external_id: o for o in outcomes}
        assert {k for k, o in by_id.items() if o.cancelled} == {"cb-queued", "cb-scheduled", "cb-routing"}
        assert by_id["cb-processing"].reason == "an agent is on it (Processing)"
        assert by_id["cb-purged"].reason == "already Completed (Purged)"
        assert by_id["cb-routing"].previous_state == CallbackState.ROUTING
        after = states()
        assert after["cb-processing"] == (CallbackState.PROCESSING, "")
        assert after["cb-purged"] == (CallbackState.COMPLETED, EndState.PURGED)
        assert after["cb-queued"] == (CallbackState.COMPLETED, EndState.CANCELLED)
        audited = AuditEntry.objects.filter(action=AuditAction.CANCELLED)
        assert sorted(audited.values_list("callback_ref", flat=True)) == ["cb-queued", "cb-routing", "cb-scheduled"]
        assert set(audited.values_list("actor", "note")) == {("user:alice", "storm")}

    def test_a_callback_taken_by_an_agent_meanwhile_is_skipped_with_the_engines_reason(
        self, business_process, monkeypatch
    ):
        callback = make_callback("cb-1", business_process)
        real_cancel = engine.cancel

        def agent_first(callback_id, at, actor, reason=""):
            agent = Agent.objects.create(login_id="quick")
            engine.offer(callback_id, agent, at, engine.SYSTEM)
            engine.accept(callback_id, agent, at, engine.SYSTEM)
            return real_cancel(callback_id, at, actor, reason)

        monkeypatch.setattr(engine, "cancel", agent_first)
        [outcome] = engine.cancel_many([callback.pk], timezone.now(), engine.SYSTEM)
        assert not outcome.cancelled and "while an agent is on it" in outcome.reason
        assert Callback.objects.get().state == CallbackState.PROCESSING


@pytest.fixture
def supervisor(client, make_user):
    client.force_login(make_user("supervisors", "alice"))
    return client


class TestPreview:
    def test_selected_rows_with_the_processing_ones_named(self, supervisor, mixed):
        response = supervisor.post(PREVIEW, {"selection": "ids", "id": [str(c.pk) for c in mixed.values()]})
        assert response.json() == {
            "count": 5,
            "cancellable": 3,
            "processing_count": 1,
            "processing": ["cb-processing"],
            "completed_count": 1,
            "max": views.BULK_CANCEL_MAX,
        }
        assert Callback.objects.filter(end_state=EndState.CANCELLED).count() == 0  # a preview changes nothing

    def test_all_in_the_current_range_and_filters_counts_the_open_ones(self, supervisor, mixed):
        filters = "range=24h&business_process=SALES"
        answer = supervisor.post(PREVIEW, {"selection": "all", "filters": filters}).json()
        assert (answer["count"], answer["cancellable"], answer["processing"]) == (3, 2, ["cb-processing"])

    def test_bad_selections_are_400(self, supervisor, mixed):
        assert supervisor.post(PREVIEW, {"selection": "ids"}).json() == {"detail": "Select at least one callback."}
        assert supervisor.post(PREVIEW, {"selection": "ids", "id": "x"}).status_code == 400
        answer = supervisor.post(PREVIEW, {"selection": "all", "filters": "range=forever"})
        assert answer.status_code == 400 and answer.json() == {"detail": "The filters are not valid."}

    def test_more_than_the_cap_is_refused(self, supervisor, mixed, monkeypatch):
        monkeypatch.setattr(views, "BULK_CANCEL_MAX", 2)
        answer = supervisor.post(PREVIEW, {"selection": "all", "filters": "range=24h"}).json()
        assert answer["detail"].startswith("4 callbacks are selected; a bulk cancel takes at most 2.")


class TestBulkCancel:
    def test_selected_rows_are_cancelled_and_the_summary_is_offered(self, supervisor, mixed):
        ids = [str(mixed[name].pk) for name in ("cb-queued", "cb-processing", "cb-purged", "cb-scheduled")]
        response = supervisor.post(
            CANCEL, {"selection": "ids", "id": ids, "reason": "storm", "next": "/callbacks/?range=7d"}, follow=True
        )
        assert response.redirect_chain == [("/callbacks/?range=7d", 302)]
        html = response.content.decode()
        assert "2 callbacks cancelled, 2 skipped." in html
        summary = CancellationSummary.objects.get()
        assert f'href="/callbacks/cancellations/{summary.pk}/summary.csv"' in html
        after = states()
        assert after["cb-queued"][1] == after["cb-scheduled"][1] == EndState.CANCELLED
        assert after["cb-routing"] == (CallbackState.ROUTING, "")  # not selected
        assert after["cb-processing"] == (CallbackState.PROCESSING, "")

    def test_the_summary_csv(self, supervisor, mixed):
        ids = [str(mixed[name].pk) for name in ("cb-queued", "cb-processing", "cb-purged")]
        supervisor.post(CANCEL, {"selection": "ids", "id": ids})
        summary = CancellationSummary.objects.get()
        response = supervisor.get(f"/callbacks/cancellations/{summary.pk}/summary.csv")
        assert response["Content-Type"] == "text/csv; charset=utf-8"
        assert response["Content-Disposition"].startswith('attachment; filename="cancellation-summary-')
        rows = list(csv.DictReader(io.StringIO(response.content.decode())))
        assert [row["external_id"] for row in rows] == ["cb-queued", "cb-processing", "cb-purged"]
        queued = rows[0]
        cancelled_at = Callback.objects.get(external_id="cb-queued").completed_at
        assert queued == {
            "external_id": "cb-queued",
            "business_process": "SALES",
            "phone": "+12125550134",
            "customer_name": "Ada",
            "previous_state": "Queued",
            "cancelled_at": cancelled_at.isoformat(),
            "result": "cancelled",
        }
        assert rows[1]["previous_state"] == "Processing" and rows[1]["cancelled_at"] == ""
        assert rows[1]["result"] == "skipped: an agent is on it (Processing)"
        assert rows[2]["result"] == "skipped: already Completed (Purged)"

    def test_a_name_that_reads_as_a_formula_is_neutralised(self, supervisor, business_process):
        callback = make_callback("cb-formula", business_process, customer_name='=HYPERLINK("http://x")')
        supervisor.post(CANCEL, {"selection": "ids", "id": [str(callback.pk)]})
        [row] = CancellationSummary.objects.get().rows
        assert row["customer_name"] == '\'=HYPERLINK("http://x")'

    def test_all_in_the_current_range_and_filters(self, supervisor, mixed):
        supervisor.post(CANCEL, {"selection": "all", "filters": "range=24h&business_process=SALES"})
        after = states()
        assert after["cb-queued"][1] == after["cb-routing"][1] == EndState.CANCELLED
        assert after["cb-scheduled"] == (CallbackState.SCHEDULED, "")  # SUPPORT: filtered out
        rows = CancellationSummary.objects.get().rows
        assert {row["external_id"] for row in rows} == {"cb-queued", "cb-routing", "cb-processing"}

    def test_over_the_cap_nothing_is_cancelled(self, supervisor, mixed, monkeypatch):
        monkeypatch.setattr(views, "BULK_CANCEL_MAX", 2)
        response = supervisor.post(CANCEL, {"selection": "all", "filters": "range=24h"}, follow=True)
        assert "More than 2 callbacks are selected: nothing was cancelled." in response.content.decode()
        assert not Callback.objects.filter(end_state=EndState.CANCELLED).exists()
        assert not CancellationSummary.objects.exists()

    def test_an_empty_selection_says_so(self, supervisor, mixed):
        response = supervisor.post(CANCEL, {"selection": "ids"}, follow=True)
        assert "Select at least one callback." in response.content.decode()

    def test_another_user_cannot_download_the_summary(self, supervisor, mixed, client, make_user):
        supervisor.post(CANCEL, {"selection": "ids", "id": [str(mixed["cb-queued"].pk)]})
        url = f"/callbacks/cancellations/{CancellationSummary.objects.get().pk}/summary.csv"
        assert supervisor.get(url).status_code == 200
        for role, name in (("supervisors", "bob"), ("administrators", "carol")):
            client.force_login(make_user(role, name))
            assert client.get(url).status_code == 404
            assert "Download the cancellation summary" not in client.get("/callbacks/").content.decode()

    def test_managers_cannot_bulk_cancel(self, client, make_user, mixed):
        client.force_login(make_user("managers"))
        assert client.post(CANCEL, {"selection": "all", "filters": "range=24h"}).status_code == 403
        assert client.post(PREVIEW, {"selection": "all", "filters": "range=24h"}).status_code == 403
        assert not Callback.objects.filter(end_state=EndState.CANCELLED).exists()

    def test_csrf_is_required(self, make_user, mixed):
        from django.test import Client

        client = Client(enforce_csrf_checks=True)
        client.force_login(make_user("supervisors"))
        assert client.post(CANCEL, {"selection": "all", "filters": "range=24h"}).status_code == 403
        assert not Callback.objects.filter(end_state=EndState.CANCELLED).exists()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks between two connections: PostgreSQL only")
def test_two_bulk_cancels_racing_cancel_each_callback_once(transactional_db, business_process):
    ids = [make_callback(f"cb-{n}", business_process).pk for n in range(30)]
    start = threading.Barrier(2)
    results: dict[str, list] = {}

    def run(name: str) -> None:
        try:
            start.wait()
            results[name] = engine.cancel_many(ids, timezone.now(), engine.Actor(f"user:{name}"))
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(name,)) for name in ("alice", "bob")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    cancelled = [o.callback.external_id for outcomes in results.values() for o in outcomes if o.cancelled]
    skipped = [o.reason for outcomes in results.values() for o in outcomes if not o.cancelled]
    assert sorted(cancelled) == sorted(f"cb-{n}" for n in range(30))  # each exactly once
    assert len(skipped) == 30 and all("Completed (Cancelled)" in reason for reason in skipped)
    assert AuditEntry.objects.filter(action=AuditAction.CANCELLED).count() == 30
