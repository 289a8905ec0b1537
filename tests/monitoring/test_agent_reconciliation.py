"""Agent performance vs agent interactions (seed 000), reconciled on a constructed day with every case."""

from datetime import date, datetime, timedelta
from itertools import count
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.urls import reverse

from callbacks.choices import CallbackState, CompletionStatus, EndState
from callbacks.models import Agent, Attempt, Callback
from monitoring.models import AgentHour, AgentHourCoverage
from monitoring.reports import agent_hours
from monitoring.reports.agents import (
    CANCELLED,
    EARLIER_DAY,
    LATER_DAY,
    NOT_YET,
    OTHER_AGENT,
    drill_down,
    reconcile,
)

pytestmark = pytest.mark.django_db

# PostgreSQL: the report's queries run without JIT (monitoring.reports.database.without_jit), a savepoint here
# with the setting set and set back: four more queries.
NO_JIT_QUERIES = 4 if connection.vendor == "postgresql" else 0

PARIS = ZoneInfo("Europe/Paris")
UTC = ZoneInfo("UTC")
DAY = date(2026, 12, 17)
_refs = count(1)


def paris(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 12, day, hour, minute, tzinfo=PARIS)


@pytest.fixture
def agents(db):
    return Agent.objects.create(login_id="ann", display_name="Ann"), Agent.objects.create(login_id="bob")


def callback(bp, ref: str, state=CallbackState.COMPLETED, end_state=EndState.REACHED) -> Callback:
    completed = state == CallbackState.COMPLETED
    return Callback.objects.create(
        external_id=ref,
        business_process=bp,
        phone="+33142685300",
        state=state,
        end_state=end_state if completed else "",
        created=paris(16, 8),
        completed_at=paris(18, 12) if completed else None,
    )


def attempt(cb, agent, offered, accepted=None, acw_end=None, status="", number=None) -> Attempt:
    return Attempt.objects.create(
        callback=cb,
        business_process=cb.business_process,
        number=number or cb.attempt_set.count() + 1,
        agent=agent,
        offered_at=offered,
        accepted_at=accepted,
        completed_at=acw_end - timedelta(minutes=1) if acw_end else None,
        completion_status=status,
        acw_ended_at=acw_end,
    )


# Every test of Ann's day runs three ways, with the same expected numbers: classified directly; summed from the
# pre-aggregated settled offers (agent_hours, refreshed after the history); and half and half (the offers settled
# before 17 Dec 13:00 UTC from the table, the rest classified directly).
DIRECT, HOURS, HALF = "direct", "pre-aggregated hours", "hours then direct"


@pytest.fixture(params=[DIRECT, HOURS, HALF])
def day_of_ann(request, make_business_process, agents):
    ann, bob = _day_of_ann(make_business_process, agents)
    if request.param == HOURS:
        assert agent_hours.refresh(now=datetime(2026, 12, 20, tzinfo=UTC)) > 0
    elif request.param == HALF:
        agent_hours.refresh(now=datetime(2026, 12, 17, 13, 30, tzinfo=UTC))
        assert AgentHourCoverage.objects.get().complete_until == datetime(2026, 12, 17, 13, tzinfo=UTC)
        assert AgentHour.objects.count() > 0
    return ann, bob


def _day_of_ann(make_business_process, agents):
    """Ann on 17 December (Paris): every way an interaction and a handled callback can differ."""
    ann, bob = agents
    bp = make_business_process("SALES", time_zone="Europe/Paris")
    for n in range(3):  # offered and handled the same day
        attempt(callback(bp, f"same-{n}"), ann, paris(17, 9 + n), paris(17, 9 + n), paris(17, 9 + n, 20), "handled")
    # offered at 23:50, After Call Work ended after midnight: handled on the 18th
    attempt(callback(bp, "late"), ann, paris(17, 23, 50), paris(17, 23, 50), paris(18, 0, 10), "handled")
    # Ann declined; Bob handled it the same day
    shared = callback(bp, "shared")
    attempt(shared, ann, paris(17, 14), status=CompletionStatus.CANCEL)
    attempt(shared, bob, paris(17, 14, 5), paris(17, 14, 5), paris(17, 14, 30), "handled")
    # Ann declined; nobody has executed it yet
    attempt(callback(bp, "waiting", state=CallbackState.QUEUED), ann, paris(17, 15), status=CompletionStatus.CANCEL)
    # Ann is still dialing it
    attempt(callback(bp, "dialing", state=CallbackState.PROCESSING), ann, paris(17, 16), paris(17, 16))
    # Ann was offered it, then a supervisor purged it
    purged = callback(bp, "purged", end_state=EndState.PURGED)
    attempt(purged, ann, paris(17, 17), status=CompletionStatus.WITHDRAWN)
    # offered on the 16th at 23:55, handled on the 17th at 00:05
    attempt(callback(bp, "overnight"), ann, paris(16, 23, 55), paris(16, 23, 55), paris(17, 0, 5), "handled")
    return ann, bob


