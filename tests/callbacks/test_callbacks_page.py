"""The Callbacks page (callbacks/views.py): queries, paging, sorting, preferences, icons, duplicates, details,
creating a callback with the slot picker, and who may do what."""

import re
from datetime import UTC, date, datetime, time, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from callbacks import engine
from callbacks.choices import AuditAction, CallbackState
from callbacks.forms import available_slots
from callbacks.models import Agent, AuditEntry, Callback, ScheduleException, ScheduleRange, UserPreferences

PHONE = "+12125550134"
URL = "/callbacks/"


def make_callback(external_id, business_process, phone=PHONE, at=None, **kwargs) -> Callback:
    return engine.request_callback(
        external_id=external_id,
        business_process=business_process,
        phone=phone,
        at=at or timezone.now(),
        actor=engine.SYSTEM,
        **kwargs,
    )


def rows(response) -> list[str]:
    return re.findall(r'<tr data-callback="([^"]+)"', response.content.decode())


def row_html(response, external_id: str) -> str:
    html = response.content.decode()
    start = html.index(f'<tr data-callback="{external_id}"')
    return html[start : html.index("</tr>", start)]


@pytest.fixture
def supervisor(client, make_user):
    client.force_login(make_user("supervisors"))
    return client


def many_callbacks(make_business_process, count: int, prefix: str) -> None:
    """Callbacks spread over business processes, owner agents, states and attempts."""
    bps = [make_business_process(f"{prefix}{n}") for n in range(3)]
    agents = [Agent.objects.create(login_id=f"{prefix}-agent-{n}") for n in range(3)]
    for n in range(count):
        callback = make_callback(
            f"{prefix}-{n}", bps[n % 3], phone=f"+1212555{n % 5:04d}", owner_agent=agents[n % 3] if n % 2 else None
        )
        if n % 4 == 0:
            engine.offer(callback.pk, agents[n % 3] if n % 2 else agents[0], timezone.now(), engine.SYSTEM)


class TestQueries:
    def test_the_page_runs_the_same_queries_for_3_or_60_rows(self, supervisor, make_business_process):
        many_callbacks(make_business_process, 3, "a")
        with CaptureQueriesContext(connection) as few:
            assert len(rows(supervisor.get(URL))) == 3
        many_callbacks(make_business_process, 57, "b")
        with CaptureQueriesContext(connection) as more:
            assert len(rows(supervisor.get(URL))) == 60
        assert len(few) == len(more)

    def test_the_page_runs_a_fixed_number_of_queries(
        self, supervisor, make_business_process, django_assert_num_queries
    ):
        many_callbacks(make_business_process, 40, "a")
        # session, user, permissions (user's, groups'), preferences, business processes (filter validation),
        # count, page, duplicates of the page's phones, business processes (filter form's choices).
        with django_assert_num_queries(10):
            response = supervisor.get(URL, {"q": "555", "state": ["queued", "routing"], "business_process": ["a0"]})
        assert len(rows(response)) > 0

    def test_a_custom_range_adds_one_query_for_the_time_zones(
        self, supervisor, make_business_process, django_assert_num_queries
    ):
        many_callbacks(make_business_process, 20, "a")
        today = timezone.now().date().isoformat()
        with django_assert_num_queries(10):  # the time zones instead of the business processes' validation
            supervisor.get(URL, {"range": "custom", "date_from": today, "date_to": today})


def test_paging_with_a_page_size_choice(supervisor, business_process):
    for n in range(60):
        make_callback(f"cb-{n:02d}", business_process)
    assert len(rows(supervisor.get(URL))) == 60  # 250 by default
    assert len(rows(supervisor.get(URL, {"per_page": 50}))) == 50
    assert len(rows(supervisor.get(URL, {"per_page": 50, "page": 2}))) == 10
    assert len(rows(supervisor.get(URL, {"per_page": 7}))) == 60  # only 50, 100, 250 or 500
    second = supervisor.get(URL, {"per_page": 50, "state": "queued"}).content.decode()
    assert "per_page=50" in second and "state=queued" in second  # the page links keep the filters


