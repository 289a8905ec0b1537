"""The audit log page: every audited action, filtered, sorted, paginated in constant queries, and as CSV."""

import csv
import io
from datetime import UTC, datetime

import pytest
from django.urls import reverse

from callbacks import engine
from callbacks.choices import AuditAction
from callbacks.models import AuditEntry

URL = reverse("audit-log")


@pytest.fixture
def log(make_business_process, make_user):
    """Six entries across two business processes, three actors, four actions and four days."""
    sales, support = make_business_process("SALES"), make_business_process("SUPPORT")
    alice = make_user("administrators", "alice")

    def entry(day, actor, action, bp, callback_ref="", user=None, changes=None, note=""):
        return AuditEntry.objects.create(
            at=datetime(2026, 11, day, 10, 0, tzinfo=UTC),
            actor=actor,
            user=user,
            action=action,
            business_process=bp,
            callback_ref=callback_ref,
            changes=changes or {},
            note=note,
        )

    return {
        "requested": entry(20, "api:telephony", AuditAction.CALLBACK_REQUESTED, sales, "cb-1"),
        "purged": entry(21, "user:alice", AuditAction.PURGED, sales, "cb-1", alice, {"state": ["queued", "completed"]}),
        "timing": entry(
            22,
            "user:alice",
            AuditAction.TIMING_CHANGED,
            support,
            user=alice,
            changes={"attempts_before_failure": [3, 2]},
        ),
        "released": entry(22, "system", AuditAction.RELEASED_TO_QUEUE, support, "cb-2"),
        "stopped": entry(23, "user:alice", AuditAction.STOPPED, sales, user=alice, note='lunch, "quoted"'),
        "aborted": entry(23, "system", AuditAction.ABORTED, support, "cb-3"),
        "alice": alice,
        "sales": sales,
        "support": support,
    }


@pytest.fixture
def manager(client, make_user):
    client.force_login(make_user("managers", "martin"))
    return client


def listed(response) -> list[int]:
    return [row.record.pk for row in response.context["table"].paginated_rows]


@pytest.mark.parametrize(
    "role, status", [("administrators", 200), ("managers", 200), ("supervisors", 403), (None, 403)]
)
def test_administrators_and_managers_only(db, client, make_user, role, status):
    client.force_login(make_user(role))
    assert client.get(URL).status_code == status
    assert client.get(URL, {"export": "csv"}).status_code == status


def test_anonymous_goes_to_the_login_page(db, client):
    response = client.get(URL)
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_the_nav_links_to_the_log_for_those_who_may_read_it(db, client, make_user):
    client.force_login(make_user("managers"))
    assert f'href="{URL}"' in client.get(reverse("home")).content.decode()
    client.force_login(make_user("supervisors"))
    assert f'href="{URL}"' not in client.get(reverse("home")).content.decode()


def test_everything_is_listed_newest_first(log, manager):
    response = manager.get(URL)
    assert listed(response) == [log[k].pk for k in ("aborted", "stopped", "released", "timing", "purged", "requested")]
    html = response.content.decode()
    assert "Callback Timing changed" in html and "<strong>Attempts Before Failure</strong>: 3 → 2" in html


def test_entries_the_engine_writes_are_listed(business_process, manager):
    engine.request_callback(
        external_id="cb-live", business_process=business_process, phone="+33142685300",
        at=datetime.now(UTC), actor=engine.SYSTEM,
    )  # fmt: skip
    response = manager.get(URL, {"callback_ref": "cb-live"})
    assert [row.record.action for row in response.context["table"].paginated_rows] == [AuditAction.CALLBACK_REQUESTED]


