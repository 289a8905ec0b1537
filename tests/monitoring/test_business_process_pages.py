"""The business process pages: Callback Performance, Callback Timing and Callback Search."""

import re
from datetime import date, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import dateformat, timezone

from callbacks import engine
from callbacks.models import Agent, BusinessProcess, Callback, ScheduleException
from monitoring import search_live
from monitoring.columns import compute_rows

from .test_explain import ACTOR, attempt, build_scenario, request

TABS = ["business-process", "business-process-timing", "business-process-search"]


def url(name: str, code: str = "PARIS") -> str:
    return reverse(name, kwargs={"code": code})


def noon_zone() -> str:
    """A time zone where it is about noon now, so "today" holds the last few hours whatever the test's hour."""
    offset = 12 - timezone.now().astimezone(ZoneInfo("UTC")).hour
    return f"Etc/GMT{-offset:+d}"  # the Etc zones' signs are inverted: Etc/GMT-5 is UTC+5


@pytest.fixture
def scenario(make_business_process):
    return build_scenario(make_business_process)


@pytest.fixture
def supervisor(client, make_user):
    client.force_login(make_user("supervisors"))
    return client


def get(client, address: str, **params):
    response = client.get(address, params)
    assert response.status_code == 200, response.content
    return response


# ---------------------------------------------------------------------------------------------------------
# Access


@pytest.mark.parametrize("name", TABS)
def test_every_tab_needs_a_login(scenario, client, name):
    response = client.get(url(name))
    assert response.status_code == 302 and "/login/" in response["Location"]


@pytest.mark.parametrize(
    "role, status", [("supervisors", 200), ("administrators", 200), ("managers", 200), (None, 403)]
)
def test_every_tab_needs_the_monitor_permission(scenario, client, make_user, role, status):
    client.force_login(make_user(role))
    for name in TABS:
        assert client.get(url(name)).status_code == status, name


def test_an_unknown_or_inactive_business_process_is_404(scenario, supervisor):
    BusinessProcess.objects.filter(code="TOKYO").update(is_active=False)
    for name in TABS:
        assert supervisor.get(url(name, "NOPE")).status_code == 404
        assert supervisor.get(url(name, "TOKYO")).status_code == 404


@pytest.mark.parametrize("name", TABS)
def test_the_tabs_mark_the_current_one(scenario, supervisor, name):
    html = get(supervisor, url(name)).content.decode()
    current = re.findall(r'<a href="([^"]+)" class="active" aria-current="page">([^<]+)</a>', html)
    labels = {TABS[0]: "Callback Performance", TABS[1]: "Callback Timing", TABS[2]: "Callback Search"}
    assert current == [(url(name), labels[name])]
    for other in TABS:
        assert f'href="{url(other)}"' in html


# ---------------------------------------------------------------------------------------------------------
# Callback Performance


def test_the_snapshot_card_shows_the_monitor_columns(scenario, supervisor):
    response = get(supervisor, url("business-process"))
    html = response.content.decode()
    (row,) = compute_rows(business_process_ids=[scenario.paris.pk]).rows
    assert 'data-bp="PARIS"' in html
    labels = ["CLBK Stat", "Proc", "Clbk To Be Proc", "Clbk Avg Time", "Clbk Purged", "% Clbk Reached", "% Clbk Fail"]
    card = response.context["card"]
    assert [cell["label"] for cell in card] == labels
    assert {cell["key"]: cell["value"] for cell in card} == row.cells()
    assert row.cells()["proc"] == "3" and row.cells()["pct_failed"] == "66.7 %"
    for cell in card:
        assert f'data-col="{cell["key"]}"' in html
        if cell["key"] in ("status", "avg_time"):
            assert cell["url"] is None
        else:
            explain = reverse("explain-column", kwargs={"code": "PARIS", "column": cell["key"]})
            assert f'<a href="{explain}" data-value>{cell["value"]}</a>' in html


def test_the_card_marks_a_column_over_its_threshold(scenario, supervisor):
    BusinessProcess.objects.filter(code="PARIS").update(to_be_processed_threshold=2, failed_pct_threshold=70)
    html = get(supervisor, url("business-process")).content.decode()
    assert 'class="snapshot-cell over" data-col="to_be_processed"' in html
    assert 'class="snapshot-cell" data-col="pct_failed"' in html