def test_the_business_process_filter_keeps_its_choice(supervisor, make_business_process):
    make_business_process("SALES")
    make_business_process("SUPPORT", name="Support <B>")
    html = supervisor.get(URL, {"business_process": ["SUPPORT"]}).content.decode()
    assert '<option value="SALES">Sales (SALES)</option>' in html
    assert '<option value="SUPPORT" selected>Support &lt;B&gt; (SUPPORT)</option>' in html


def test_sorting_on_the_server(supervisor, make_business_process):
    sales, support = make_business_process("SALES"), make_business_process("SUPPORT")
    make_callback("cb-b", support, phone="+12125550002")
    make_callback("cb-a", sales, phone="+12125550003")
    make_callback("cb-c", sales, phone="+12125550001")
    assert rows(supervisor.get(URL)) == ["cb-c", "cb-a", "cb-b"]  # newest first
    assert rows(supervisor.get(URL, {"sort": "phone"})) == ["cb-c", "cb-b", "cb-a"]
    assert rows(supervisor.get(URL, {"sort": "-external_id"})) == ["cb-c", "cb-b", "cb-a"]
    assert rows(supervisor.get(URL, {"sort": "business_process"}))[-1] == "cb-b"


def test_next_7_days_lists_the_soonest_due_first(supervisor, business_process):
    now = timezone.now()
    make_callback("cb-in-3-days", business_process, desired_time=now + timedelta(days=3))
    make_callback("cb-tomorrow", business_process, desired_time=now + timedelta(days=1))
    make_callback("cb-in-2-days", business_process, desired_time=now + timedelta(days=2))
    assert rows(supervisor.get(URL, {"range": "next7d"})) == ["cb-tomorrow", "cb-in-2-days", "cb-in-3-days"]
    assert rows(supervisor.get(URL, {"range": "next7d", "sort": "-created"}))[0] == "cb-in-2-days"


def test_completed_callbacks_are_listed_with_their_end_state(supervisor, business_process):
    engine.purge(make_callback("cb-1", business_process).pk, timezone.now(), engine.SYSTEM)
    row = row_html(supervisor.get(URL), "cb-1")
    assert "COMPLETED" in row and '<span class="badge end-grey">Purged</span>' in row


class TestPreferences:
    AT = datetime(2026, 11, 25, 9, 5, tzinfo=UTC)  # 10:05 in Paris (CET)

    @pytest.fixture
    def paris_callback(self, make_business_process):
        paris = make_business_process("PARIS", time_zone="Europe/Paris")
        return make_callback("cb-1", paris, at=self.AT)

    def custom_day(self) -> dict:
        return {"range": "custom", "date_from": "2026-11-25", "date_to": "2026-11-25"}

    def test_times_default_to_the_business_process_zone_on_a_24_hour_clock(self, supervisor, paris_callback):
        response = supervisor.get(URL, self.custom_day())
        assert "2026-11-25 10:05 CET" in row_html(response, "cb-1")
        assert "In each business process&#x27;s time zone" in response.content.decode()
        assert not UserPreferences.objects.exists()  # created lazily, on first save

    def test_saved_preferences_apply_to_every_time_on_the_page(self, supervisor, paris_callback):
        response = supervisor.post(
            "/callbacks/preferences/", {"times_in_utc": "on", "next": "/callbacks/?range=custom"}
        )
        assert response.status_code == 302 and response["Location"] == "/callbacks/?range=custom"
        preferences = UserPreferences.objects.get()
        assert preferences.times_in_utc and not preferences.clock_24h
        response = supervisor.get(URL, self.custom_day())
        assert "2026-11-25 9:05 AM" in row_html(response, "cb-1")
        assert "Times in UTC." in response.content.decode()
        details = supervisor.get("/callbacks/cb-1/details/").content.decode()
        assert re.search(r"<td>\d{4}-\d\d-\d\d \d{1,2}:\d\d [AP]M</td>", details)  # the audit entry's time

    def test_preferences_are_per_user(self, client, make_user, paris_callback):
        client.force_login(make_user("supervisors", "first"))
        client.post("/callbacks/preferences/", {"times_in_utc": "on", "clock_24h": "on"})
        client.force_login(make_user("managers", "second"))
        assert "2026-11-25 10:05 CET" in row_html(client.get(URL, self.custom_day()), "cb-1")

    def test_an_outside_next_is_not_followed(self, supervisor):
        response = supervisor.post("/callbacks/preferences/", {"next": "https://evil.example/"})
        assert response["Location"] == "/callbacks/"


