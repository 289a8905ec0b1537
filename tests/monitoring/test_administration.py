"""Administrators' pages: business processes (create, rename, code change, deactivate) and API tokens."""

import pytest
from django.urls import reverse
from django.utils import timezone

from callbacks import engine
from callbacks.choices import AuditAction
from callbacks.models import ApiToken, AuditEntry, BusinessProcess
from callbacks.schedule import current_shift_start, is_open
from monitoring import live

pytestmark = pytest.mark.django_db

BUSINESS_PROCESSES = reverse("administration-business-processes")
TOKENS = reverse("administration-api-tokens")


@pytest.fixture
def admin_client(client, make_user):
    client.force_login(make_user("administrators", "ada"))
    return client


def rename_url(code: str) -> str:
    return reverse("administration-rename-business-process", kwargs={"code": code})


def test_creating_a_business_process_gives_the_defaults_and_is_audited(admin_client):
    before = timezone.now()
    response = admin_client.post(
        BUSINESS_PROCESSES, {"code": "BILLING", "name": "Billing", "time_zone": "Europe/Paris"}
    )

    assert response.status_code == 302
    assert response["Location"] == reverse("business-process-timing", kwargs={"code": "BILLING"})
    bp = BusinessProcess.objects.get(code="BILLING")
    assert (bp.no_answer_seconds, bp.attempts_before_failure, bp.recall_intervals) == (60, 3, [300, 900, 3600])
    assert sorted((r.weekday, f"{r.start:%H:%M}", f"{r.end:%H:%M}") for r in bp.schedule_ranges.all()) == [
        (day, "08:00", "18:00") for day in range(5)
    ]
    entry = AuditEntry.objects.get(action=AuditAction.BUSINESS_PROCESS_CREATED)
    assert (entry.actor, entry.business_process, entry.changes) == (
        "user:ada",
        bp,
        {"code": [None, "BILLING"], "name": [None, "Billing"]},
    )
    # What the timers record (CLBK Stat, the shift counters' start), recorded at once: the monitor shows it right.
    assert bp.schedule_open == is_open(bp, before)
    assert bp.shift_started_at == current_shift_start(bp, before)


@pytest.mark.parametrize(
    ("data", "field", "words"),
    [
        ({"code": "bad code!", "name": "X", "time_zone": "UTC"}, "code", "letters, digits"),
        ({"code": "SALES", "name": "Again", "time_zone": "UTC"}, "code", "already exists"),
        ({"code": "NEW", "name": "", "time_zone": "UTC"}, "name", "required"),
        ({"code": "NEW", "name": "X", "time_zone": "Mars/Olympus"}, "time_zone", "valid choice"),
    ],
)
def test_a_bad_new_business_process_is_refused_beside_its_field(admin_client, business_process, data, field, words):
    response = admin_client.post(BUSINESS_PROCESSES, data)

    assert response.status_code == 400
    assert words in " ".join(response.context["form"].errors[field]).lower()
    assert BusinessProcess.objects.count() == 1
    assert not AuditEntry.objects.exists()


def test_renaming_is_audited_before_and_after(admin_client, business_process):
    response = admin_client.post(rename_url("SALES"), {"code": "SALES", "name": "Sales & Renewals"})

    assert response.status_code == 302
    business_process.refresh_from_db()
    assert business_process.name == "Sales & Renewals"
    entry = AuditEntry.objects.get(action=AuditAction.BUSINESS_PROCESS_CHANGED)
    assert entry.changes == {"name": ["Sales", "Sales & Renewals"]}


def test_the_code_changes_only_while_no_callback_uses_it(admin_client, business_process):
    assert admin_client.post(rename_url("SALES"), {"code": "SALES_EU", "name": "Sales"}).status_code == 302
    business_process.refresh_from_db()
    assert business_process.code == "SALES_EU"
    engine.request_callback(
        external_id="cb-1",
        business_process=business_process,
        phone="+33142685300",
        at=business_process.created,
        actor=engine.SYSTEM,
    )

    response = admin_client.post(rename_url("SALES_EU"), {"code": "SALES_FR", "name": "Renamed too"})

    assert response.status_code == 400
    assert "1 callback uses code SALES_EU" in " ".join(response.context["form"].errors["code"])
    business_process.refresh_from_db()
    assert (business_process.code, business_process.name) == ("SALES_EU", "Sales"), "nothing changed, not even the name"


