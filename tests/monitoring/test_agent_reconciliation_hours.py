"""The agent reconciliation's pre-aggregated settled offers (monitoring.reports.agent_hours): only what can no
longer change is in the table, nothing is counted twice or lost, and a report summed from it is the report
classified directly."""

import random
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.utils import timezone

from callbacks.choices import CallbackState, CompletionStatus, EndState
from callbacks.models import Agent, Attempt, Callback
from monitoring.models import AgentHour, AgentHourCoverage
from monitoring.reports import agent_hours
from monitoring.reports.agents import CANCELLED, NOT_YET, OTHER_AGENT, offered, reconcile
from monitoring.tasks import refresh_agent_hours

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 12, 17, 8, tzinfo=UTC)
DAY = date(2026, 12, 17)


def as_tuples(lines):
    """A report's lines, comparable."""
    return [
        (line.agent.pk, line.day, line.interactions, line.handled, line.earlier_day, tuple(line.reasons.items()))
        for line in lines
    ]


def directly(first, last, tz):
    """The report classified from the attempts alone: as if the table had never been built."""
    saved = list(AgentHourCoverage.objects.all())
    AgentHourCoverage.objects.all().delete()
    try:
        return reconcile(first, last, tz)
    finally:
        AgentHourCoverage.objects.bulk_create(saved)


def test_only_offers_that_can_no_longer_change_are_in_the_table(make_business_process):
    bp = make_business_process("SALES")
    ann, bob = Agent.objects.create(login_id="ann"), Agent.objects.create(login_id="bob")

    def cb(ref, state=CallbackState.COMPLETED, completed=T0 + timedelta(hours=2)):
        done = state == CallbackState.COMPLETED
        return Callback.objects.create(
            external_id=ref, business_process=bp, phone="+33142685300", state=state, created=T0,
            end_state=EndState.REACHED if done else "", completed_at=completed if done else None,
        )  # fmt: skip

    def attempt(callback, agent, number, accepted=False, acw=None):
        return Attempt.objects.create(
            callback=callback, business_process=bp, number=number, agent=agent, offered_at=T0,
            accepted_at=T0 if accepted else None, completion_status=CompletionStatus.CANCEL, acw_ended_at=acw,
        )  # fmt: skip

    attempt(cb("handled"), ann, 1, accepted=True, acw=T0 + timedelta(minutes=10))
    attempt(cb("wrapping-up", CallbackState.PROCESSING), ann, 1, accepted=True)  # ACW not ended
    attempt(cb("still-open", CallbackState.QUEUED), ann, 1)  # declined, nobody has it yet
    shared = cb("shared")
    attempt(shared, ann, 1)
    attempt(shared, bob, 2, accepted=True, acw=T0 + timedelta(minutes=20))
    attempt(cb("cancelled"), ann, 1)

    agent_hours.refresh(now=T0 + timedelta(hours=5))

    in_table = {(row.agent.login_id, row.reason, row.hour) for row in AgentHour.objects.select_related("agent")}
    assert in_table == {
        ("ann", "handled", T0),
        ("bob", "handled", T0),
        ("ann", OTHER_AGENT, T0 + timedelta(hours=2)),  # settled when the callback ended
        ("ann", CANCELLED, T0 + timedelta(hours=2)),
    }
    coverage = agent_hours.complete_until()
    direct = offered(DAY, DAY, UTC).filter(agent_hours.not_settled_before(coverage))
    assert sorted(a.callback.external_id for a in direct) == ["still-open", "wrapping-up"]
    assert {a.reason for a in direct} == {NOT_YET}