class TestIcons:
    def test_a_scheduled_callback_past_its_desired_time_window_carries_a_warning(
        self, supervisor, make_business_process
    ):
        closed = make_business_process("NIGHT", open=False)  # nothing is dispatched: it stays Scheduled
        now = timezone.now()
        make_callback("cb-late", closed, desired_time=now - timedelta(minutes=3))
        make_callback("cb-in-window", closed, desired_time=now - timedelta(minutes=1))
        make_callback("cb-future", closed, desired_time=now + timedelta(hours=1))
        page = supervisor.get(URL, {"range": "24h"})
        assert "cbp-late" in row_html(page, "cb-late")
        assert 'title="Still Scheduled although its desired time' in row_html(page, "cb-late")
        assert "cbp-late" not in row_html(page, "cb-in-window")
        assert "cbp-late" not in row_html(page, "cb-future")

    def test_a_callback_that_began_scheduled_carries_a_calendar(self, supervisor, business_process):
        make_callback("cb-scheduled", business_process, desired_time=timezone.now() + timedelta(hours=2))
        make_callback("cb-immediate", business_process)
        page = supervisor.get(URL)
        assert 'title="Began as a scheduled callback' in row_html(page, "cb-scheduled")
        assert "cbp-scheduled" not in row_html(page, "cb-immediate")


def test_duplicates_are_marked_and_filtered(supervisor, make_business_process):
    sales, support, billing = (make_business_process(code) for code in ("SALES", "SUPPORT", "BILLING"))
    make_callback("cb-sales", sales)
    make_callback("cb-support", support)
    make_callback("cb-billing", billing)
    make_callback("cb-alone", sales, phone="+12125550199")
    make_callback("cb-twice-1", sales, phone="+12125550177")
    make_callback("cb-twice-2", sales, phone="+12125550177")
    engine.cancel(make_callback("cb-ended", sales, phone="+12125550199").pk, timezone.now(), engine.SYSTEM)
    page = supervisor.get(URL)
    assert 'title="Also waiting in BILLING, SUPPORT"' in row_html(page, "cb-sales")
    assert 'title="Also waiting in BILLING, SALES"' in row_html(page, "cb-support")
    assert 'title="Also waiting in SALES"' in row_html(page, "cb-twice-1")
    assert "cbp-duplicate" not in row_html(page, "cb-alone")
    assert "cbp-duplicate" not in row_html(page, "cb-ended")
    assert set(rows(supervisor.get(URL, {"duplicates": "on"}))) == {
        "cb-sales",
        "cb-support",
        "cb-billing",
        "cb-twice-1",
        "cb-twice-2",
    }


class TestDetails:
    @pytest.fixture
    def handled(self, business_process, make_user):
        callback = make_callback("cb-1", business_process, customer_name="Ada")
        agent = Agent.objects.create(login_id="agent-7", display_name="Grace")
        start = timezone.now()
        engine.offer(callback.pk, agent, start, engine.SYSTEM)
        engine.accept(callback.pk, agent, start + timedelta(seconds=5), engine.SYSTEM)
        engine.complete(callback.pk, agent, "cancel", start + timedelta(seconds=10), engine.SYSTEM)
        engine.offer(callback.pk, agent, start + timedelta(seconds=20), engine.SYSTEM)
        engine.accept(callback.pk, agent, start + timedelta(seconds=25), engine.SYSTEM)
        engine.connect(callback.pk, agent, "person", start + timedelta(seconds=30), engine.SYSTEM)
        engine.complete(callback.pk, agent, "handled", start + timedelta(seconds=90), engine.SYSTEM)
        engine.end_wrapup(callback.pk, agent, start + timedelta(seconds=145), engine.SYSTEM)
        return callback

    def test_attempts_and_audit_trail(self, supervisor, handled, make_user, business_process):
        html = supervisor.get(f"/callbacks/{handled.external_id}/details/").content.decode()
        attempts = html[html.index("cbp-attempts") : html.index("Audit trail")]
        assert attempts.count("<tr>") == 3  # header + 2 attempts
        assert "Grace" in attempts and "Cancel" in attempts and "Handled" in attempts
        assert "2 min 00 s" in attempts  # accept → ACW end of the second attempt
        assert "Callback requested" in html and "Attempt accepted" in html and "After call work ended" in html
        assert "queued → routing" in html  # before → after

    def test_a_supervisors_cancel_is_shown_with_who_and_why(self, supervisor, business_process, make_user):
        callback = make_callback("cb-2", business_process)
        user = make_user("supervisors", "alice")
        engine.cancel(callback.pk, timezone.now(), engine.Actor.for_user(user), "customer called in")
        html = supervisor.get("/callbacks/cb-2/details/").content.decode()
        assert "user:alice" in html and "Callback cancelled" in html and "customer called in" in html

    def test_details_take_a_fixed_number_of_queries(self, supervisor, handled, django_assert_num_queries):
        # session, user, permissions (user's, groups'), callback, preferences, attempts, audit entries.
        with django_assert_num_queries(8):
            assert supervisor.get("/callbacks/cb-1/details/").status_code == 200

    def test_an_unknown_callback_is_404(self, supervisor):
        assert supervisor.get("/callbacks/nope/details/").status_code == 404