def test_a_deactivated_business_process_leaves_the_monitor_and_refuses_callbacks(
    admin_client, business_process, events
):
    other = BusinessProcess.objects.create(code="OTHER", name="Other")

    response = admin_client.post(reverse("administration-deactivate-business-process", kwargs={"code": "SALES"}))

    assert response.status_code == 302
    business_process.refresh_from_db()
    assert not business_process.is_active
    assert [row.code for row in live.compute_rows().rows] == ["OTHER"]
    assert events.request("cb-1").status_code == 400, "the ingest API no longer knows it"
    assert AuditEntry.objects.get(action=AuditAction.BUSINESS_PROCESS_DEACTIVATED).changes == {
        "is_active": [True, False]
    }
    page = admin_client.get(BUSINESS_PROCESSES).content.decode()
    assert "Reactivate" in page and other.code in page

    admin_client.post(reverse("administration-reactivate-business-process", kwargs={"code": "SALES"}))
    business_process.refresh_from_db()
    assert business_process.is_active


def test_issuing_a_token_shows_its_key_once_and_it_works(admin_client, client):
    response = admin_client.post(TOKENS, {"name": "telephony-eu"})

    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    key = response.context["key"]
    token = ApiToken.objects.get(name="telephony-eu")
    assert token.key_hash == ApiToken.hash_key(key) and key not in token.key_hash
    assert key not in admin_client.get(TOKENS).content.decode(), "shown once"
    assert AuditEntry.objects.get(action=AuditAction.API_TOKEN_ISSUED).actor == "user:ada"
    api = client.__class__()
    assert api.get(reverse("api-business-processes"), HTTP_AUTHORIZATION=f"Token {key}").status_code == 200


def test_a_revoked_token_is_refused_and_listed_as_revoked(admin_client):
    token, key = ApiToken.issue("old-pbx")

    response = admin_client.post(reverse("administration-revoke-api-token", kwargs={"pk": token.pk}), follow=True)

    assert "revoked" in response.content.decode()
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert AuditEntry.objects.filter(action=AuditAction.API_TOKEN_REVOKED).count() == 1
    again = admin_client.post(reverse("administration-revoke-api-token", kwargs={"pk": token.pk}), follow=True)
    assert "already revoked" in again.content.decode()
    assert AuditEntry.objects.filter(action=AuditAction.API_TOKEN_REVOKED).count() == 1


def test_a_token_name_is_unique(admin_client):
    ApiToken.issue("telephony-eu")

    response = admin_client.post(TOKENS, {"name": "telephony-eu"})

    assert response.status_code == 400
    assert "exists already" in " ".join(response.context["form"].errors["name"])
    assert ApiToken.objects.count() == 1


@pytest.mark.parametrize("role", ["supervisors", "managers", None])
def test_only_administrators_administer(client, make_user, business_process, role):
    token, _ = ApiToken.issue("pbx")
    client.force_login(make_user(role))
    for url, data in [
        (BUSINESS_PROCESSES, {"code": "NEW", "name": "New", "time_zone": "UTC"}),
        (rename_url("SALES"), {"code": "SALES", "name": "Renamed"}),
        (reverse("administration-deactivate-business-process", kwargs={"code": "SALES"}), {}),
        (TOKENS, {"name": "sneaky"}),
        (reverse("administration-revoke-api-token", kwargs={"pk": token.pk}), {}),
    ]:
        assert client.post(url, data).status_code == 403, url
    assert client.get(BUSINESS_PROCESSES).status_code == 403
    assert client.get(TOKENS).status_code == 403
    assert "administration/" not in client.get(reverse("home")).content.decode(), "no links to what they cannot open"
    business_process.refresh_from_db()
    token.refresh_from_db()
    assert (BusinessProcess.objects.count(), business_process.name, business_process.is_active) == (1, "Sales", True)
    assert (ApiToken.objects.count(), token.revoked_at) == (1, None)


def test_the_pages_cost_a_constant_number_of_queries(
    admin_client, make_business_process, django_assert_max_num_queries
):
    for n in range(30):
        make_business_process(f"BP{n}")
        ApiToken.issue(f"token-{n}")
    with django_assert_max_num_queries(8):
        assert admin_client.get(BUSINESS_PROCESSES).status_code == 200
    with django_assert_max_num_queries(8):
        assert admin_client.get(TOKENS).status_code == 200