@pytest.mark.parametrize(
    "params, expected",
    [
        ({"user": "ALICE"}, ["stopped", "timing", "purged"]),
        ({"actor": "system"}, ["aborted", "released"]),
        ({"actor": "api:"}, ["requested"]),
        ({"business_process": "SUPPORT"}, ["aborted", "released", "timing"]),
        (
            {"business_process": ["SUPPORT", "SALES"]},
            ["aborted", "stopped", "released", "timing", "purged", "requested"],
        ),
        ({"action": [AuditAction.PURGED, AuditAction.ABORTED]}, ["aborted", "purged"]),
        ({"at_after": "2026-11-21", "at_before": "2026-11-22"}, ["released", "timing", "purged"]),
        ({"at_after": "2026-11-23"}, ["aborted", "stopped"]),
        ({"callback_ref": "CB-1"}, ["purged", "requested"]),
        ({"q": "lunch"}, ["stopped"]),
        ({"business_process": "SALES", "action": [AuditAction.PURGED, AuditAction.STOPPED]}, ["stopped", "purged"]),
    ],
)
def test_filters(log, manager, params, expected):
    if "user" in params:
        params = {"user": log["alice"].pk}
    if "business_process" in params:
        codes = params["business_process"]
        params = {
            **params,
            "business_process": [log[c.lower()].pk for c in ([codes] if isinstance(codes, str) else codes)],
        }
    response = manager.get(URL, params)
    assert response.status_code == 200
    assert listed(response) == [log[k].pk for k in expected]


def test_sorting_by_a_column(log, manager):
    response = manager.get(URL, {"sort": "at"})
    assert listed(response)[0] == log["requested"].pk
    by_bp = manager.get(URL, {"sort": "business_process"})
    codes = [row.record.business_process.code for row in by_bp.context["table"].paginated_rows]
    assert codes == sorted(codes)


def test_constant_queries_whatever_the_number_of_entries(
    log, manager, django_assert_num_queries, make_business_process
):
    # session, user, user and group permissions; user and business process options of the filters; page (no COUNT).
    with django_assert_num_queries(7):
        assert manager.get(URL).status_code == 200
    for n in range(80):
        bp = make_business_process(f"BP{n}", open=False)
        AuditEntry.objects.create(at=datetime.now(UTC), actor="system", action=AuditAction.STOPPED, business_process=bp)
    with django_assert_num_queries(7):
        response = manager.get(URL, {"page": 2})
    assert len(listed(response)) == 36  # 86 entries, 50 a page


def read_csv(response) -> list[list[str]]:
    assert response.streaming
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"].startswith('attachment; filename="audit-log-')
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_the_csv_download_has_every_filtered_row(log, manager):
    rows = read_csv(manager.get(URL, {"business_process": log["sales"].pk, "export": "csv"}))
    assert rows == [
        ["at", "actor", "action", "business_process", "callback_ref", "changes", "note"],
        ["2026-11-23T10:00:00+00:00", "user:alice", "Callbacks stopped", "SALES", "", "", 'lunch, "quoted"'],
        [
            "2026-11-21T10:00:00+00:00",
            "user:alice",
            "Callback purged",
            "SALES",
            "cb-1",
            '{"state": ["queued", "completed"]}',
            "",
        ],
        ["2026-11-20T10:00:00+00:00", "api:telephony", "Callback requested", "SALES", "cb-1", "", ""],
    ]


def test_the_page_links_the_csv_with_its_filters(log, manager):
    html = manager.get(URL, {"actor": "system", "page": "1"}).content.decode()
    assert 'href="?actor=system&amp;export=csv"' in html


def test_a_bad_filter_is_shown_not_a_500(log, manager):
    response = manager.get(URL, {"at_after": "yesterday-ish"})
    assert response.status_code == 200
    assert "Enter a valid date." in response.content.decode()
    assert read_csv(manager.get(URL, {"at_after": "yesterday-ish", "export": "csv"}))[1:] == []


def test_an_entry_without_business_process_or_callback_is_listed(log, manager):
    AuditEntry.objects.create(at=datetime(2026, 11, 24, tzinfo=UTC), actor="user:root", action=AuditAction.RESUMED)
    response = manager.get(URL)
    assert response.status_code == 200
    html = response.content.decode()
    assert "user:root" in html
    assert f'href="{reverse("business-process", kwargs={"code": "SALES"})}"' in html