class TestSlots:
    def test_slots_lie_inside_the_schedule_and_after_now(self, make_business_process):
        bp = make_business_process("PARIS", open=False, time_zone="Europe/Paris")
        ScheduleRange.objects.create(business_process=bp, weekday=0, start=time(9, 10), end=time(10, 0))
        ScheduleRange.objects.create(business_process=bp, weekday=0, start=time(14, 0), end=time(14, 30))
        monday = date(2026, 11, 30)
        now = datetime(2026, 11, 30, 8, 20, tzinfo=UTC)  # 09:20 in Paris
        local = [slot.astimezone(bp.tz).strftime("%H:%M") for slot in available_slots(bp, monday, now)]
        assert local == ["09:30", "09:45", "14:00", "14:15"]
        assert available_slots(bp, monday + timedelta(days=1), now) == []  # closed on Tuesdays

    def test_an_exception_closes_the_day_and_the_window_ends_the_list(self, make_business_process):
        bp = make_business_process("PARIS", time_zone="Europe/Paris", max_schedule_ahead=timedelta(hours=1))
        now = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
        assert len(available_slots(bp, date(2026, 11, 30), now)) == 4  # 09:15 … 10:00 local
        ScheduleException.objects.create(business_process=bp, date=date(2026, 11, 30))
        assert available_slots(bp, date(2026, 11, 30), now) == []

    def test_the_hour_skipped_by_dst_is_not_offered(self, make_business_process):
        bp = make_business_process("PARIS", time_zone="Europe/Paris")
        now = datetime(2026, 3, 20, tzinfo=UTC)
        local = [slot.astimezone(bp.tz).strftime("%H:%M") for slot in available_slots(bp, date(2026, 3, 29), now)]
        assert "01:45" in local and "02:00" not in local and "02:45" not in local and "03:00" in local
        assert len(local) == 23 * 4

    def test_the_slots_endpoint_answers_options(self, supervisor, make_business_process):
        make_business_process("SALES")
        tomorrow = (timezone.now() + timedelta(days=1)).date().isoformat()
        html = supervisor.get("/callbacks/slots/", {"business_process": "SALES", "day": tomorrow}).content.decode()
        assert html.count("<option value=") == 24 * 4 + 1
        far = (timezone.now() + timedelta(days=40)).date().isoformat()
        html = supervisor.get("/callbacks/slots/", {"business_process": "SALES", "day": far}).content.decode()
        assert "Out of reach" in html and html.count("<option") == 1
        html = supervisor.get("/callbacks/slots/", {"business_process": "NOPE", "day": tomorrow}).content.decode()
        assert "Choose a business process first." in html