def test_todays_counts_by_completion_status_and_end_state(make_business_process, supervisor):
    """In the business process's local day only: yesterday's attempts and callbacks are not counted."""
    bp = make_business_process("NOON", time_zone=noon_zone(), recall_intervals=[60])
    agent = Agent.objects.create(login_id="agent-1")
    now = timezone.now()
    attempt(request(bp, "reached", now - timedelta(hours=2)), agent, now - timedelta(hours=1), "handled")
    attempt(request(bp, "no-answer", now - timedelta(hours=2)), agent, now - timedelta(hours=1), "no_answer")
    wrong = request(bp, "wrong", now - timedelta(hours=2))
    attempt(wrong, agent, now - timedelta(minutes=50), "no_answer")
    engine.apply_due_timers(now - timedelta(minutes=40))
    attempt(wrong, agent, now - timedelta(minutes=30), "wrong_destination")
    engine.purge(request(bp, "purged", now - timedelta(hours=2)).pk, now - timedelta(minutes=20), ACTOR)
    engine.cancel(request(bp, "cancelled", now - timedelta(hours=2)).pk, now - timedelta(minutes=10), ACTOR)
    attempt(request(bp, "yesterday", now - timedelta(hours=14)), agent, now - timedelta(hours=13), "handled")

    response = get(supervisor, url("business-process", "NOON"))
    by_status = {item["label"]: item["count"] for item in response.context["by_completion_status"]}
    assert by_status == {
        "Handled": 1,
        "Answering Machine": 0,
        "No Answer": 2,
        "Cancel": 0,
        "Callback Requested": 0,
        "Wrong Destination": 1,
        "Aborted": 0,
        "Withdrawn": 0,
    }
    by_end_state = {item["label"]: item["count"] for item in response.context["by_end_state"]}
    assert by_end_state == {
        "Reached": 1,
        "Failed": 0,
        "Wrong destination": 1,
        "Purged": 1,
        "Cancelled": 1,
        "Aborted": 0,
    }
    html = response.content.decode()
    assert '<td><span class="badge end-green">Reached</span></td><td class="num">1</td>' in html


def test_the_performance_tab_costs_the_same_queries_for_3_or_30_business_processes(
    scenario, supervisor, make_business_process
):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            get(supervisor, url("business-process"))
        return len(captured)

    few = queries()
    for n in range(27):
        make_business_process(f"MORE{n}")
    assert queries() == few


# ---------------------------------------------------------------------------------------------------------
# Callback Timing


def test_the_timing_tab_shows_the_settings_humanly(make_business_process, supervisor):
    make_business_process("DEFAULTS", name="Defaults", time_zone="Europe/Paris")
    html = get(supervisor, url("business-process-timing", "DEFAULTS")).content.decode()
    for label, value in [
        ("Duration For No Answer", "60 s"),
        ("Attempts Before Failure", "3"),
        ("Recall Intervals", "5 min, 15 min, 1 h (last repeats)"),
        ("Time zone", "Europe/Paris"),
        ("Shift starts", "00:00"),
        ("Max schedule-ahead", "30 d"),
        ("Clbk To Be Proc threshold", "50 callbacks"),
        ("% Clbk Fail threshold", "30 %"),
    ]:
        assert f'<tr><th scope="row">{label}</th><td>{value}</td>' in html, label

    make_business_process(
        "ODD",
        recall_intervals=[90, 2 * 86400 + 3600],
        shift_starts=["06:00", "14:00", "22:00"],
        max_schedule_ahead=timedelta(hours=1, minutes=30),
    )
    html = get(supervisor, url("business-process-timing", "ODD")).content.decode()
    assert "<td>1 min 30 s, 2 d 1 h (last repeats)</td>" in html
    assert "<td>06:00, 14:00, 22:00</td>" in html
    assert "<td>1 h 30 min</td>" in html


def test_the_timing_tab_shows_the_week_and_the_exceptions(make_business_process, supervisor):
    bp = make_business_process("WEEK", open=False, time_zone="America/New_York")
    bp.add_default_schedule()
    bp.schedule_ranges.create(weekday=5, start=time(9), end=time(12))
    bp.schedule_ranges.create(weekday=5, start=time(20), end=time(0))
    today = timezone.now().astimezone(bp.tz).date()
    ScheduleException.objects.create(business_process=bp, date=today + timedelta(days=3), note="Holiday")
    ScheduleException.objects.create(
        business_process=bp, date=today + timedelta(days=5), start=time(10), end=time(12), note="Inventory"
    )
    ScheduleException.objects.create(business_process=bp, date=today + timedelta(days=5), start=time(14), end=time(15))
    ScheduleException.objects.create(business_process=bp, date=date(2020, 1, 1), note="Long past")

    response = get(supervisor, url("business-process-timing", "WEEK"))
    week = {day["name"]: [r["label"] for r in day["ranges"]] for day in response.context["week"]}
    assert week == {
        "Monday": ["08:00–18:00"],
        "Tuesday": ["08:00–18:00"],
        "Wednesday": ["08:00–18:00"],
        "Thursday": ["08:00–18:00"],
        "Friday": ["08:00–18:00"],
        "Saturday": ["09:00–12:00", "20:00–24:00"],
        "Sunday": [],
    }
    saturday = response.context["week"][5]["ranges"]
    assert (saturday[1]["left"], saturday[1]["width"]) == (83.333, 16.667)
    assert [day["today"] for day in response.context["week"]].count(True) == 1
    html = response.content.decode()
    assert "Closed all day" in html and "Holiday" in html
    assert "10:00–12:00, 14:00–15:00" in html and "Inventory" in html
    assert "Long past" not in html


