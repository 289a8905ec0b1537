"""Every number explains itself: the callbacks behind a monitor number, counted exactly as the column counts them.

The scenario is laid out around the real clock, since the pages compute shift starts from "now": PARIS's shift
began two hours ago (Europe/Paris), TOKYO's three hours ago (Asia/Tokyo); EMPTY has processed nothing.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import dateformat, timezone

from callbacks import engine
from callbacks.choices import CompletionStatus
from callbacks.models import Agent, BusinessProcess
from monitoring.columns import compute_rows

ACTOR = engine.Actor("tests")
EXPLAINED = ["proc", "to_be_processed", "purged", "pct_reached", "pct_failed"]
_numbers = iter(range(10_000_000, 99_999_999))


@dataclass
class Scenario:
    paris: BusinessProcess
    tokyo: BusinessProcess
    empty: BusinessProcess
    paris_shift: datetime
    tokyo_shift: datetime


def request(bp: BusinessProcess, ext: str, at: datetime):
    return engine.request_callback(
        external_id=ext, business_process=bp, phone=f"+1212{next(_numbers) % 10_000_000:07d}", at=at, actor=ACTOR
    )


def attempt(callback, agent: Agent, accepted: datetime, status: str, acw_end: datetime | None = None) -> None:
    """Offered and accepted at `accepted`, answered when the status needs it, completed 30 s later."""
    engine.offer(callback.pk, agent, accepted, ACTOR)
    engine.accept(callback.pk, agent, accepted, ACTOR)
    if status in (CompletionStatus.HANDLED, CompletionStatus.ANSWERING_MACHINE):
        engine.connect(callback.pk, agent, "person", accepted + timedelta(seconds=10), ACTOR)
    engine.complete(callback.pk, agent, status, accepted + timedelta(seconds=30), ACTOR)
    if acw_end:
        engine.end_wrapup(callback.pk, agent, acw_end, ACTOR)


def local_hhmm(instant: datetime, zone: str) -> str:
    return instant.astimezone(ZoneInfo(zone)).strftime("%H:%M")


def build_scenario(make_business_process) -> Scenario:
    now = timezone.now()
    paris_shift = (now - timedelta(hours=2)).replace(second=0, microsecond=0)
    tokyo_shift = (now - timedelta(hours=3)).replace(second=0, microsecond=0)
    paris = make_business_process(
        "PARIS",
        name="Paris",
        time_zone="Europe/Paris",
        shift_starts=[local_hhmm(paris_shift, "Europe/Paris")],
        recall_intervals=[60],
        attempts_before_failure=2,
    )
    tokyo = make_business_process(
        "TOKYO", name="Tokyo", time_zone="Asia/Tokyo", shift_starts=[local_hhmm(tokyo_shift, "Asia/Tokyo")]
    )
    empty = make_business_process("EMPTY", name="Empty")
    agent = Agent.objects.create(login_id="agent-1", display_name="Alice Agent")
    s, t = paris_shift, tokyo_shift

    # PARIS, counted in this shift: A reached, C failed after two No Answers (one before the shift),
    # D wrong destination; E purged, F cancelled.
    attempt(request(paris, "A", s + timedelta(minutes=5)), agent, s + timedelta(minutes=10), "handled")
    c = request(paris, "C", s - timedelta(minutes=10))
    attempt(c, agent, s - timedelta(minutes=5), "no_answer")
    engine.apply_due_timers(s - timedelta(minutes=3))
    attempt(c, agent, s + timedelta(minutes=30), "no_answer")
    attempt(request(paris, "D", s + timedelta(minutes=35)), agent, s + timedelta(minutes=36), "wrong_destination")
    engine.purge(request(paris, "E", s + timedelta(minutes=1)).pk, s + timedelta(minutes=40), ACTOR)
    engine.cancel(request(paris, "F", s + timedelta(minutes=1)).pk, s + timedelta(minutes=45), ACTOR)
    # PARIS, the previous shift: B reached, G purged.
    attempt(request(paris, "B", s - timedelta(minutes=40)), agent, s - timedelta(minutes=30), "handled")
    engine.purge(request(paris, "G", s - timedelta(minutes=40)).pk, s - timedelta(minutes=20), ACTOR)
    # PARIS, to be processed: H in queue, I pending for its recall interval, J dialing.
    request(paris, "H", now - timedelta(minutes=30))
    attempt(request(paris, "I", now - timedelta(minutes=5)), agent, now - timedelta(seconds=40), "no_answer")
    j = request(paris, "J", now - timedelta(minutes=2))
    engine.offer(j.pk, agent, now - timedelta(seconds=10), ACTOR)
    engine.accept(j.pk, agent, now - timedelta(seconds=10), ACTOR)

    # TOKYO: K reached and L wrong destination in this shift, M reached before it; N in queue.
    attempt(request(tokyo, "K", t + timedelta(minutes=1)), agent, t + timedelta(minutes=10), "handled")
    attempt(request(tokyo, "L", t + timedelta(minutes=1)), agent, t + timedelta(minutes=20), "wrong_destination")
    attempt(request(tokyo, "M", t - timedelta(minutes=60)), agent, t - timedelta(minutes=50), "handled")
    request(tokyo, "N", now - timedelta(minutes=1))
    engine.apply_schedule_changes(now)  # the timers' last tick: now, not the past one above
    return Scenario(paris, tokyo, empty, paris_shift, tokyo_shift)


@pytest.fixture
def scenario(make_business_process) -> Scenario:
    return build_scenario(make_business_process)


@pytest.fixture
def supervisor(client, make_user):
    client.force_login(make_user("supervisors"))
    return client


def explain(client, column: str, code: str | None = None):
    url = (
        reverse("explain-column", kwargs={"code": code, "column": column})
        if code
        else reverse("explain-totals", kwargs={"column": column})
    )
    response = client.get(url)
    assert response.status_code == 200, response.content
    return response


def listed(response) -> set[str]:
    return {record.external_id for record in response.context["table"].data}


def marked(response) -> set[str]:
    return {record.external_id for record in response.context["table"].data if record.counted}


def test_the_scenario_has_the_expected_numbers(scenario):
    rows = {row.code: row for row in compute_rows().rows}
    assert (rows["PARIS"].proc, rows["PARIS"].reached, rows["PARIS"].to_be_processed, rows["PARIS"].purged) == (
        3,
        1,
        3,
        1,
    )
    assert (rows["TOKYO"].proc, rows["TOKYO"].reached, rows["TOKYO"].to_be_processed) == (2, 1, 1)


@pytest.mark.parametrize(
    "column, code, expected",
    [
        ("proc", "PARIS", {"A", "C", "D"}),
        ("to_be_processed", "PARIS", {"H", "I", "J"}),
        ("purged", "PARIS", {"E"}),
        ("pct_reached", "PARIS", {"A", "C", "D"}),
        ("pct_failed", "PARIS", {"A", "C", "D"}),
        ("proc", "TOKYO", {"K", "L"}),
        ("proc", "EMPTY", set()),
        ("proc", None, {"A", "C", "D", "K", "L"}),
        ("to_be_processed", None, {"H", "I", "J", "N"}),
        ("purged", None, {"E"}),
    ],
)
def test_the_list_holds_exactly_the_counted_callbacks(scenario, supervisor, column, code, expected):
    assert listed(explain(supervisor, column, code)) == expected


def test_a_percentage_marks_its_numerator(scenario, supervisor):
    reached = explain(supervisor, "pct_reached", "PARIS")
    assert marked(reached) == {"A"}
    assert (reached.context["counts"], reached.context["percent"]) == ({"total": 3, "marked": 1}, "33.3 %")
    failed = explain(supervisor, "pct_failed", "PARIS")
    assert marked(failed) == {"C", "D"}
    assert "<strong>2</strong> of <strong>3</strong> callbacks not reached" in failed.content.decode()
    html = failed.content.decode()
    assert html.count('class="counted ') == 2
    assert 'data-callback="A"' in html


def test_every_count_equals_the_monitor_number(scenario, supervisor):
    monitor = compute_rows()
    for row in [*monitor.rows, monitor.totals]:
        for column in EXPLAINED:
            response = explain(supervisor, column, row.code or None)
            counts = response.context["counts"]
            cells = row.cells()
            if column.startswith("pct_"):
                assert counts["total"] == row.proc, (row.code, column)
                assert response.context["percent"] == cells[column], (row.code, column)
            else:
                assert str(counts["total"]) == cells[column], (row.code, column)
                assert response.context["table"].paginator.count == counts["total"]


def test_the_rule_is_stated_with_the_shift_start(scenario, supervisor):
    local = scenario.paris_shift.astimezone(ZoneInfo("Europe/Paris"))
    shift = f"{local:%H:%M} Europe/Paris ({dateformat.format(local, 'D j M')})"
    html = explain(supervisor, "proc", "PARIS").content.decode()
    assert (
        "<strong>Proc:</strong> callbacks that reached an end state other than Purged or Cancelled "
        f"since the shift began at {shift}." in html
    )
    assert '<strong class="big">3</strong>' in html
    pct = explain(supervisor, "pct_reached", "PARIS").content.decode()
    assert (
        "Reached ÷ Proc × 100, Proc being callbacks that reached an end state other than Purged or Cancelled "
        f"since the shift began at {shift}." in pct
    )


def test_the_totals_state_each_business_process_shift(scenario, supervisor):
    html = explain(supervisor, "proc").content.decode()
    assert "since the shift began at each business process&#x27;s own shift start (listed below)" in html
    tokyo = scenario.tokyo_shift.astimezone(ZoneInfo("Asia/Tokyo"))
    assert f"TOKYO</a>: {tokyo:%H:%M} Asia/Tokyo" in html


def test_completed_at_is_shown_in_the_business_process_time(scenario, supervisor):
    response = explain(supervisor, "proc", "TOKYO")
    k = next(record for record in response.context["table"].data if record.external_id == "K")
    local = k.completed_at.astimezone(ZoneInfo("Asia/Tokyo"))
    assert f"{dateformat.format(local, 'j M H:i')} JST" in response.content.decode()


@pytest.mark.parametrize("column", ["avg_time", "status", "nonsense"])
def test_an_unknown_column_is_404(scenario, supervisor, column):
    assert supervisor.get(reverse("explain-column", kwargs={"code": "PARIS", "column": column})).status_code == 404
    assert supervisor.get(reverse("explain-totals", kwargs={"column": column})).status_code == 404


def test_an_unknown_or_inactive_business_process_is_404(scenario, supervisor):
    BusinessProcess.objects.filter(code="TOKYO").update(is_active=False)
    for code in ("NOPE", "TOKYO"):
        assert supervisor.get(reverse("explain-column", kwargs={"code": code, "column": "proc"})).status_code == 404
    assert listed(explain(supervisor, "proc")) == {"A", "C", "D"}, "an inactive business process is not in the totals"


def test_the_list_is_paginated_by_100(make_business_process, supervisor):
    bp = make_business_process("BIG")
    for n in range(105):
        request(bp, f"Q{n:03d}", timezone.now() - timedelta(minutes=n))
    first = explain(supervisor, "to_be_processed", "BIG")
    assert len(first.context["table"].page.object_list) == 100
    assert first.context["counts"]["total"] == 105
    second = supervisor.get(reverse("explain-column", kwargs={"code": "BIG", "column": "to_be_processed"}), {"page": 2})
    assert [row.record.external_id for row in second.context["table"].page.object_list] == [
        "Q100",
        "Q101",
        "Q102",
        "Q103",
        "Q104",
    ]


def test_the_totals_cost_the_same_queries_for_3_or_30_business_processes(scenario, supervisor, make_business_process):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            explain(supervisor, "pct_failed")
        return len(captured)

    few = queries()
    for n in range(27):
        make_business_process(f"MORE{n}", time_zone=["UTC", "Europe/Paris", "Asia/Tokyo"][n % 3])
    assert queries() == few


@pytest.mark.parametrize(
    "role, status", [("supervisors", 200), ("administrators", 200), ("managers", 200), (None, 403)]
)
def test_explain_pages_need_the_monitor_permission(scenario, client, make_user, role, status):
    client.force_login(make_user(role))
    for url in (
        reverse("explain-column", kwargs={"code": "PARIS", "column": "proc"}),
        reverse("explain-totals", kwargs={"column": "proc"}),
    ):
        assert client.get(url).status_code == status


def test_explain_pages_need_a_login(scenario, client):
    response = client.get(reverse("explain-totals", kwargs={"column": "proc"}))
    assert response.status_code == 302 and "/login/" in response["Location"]