class TestCreate:
    def tomorrow_slot(self, business_process) -> tuple[str, str]:
        day = (timezone.now() + timedelta(days=1)).astimezone(business_process.tz).date()
        return day.isoformat(), available_slots(business_process, day, timezone.now())[10].isoformat()

    def test_an_immediate_callback(self, supervisor, business_process, settings):
        settings.PHONE_DEFAULT_REGION = "FR"
        response = supervisor.post(
            "/callbacks/create/",
            {"business_process": "SALES", "phone": "01 42 68 53 00", "customer_name": "Ada", "kind": "immediate"},
        )
        callback = Callback.objects.get()
        assert response.status_code == 302 and response["Location"] == f"/callbacks/?q={callback.external_id}"
        assert re.fullmatch(r"ui-[0-9a-f]{12}", callback.external_id)
        assert callback.phone == "+33142685300" and callback.state == CallbackState.QUEUED
        entry = AuditEntry.objects.get(action=AuditAction.CALLBACK_REQUESTED)
        assert entry.actor == "user:supervisors-user"

    def test_a_scheduled_callback_takes_a_slot(self, supervisor, business_process):
        day, slot = self.tomorrow_slot(business_process)
        response = supervisor.post(
            "/callbacks/create/",
            {"business_process": "SALES", "phone": PHONE, "kind": "scheduled", "day": day, "slot": slot},
        )
        assert response.status_code == 302
        callback = Callback.objects.get()
        assert callback.desired_time == datetime.fromisoformat(slot) and callback.was_scheduled
        assert callback.state == CallbackState.SCHEDULED

    @pytest.mark.parametrize(
        "change, field, message",
        [
            ({"phone": "12"}, "phone", "is not a valid phone number"),
            ({"phone": "hello"}, "phone", "is not a phone number"),
            ({"business_process": "NOPE"}, "business_process", "Select a valid choice"),
            ({"day": ""}, "day", "Choose the day of the scheduled callback."),
            ({"slot": ""}, "slot", "Choose a time slot."),
            ({"slot": "2026-11-25T03:07:00+00:00"}, "slot", "This slot is not available (any more)"),
        ],
    )
    def test_errors_reshow_the_form_and_write_nothing(self, supervisor, business_process, change, field, message):
        day, slot = self.tomorrow_slot(business_process)
        data = {"business_process": "SALES", "phone": PHONE, "kind": "scheduled", "day": day, "slot": slot}
        response = supervisor.post("/callbacks/create/", {**data, **change})
        assert response.status_code == 200
        assert any(message in error for error in response.context["form"].errors[field])
        assert message.replace("“", "&ldquo;") in response.content.decode() or message in response.content.decode()
        assert not Callback.objects.exists() and not AuditEntry.objects.exists()

    def test_a_closed_day_has_no_slot(self, supervisor, make_business_process):
        make_business_process("NIGHT", open=False)
        day = (timezone.now() + timedelta(days=1)).date().isoformat()
        data = {"business_process": "NIGHT", "phone": PHONE, "kind": "scheduled", "day": day, "slot": ""}
        response = supervisor.post("/callbacks/create/", data)
        assert "No slot left that day" in response.content.decode()
        assert not Callback.objects.exists()

    def test_a_reshown_form_keeps_its_slot_list(self, supervisor, business_process):
        day, slot = self.tomorrow_slot(business_process)
        data = {"business_process": "SALES", "phone": "bad", "kind": "scheduled", "day": day, "slot": slot}
        html = supervisor.post("/callbacks/create/", data).content.decode()
        assert f'<option value="{slot}" selected>' in html


ROLE_PAGES = [
    ("get", URL, {}),
    ("get", "/callbacks/cb-1/details/", {}),
    ("post", "/callbacks/preferences/", {"clock_24h": "on"}),
]
ACTION_ENDPOINTS = [
    ("get", "/callbacks/create/", {}),
    ("post", "/callbacks/create/", {"business_process": "SALES", "phone": PHONE, "kind": "immediate"}),
    ("get", "/callbacks/slots/", {"business_process": "SALES", "day": "2026-11-26"}),
    ("post", "/callbacks/bulk-cancel/preview/", {"selection": "all"}),
    ("post", "/callbacks/bulk-cancel/", {"selection": "all"}),
    ("get", "/callbacks/cancellations/00000000-0000-0000-0000-000000000000/summary.csv", {}),
]