def test_an_offer_settled_long_after_it_was_made_is_counted_once(make_business_process):
    """Ann declines; the callback stays open two days, then Bob completes it: far outside the rewritten hours of
    the offer, but the offer is filed under the hour it settled in, which the next refresh writes."""
    bp = make_business_process("SALES")
    ann, bob = Agent.objects.create(login_id="ann"), Agent.objects.create(login_id="bob")
    callback = Callback.objects.create(
        external_id="slow", business_process=bp, phone="+33142685300", state=CallbackState.QUEUED, created=T0
    )
    Attempt.objects.create(callback=callback, business_process=bp, number=1, agent=ann, offered_at=T0)
    agent_hours.refresh(now=T0 + timedelta(hours=1, minutes=5))
    (line,) = reconcile(DAY, DAY, UTC)
    assert (line.interactions, line.reasons[NOT_YET], line.reasons[OTHER_AGENT]) == (1, 1, 0)

    later = T0 + timedelta(days=2)
    Attempt.objects.create(
        callback=callback, business_process=bp, number=2, agent=bob, offered_at=later, accepted_at=later,
        completion_status=CompletionStatus.HANDLED, acw_ended_at=later + timedelta(minutes=5),
    )  # fmt: skip
    Callback.objects.filter(pk=callback.pk).update(
        state=CallbackState.COMPLETED, end_state=EndState.REACHED, completed_at=later
    )
    (line,) = reconcile(DAY, DAY, UTC)  # not yet refreshed: counted directly
    assert (line.interactions, line.reasons[NOT_YET], line.reasons[OTHER_AGENT]) == (1, 0, 1)

    agent_hours.refresh(now=later + timedelta(hours=1, minutes=5))
    (line,) = reconcile(DAY, DAY, UTC)  # from the table
    assert (line.interactions, line.reasons[NOT_YET], line.reasons[OTHER_AGENT]) == (1, 0, 1)
    assert AgentHour.objects.filter(agent=ann, reason=OTHER_AGENT).get().offered_hour == T0


def test_a_decline_settles_only_once_no_after_call_work_of_its_callback_runs(make_business_process):
    """Bob's attempt ended in the timer's No Answer and failed the callback, but Bob may amend it (and reopen the
    callback) until his After Call Work ends: Ann's decline settles then, not when the callback ended."""
    bp = make_business_process("SALES")
    ann, bob = Agent.objects.create(login_id="ann"), Agent.objects.create(login_id="bob")
    failed_at = T0 + timedelta(minutes=10)
    callback = Callback.objects.create(
        external_id="failed", business_process=bp, phone="+33142685300", created=T0,
        state=CallbackState.COMPLETED, end_state=EndState.FAILED, completed_at=failed_at,
    )  # fmt: skip
    Attempt.objects.create(callback=callback, business_process=bp, number=1, agent=ann, offered_at=T0)
    bobs = Attempt.objects.create(
        callback=callback, business_process=bp, number=2, agent=bob, offered_at=T0, accepted_at=T0,
        completed_at=failed_at, completion_status=CompletionStatus.NO_ANSWER, completed_by_timer=True,
    )  # fmt: skip

    agent_hours.refresh(now=T0 + timedelta(hours=3))
    assert not AgentHour.objects.filter(agent=ann).exists()  # still counted directly
    (line,) = [line for line in reconcile(DAY, DAY, UTC) if line.agent == ann]
    assert (line.interactions, line.reasons[OTHER_AGENT]) == (1, 1)

    bobs.acw_ended_at = T0 + timedelta(hours=3, minutes=30)
    bobs.save()
    agent_hours.refresh(now=T0 + timedelta(hours=4, minutes=1))
    assert AgentHour.objects.get(agent=ann).hour == T0 + timedelta(hours=3)  # when Bob's wrap-up ended
    (line,) = [line for line in reconcile(DAY, DAY, UTC) if line.agent == ann]
    assert (line.interactions, line.reasons[OTHER_AGENT]) == (1, 1)
    assert as_tuples(reconcile(DAY, DAY, UTC)) == as_tuples(directly(DAY, DAY, UTC))


def test_refreshing_twice_gives_the_same_rows_and_the_beat_task_refreshes(make_business_process):
    _random_history(random.Random(7), make_business_process("SALES"), timezone.now() - timedelta(days=5), 40)
    refresh_agent_hours()  # the beat's task: everything there is, the first time
    first = sorted(AgentHour.objects.values_list("agent_id", "hour", "offered_hour", "reason", "attempts"))
    assert first and AgentHourCoverage.objects.count() == 1
    agent_hours.refresh()
    assert sorted(AgentHour.objects.values_list("agent_id", "hour", "offered_hour", "reason", "attempts")) == first