# ---------------------------------------------------------------------------------------------------------
# Callback Search


def records(response) -> list:
    return [row.record for row in response.context["table"].rows]


def row_cells(html: str, ext: str) -> list[str]:
    row = re.search(rf'<tr data-callback="{ext}"[^>]*>(.*?)</tr>', html, re.S).group(1)
    return [re.sub(r"<[^>]+>|⋮", "", cell).strip() for cell in re.findall(r"<td[^>]*>\s*(.*?)\s*</td>", row, re.S)]


def test_the_search_tab_lists_the_callbacks_to_be_processed(scenario, supervisor):
    response = get(supervisor, url("business-process-search"))
    assert [record["id"] for record in records(response)] == ["J", "I", "H"], "newest entrance first"
    html = response.content.decode()
    cells = {ext: row_cells(html, ext) for ext in ("H", "I", "J")}
    # external id, phone, customer, location, state, attempts, desired time, next return, owner, agent, entrance, wait
    assert cells["H"][0] == "H"
    assert cells["H"][3:6] == ["HandlingByBusinessProcess", "Queued", "0 of 2"]
    assert cells["I"][3:6] == ["Pending", "Scheduled", "1 of 2"]
    assert cells["J"][3:6] == ["HandlingByAgent", "Dialing", "0 of 2"]
    assert cells["J"][9] == "Alice Agent"
    assert cells["H"][6] == "As soon as possible"
    paris = ZoneInfo("Europe/Paris")
    pending = Callback.objects.get(external_id="I")
    assert cells["I"][7] == dateformat.format(pending.due_at.astimezone(paris), "j M H:i"), "next return to queue"
    assert cells["J"][7] == "—", "a Dialing callback's due time is its no-answer deadline, not a return to queue"
    created_h = Callback.objects.get(external_id="H").created
    assert cells["H"][10] == dateformat.format(created_h.astimezone(paris), "j M H:i")
    assert cells["H"][11] == "30 min"
    assert re.search(r'<tr data-callback="H" data-state="queued" data-created="[^"]+"', html)
    assert re.search(r'<td data-col="waiting" data-sort="-[0-9.]+" class="num">', html), "the browser sorts by it"
    assert "<strong data-total>3</strong>" in html


def test_the_search_tab_shows_the_newest_callbacks_up_to_the_limit_with_constant_queries(
    make_business_process, supervisor, monkeypatch
):
    monkeypatch.setattr(search_live, "ROW_LIMIT", 20)
    bp = make_business_process("BIG")
    owners = [Agent.objects.create(login_id=f"owner-{n}") for n in range(3)]
    now = timezone.now()

    def add(count: int, start: int) -> None:
        for n in range(start, start + count):
            engine.request_callback(
                external_id=f"cb-{n:03d}",
                business_process=bp,
                phone=f"+1212555{n:04d}",
                at=now - timedelta(minutes=n),
                actor=ACTOR,
                desired_time=now + timedelta(hours=1),
                owner_agent=owners[n % 3],
            )

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            get(supervisor, url("business-process-search", "BIG"))
        return len(captured)

    add(20, 0)
    full = queries()
    add(35, 20)
    assert queries() == full > 0, "one query for the rows and one count, whatever the number of callbacks"
    response = get(supervisor, url("business-process-search", "BIG"))
    assert [record["id"] for record in records(response)] == [f"cb-{n:03d}" for n in range(20)]
    html = response.content.decode()
    assert "<strong data-total>55</strong><span data-more>, the newest 20 shown</span>" in html
    assert "owner-1" in html


@pytest.mark.parametrize("role, acts", [("supervisors", True), ("administrators", True), ("managers", False)])
def test_the_search_tab_offers_actions_only_to_those_who_may_act(scenario, client, make_user, role, acts):
    client.force_login(make_user(role))
    response = get(client, url("business-process-search"))
    html = response.content.decode()
    config = response.context["search_config"]

    assert ('data-action="send-to-queue"' in html, 'data-action="purge"' in html) == (acts, acts)
    assert ('id="confirm-dialog"' in html) == acts
    assert "Find on the Callbacks page" in html, "everyone gets the links"
    assert config["canAct"] is acts
    if acts:
        assert config["urls"]["purge"] == "/api/v1/callbacks/__CALLBACK__/purge/"
        assert config["urls"]["send-to-queue"] == "/api/v1/callbacks/__CALLBACK__/send-to-queue/"
    else:
        assert set(config["urls"]) == {"find"}
    assert config["socket"] == "/ws/business-processes/PARIS/callbacks/"
    assert "csrftoken" in response.cookies, "the script posts with the CSRF token from this cookie"