# What a supervisor or an administrator gets (the summary: 404, it is nobody's).
ALLOWED_ANSWER = {
    (URL, "get"): 200,
    ("/callbacks/cb-1/details/", "get"): 200,
    ("/callbacks/preferences/", "post"): 302,
    ("/callbacks/create/", "get"): 200,
    ("/callbacks/create/", "post"): 302,
    ("/callbacks/slots/", "get"): 200,
    ("/callbacks/bulk-cancel/preview/", "post"): 200,
    ("/callbacks/bulk-cancel/", "post"): 302,
    ("/callbacks/cancellations/00000000-0000-0000-0000-000000000000/summary.csv", "get"): 404,
}


class TestPermissions:
    @pytest.fixture(autouse=True)
    def callback(self, business_process):
        return make_callback("cb-1", business_process)

    @pytest.mark.parametrize("method, path, data", ROLE_PAGES + ACTION_ENDPOINTS)
    def test_anonymous_users_are_sent_to_log_in(self, client, method, path, data):
        response = getattr(client, method)(path, data)
        assert response.status_code == 302 and response["Location"].startswith("/login/")

    @pytest.mark.parametrize("method, path, data", ROLE_PAGES + ACTION_ENDPOINTS)
    def test_a_user_without_a_role_is_refused(self, client, make_user, method, path, data):
        client.force_login(make_user(None))
        assert getattr(client, method)(path, data).status_code == 403

    @pytest.mark.parametrize("method, path, data", ACTION_ENDPOINTS)
    def test_managers_may_not_act(self, client, make_user, method, path, data):
        client.force_login(make_user("managers"))
        assert getattr(client, method)(path, data).status_code == 403
        assert Callback.objects.get().state == CallbackState.QUEUED

    @pytest.mark.parametrize("method, path, data", ROLE_PAGES)
    def test_managers_see(self, client, make_user, method, path, data):
        client.force_login(make_user("managers"))
        assert getattr(client, method)(path, data).status_code in (200, 302)

    @pytest.mark.parametrize("role", ["supervisors", "administrators"])
    @pytest.mark.parametrize("method, path, data", ROLE_PAGES + ACTION_ENDPOINTS)
    def test_supervisors_and_administrators_may(self, client, make_user, role, method, path, data):
        client.force_login(make_user(role))
        assert getattr(client, method)(path, data).status_code == ALLOWED_ANSWER[path, method]

    def test_a_managers_page_offers_no_action(self, client, make_user):
        client.force_login(make_user("managers"))
        html = client.get(URL).content.decode()
        assert 'data-callback="cb-1"' in html and "cbp-expand" in html
        for absent in ("Create callback", "cbp-select", "cbp-menu-button", "cbp-row-menu", "Cancel selected"):
            assert absent not in html
        assert 'data-may-act="false"' in html

    @pytest.mark.parametrize("role", ["supervisors", "administrators"])
    def test_supervisors_and_administrators_are_offered_every_action(self, client, make_user, role):
        client.force_login(make_user(role))
        html = client.get(URL).content.decode()
        for present in ("Create callback", "cbp-select", "cbp-menu-button", "cbp-row-menu", "Cancel selected"):
            assert present in html
        assert client.get("/callbacks/create/").status_code == 200
        assert 'href="/callbacks/"' in html  # the nav link

    def test_the_nav_link_is_shown_to_whoever_may_see_the_page(self, client, make_user):
        client.force_login(make_user("managers"))
        assert '<a href="/callbacks/">Callbacks</a>' in client.get("/").content.decode()
        client.force_login(make_user(None))
        assert '<a href="/callbacks/">Callbacks</a>' not in client.get("/").content.decode()


def test_a_wide_filter_is_counted_up_to_a_cap(supervisor, business_process, monkeypatch):
    from callbacks import views

    monkeypatch.setattr(views, "COUNT_CAP", 5)
    for n in range(8):
        make_callback(f"cb-{n}", business_process)
    response = supervisor.get(URL, {"per_page": 50})
    assert "More than <strong>5</strong> callbacks" in response.content.decode()
    assert len(rows(response)) == 6  # the pages cover the first COUNT_CAP + 1
    response = supervisor.get(URL, {"q": "cb-3"})
    assert "<strong>1</strong> callback." in response.content.decode()