def test_a_zone_with_a_half_hour_offset_is_classified_directly(make_business_process, django_assert_num_queries):
    _random_history(random.Random(3), make_business_process("SALES"), T0, 30)
    agent_hours.refresh(now=T0 + timedelta(days=5))
    kolkata = ZoneInfo("Asia/Kolkata")
    assert as_tuples(reconcile(DAY, DAY, kolkata)) == as_tuples(directly(DAY, DAY, kolkata))
    # coverage, the offers, the handled ones, the agents (PostgreSQL: and JIT off and back, in a savepoint)
    with django_assert_num_queries(4 + (4 if connection.vendor == "postgresql" else 0)):
        reconcile(DAY, DAY, kolkata)


def _random_history(rng: random.Random, bp, start: datetime, callbacks: int) -> None:
    """Callbacks offered over three days to a few agents, in every state an offer can be in: handled (ACW ending
    the same hour, hours or a day later), declined then taken by another agent, declined and still open, accepted
    with ACW not ended, cancelled; and an oddity the engine allows (ACW ended on a declined offer)."""
    agents = [Agent.objects.create(login_id=f"agent-{n}") for n in range(4)]
    for n in range(callbacks):
        offered_at = start + timedelta(minutes=rng.randrange(3 * 24 * 60))
        open_ = rng.random() < 0.3
        completed_at = None if open_ else offered_at + timedelta(minutes=rng.randrange(5, 3000))
        callback = Callback.objects.create(
            external_id=f"cb-{n}", business_process=bp, phone="+33142685300", created=offered_at,
            state=rng.choice(CallbackState.open_states()) if open_ else CallbackState.COMPLETED,
            end_state="" if open_ else rng.choice([EndState.REACHED, EndState.PURGED, EndState.CANCELLED]),
            completed_at=completed_at,
        )  # fmt: skip
        moment = offered_at
        for number in range(1, rng.randint(1, 3) + 1):
            accepted = rng.random() < 0.5
            acw = None
            if accepted and rng.random() < 0.8:
                acw = moment + timedelta(minutes=rng.choice([3, 40, 90, 600, 1500]))
            elif not accepted and rng.random() < 0.1:
                acw = moment + timedelta(minutes=2)  # wrap-up ended on a declined offer
            Attempt.objects.create(
                callback=callback, business_process=bp, number=number, agent=rng.choice(agents),
                offered_at=moment, accepted_at=moment if accepted else None, acw_ended_at=acw,
                completion_status=CompletionStatus.HANDLED if accepted else CompletionStatus.CANCEL,
            )  # fmt: skip
            moment += timedelta(minutes=rng.randrange(1, 400))


@pytest.mark.parametrize("seed", range(4))
def test_summed_from_the_table_is_the_report_classified_directly(make_business_process, seed):
    rng = random.Random(seed)
    _random_history(rng, make_business_process("SALES"), T0, 120)
    first, last = DAY - timedelta(days=1), DAY + timedelta(days=4)
    refreshes = sorted(T0 + timedelta(minutes=rng.randrange(5 * 24 * 60)) for _ in range(3))
    for now in refreshes:
        agent_hours.refresh(now=now)
        for tz in (UTC, ZoneInfo("Europe/Paris"), ZoneInfo("America/New_York"), ZoneInfo("Pacific/Auckland")):
            for days in ((first, last), (DAY, DAY), (DAY + timedelta(days=1), DAY + timedelta(days=2))):
                summed = reconcile(*days, tz)
                assert summed and all(line.reconciles for line in summed)
                assert as_tuples(summed) == as_tuples(directly(*days, tz)), (now, tz, days)
    assert AgentHour.objects.exists()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's planner settings")
def test_hash_joins_are_set_back_after_the_report(make_business_process):
    _random_history(random.Random(5), make_business_process("SALES"), T0, 20)
    agent_hours.refresh(now=T0 + timedelta(days=1))
    assert reconcile(DAY, DAY + timedelta(days=1), UTC)
    with connection.cursor() as cursor:  # the test's transaction is still open: SET LOCAL would still show
        cursor.execute("SELECT current_setting('enable_hashjoin'), current_setting('jit')")
        assert cursor.fetchone() == ("on", "on")