def line_of(lines, agent, day=DAY):
    (line,) = [line for line in lines if line.agent == agent and line.day == day]
    return line


def test_every_difference_has_its_reason_and_the_numbers_add_up(day_of_ann):
    ann, bob = day_of_ann

    lines = reconcile(DAY, DAY, PARIS)

    line = line_of(lines, ann)
    assert (line.interactions, line.handled, line.difference) == (8, 4, 4)
    assert line.reasons == {LATER_DAY: 1, OTHER_AGENT: 1, NOT_YET: 2, CANCELLED: 1}
    assert line.earlier_day == 1
    assert line.interactions == line.handled - line.earlier_day + sum(line.reasons.values())
    assert all(line.reconciles for line in lines)
    bob_line = line_of(lines, bob)
    assert (bob_line.interactions, bob_line.handled) == (1, 1)


def test_the_day_is_the_day_in_the_chosen_time_zone(day_of_ann):
    ann, _ = day_of_ann

    line = line_of(reconcile(DAY, DAY, UTC), ann)

    # In UTC the 23:50 offer (22:50) and its 00:10 end (23:10) fall on the same day, and the 16th's 23:55 offer
    # (22:55) with its 00:05 end (23:05) both belong to the 16th.
    assert (line.interactions, line.handled, line.earlier_day) == (8, 4, 0)
    assert line.reasons[LATER_DAY] == 0
    assert all(line.reconciles for line in reconcile(DAY - timedelta(days=1), DAY + timedelta(days=1), UTC))


def test_each_number_drills_down_to_its_callbacks(day_of_ann):
    ann, _ = day_of_ann

    def refs(number):
        return sorted(a.callback.external_id for a in drill_down(ann.pk, DAY, PARIS, number))

    assert refs(LATER_DAY) == ["late"]
    assert refs(OTHER_AGENT) == ["shared"]
    assert refs(NOT_YET) == ["dialing", "waiting"]
    assert refs(CANCELLED) == ["purged"]
    assert refs(EARLIER_DAY) == ["overnight"]
    assert refs("handled") == ["overnight", "same-0", "same-1", "same-2"]
    assert len(refs("interactions")) == 8


def test_the_report_page_answers_the_question_on_one_screen(
    client, make_user, day_of_ann, django_assert_max_num_queries
):
    ann, _ = day_of_ann
    client.force_login(make_user("managers"))
    url = reverse("report-agents")

    with django_assert_max_num_queries(12 + NO_JIT_QUERIES):
        page = client.get(url, {"first": "2026-12-17", "last": "2026-12-17", "time_zone": "Europe/Paris"})

    assert page.status_code == 200
    text = page.content.decode()
    assert "Ann" in text and "handled on a later day" in text
    drilled = client.get(
        url,
        {
            "first": "2026-12-17",
            "last": "2026-12-17",
            "time_zone": "Europe/Paris",
            "agent": ann.pk,
            "day": "2026-12-17",
            "number": NOT_YET,
        },
    ).content.decode()
    assert "dialing" in drilled and "waiting" in drilled and "same-0" not in drilled


def test_bad_filters_are_refused_with_a_message(client, make_user):
    client.force_login(make_user("managers"))
    response = client.get(reverse("report-agents"), {"first": "2026-12-20", "last": "2026-12-01", "time_zone": "UTC"})
    assert response.status_code == 400
    assert "last day" in response.content.decode()


@pytest.mark.parametrize(("role", "status"), [("managers", 200), ("administrators", 200), ("supervisors", 403)])
def test_who_reads_the_agent_report(client, make_user, role, status):
    client.force_login(make_user(role))
    assert client.get(reverse("report-agents")).status_code == status
