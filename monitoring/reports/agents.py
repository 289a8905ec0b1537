"""Agent performance vs agent interactions, reconciled (seed 000: "why 44 handled vs 45 interactions?").

Per agent and per day, in a chosen time zone:

    Interactions – Callback   attempts the agent was offered that day (being alerted is enough)
    Handled – Callback        attempts the agent accepted whose handling, After Call Work included, ended
                              that day

Every offered attempt that is not handled the same day has exactly one reason, and every handled attempt that
was offered on an earlier day is counted apart, so that

    Interactions = Handled − offered on an earlier day + handled on a later day + completed by another agent
                   + not yet executed + cancelled or declined

holds exactly, for every agent and every day. Each number selects its attempts with the same expressions, so a
drill-down lists exactly the callbacks behind it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.db import connection
from django.db.models import Case, CharField, Count, F, Q, QuerySet, Sum, Value, When
from django.db.models.functions import TruncDate

from callbacks.choices import CallbackState
from callbacks.models import Agent, Attempt

from ..models import AgentHour
from . import agent_hours
from .database import without_jit
from .filtersets import local_midnight

SAME_DAY = "same_day"
LATER_DAY = "later_day"
OTHER_AGENT = "other_agent"
NOT_YET = "not_yet"
CANCELLED = "cancelled"
EARLIER_DAY = "earlier_day"

# The reasons an offered attempt is not handled that day, as the report names them.
REASONS = {
    LATER_DAY: "handled on a later day (After Call Work ended after midnight)",
    OTHER_AGENT: "offered, then completed by another agent",
    NOT_YET: "offered, not yet executed",
    CANCELLED: "offered, then cancelled or declined",
}
EARLIER = "handled today, offered on an earlier day"
DAY = timedelta(days=1)


def day_range(first: date, last: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """From local midnight of the first day to local midnight after the last (DST-correct)."""
    return local_midnight(first, tz), local_midnight(last + timedelta(days=1), tz)


def offered(first: date, last: date, tz: ZoneInfo) -> QuerySet[Attempt]:
    """Attempts offered in the days (to an agent), each with its day and its reason (SAME_DAY when handled)."""
    start, end = day_range(first, last, tz)
    accepted = Q(accepted_at__isnull=False)
    wrapped_up = accepted & Q(acw_ended_at__isnull=False)
    return Attempt.objects.filter(offered_at__gte=start, offered_at__lt=end, agent__isnull=False).annotate(
        day=TruncDate("offered_at", tzinfo=tz),
        handled_day=TruncDate("acw_ended_at", tzinfo=tz),
        reason=Case(
            When(wrapped_up & Q(handled_day=F("day")), then=Value(SAME_DAY)),
            When(wrapped_up, then=Value(LATER_DAY)),
            When(accepted, then=Value(NOT_YET)),  # still dialing, talking or in After Call Work
            When(agent_hours.handled_by_another(), then=Value(OTHER_AGENT)),
            When(callback__state__in=CallbackState.open_states(), then=Value(NOT_YET)),
            default=Value(CANCELLED),
            output_field=CharField(),
        ),
    )


def handled(first: date, last: date, tz: ZoneInfo) -> QuerySet[Attempt]:
    """Attempts accepted by their agent whose After Call Work ended in the days, with the day and the offer day."""
    start, end = day_range(first, last, tz)
    return Attempt.objects.filter(
        acw_ended_at__gte=start, acw_ended_at__lt=end, accepted_at__isnull=False, agent__isnull=False
    ).annotate(day=TruncDate("acw_ended_at", tzinfo=tz), offered_day=TruncDate("offered_at", tzinfo=tz))


@dataclass
class AgentDay:
    agent: Agent
    day: date
    interactions: int = 0
    handled: int = 0
    earlier_day: int = 0
    reasons: dict[str, int] = field(default_factory=lambda: dict.fromkeys(REASONS, 0))

    @property
    def difference(self) -> int:
        return self.interactions - self.handled

    @property
    def reconciles(self) -> bool:
        return self.interactions == self.handled - self.earlier_day + sum(self.reasons.values())


def reconcile(first: date, last: date, tz: ZoneInfo, agent_ids: list[int] | None = None) -> list[AgentDay]:
    """One line per agent and day with any interaction or handled callback, in at most five queries whatever the
    range: the offers settled before the coverage are summed from AgentHour, the others classified directly."""
    start, end = day_range(first, last, tz)
    offers, handles = offered(first, last, tz), handled(first, last, tz)
    if agent_ids:
        offers, handles = offers.filter(agent_id__in=agent_ids), handles.filter(agent_id__in=agent_ids)
    counts: dict[tuple[int, date, str], int] = defaultdict(int)
    handled_counts: dict[tuple[int, date], list[int]] = defaultdict(lambda: [0, 0])  # handled, offered earlier
    from .summary_hours import whole_hour_offsets  # here: the summary imports this module

    coverage = agent_hours.complete_until()
    # The table's UTC hours make up this zone's days (a margin of a day: the offer of a handled attempt may be
    # the day before the range, its ACW's end the day after).
    use_table = coverage is not None and coverage > start and whole_hour_offsets(tz, start - DAY, end + DAY)
    earlier = Q(offered_day__lt=F("day"))
    with without_jit():
        if use_table:
            offers = offers.filter(agent_hours.not_settled_before(coverage))
            handles = handles.filter(acw_ended_at__gte=coverage)  # a handled attempt settles when its ACW ends
            for row in settled_rows(start, end, tz, agent_ids):
                agent_id, day, handled_day, n = row["agent_id"], row["day"], row["handled_day"], row["n"]
                if first <= day <= last:
                    reason = row["reason"]
                    if reason == agent_hours.HANDLED:
                        reason = SAME_DAY if handled_day == day else LATER_DAY
                    counts[agent_id, day, reason] += n
                if row["reason"] == agent_hours.HANDLED and first <= handled_day <= last:
                    handled_counts[agent_id, handled_day][0] += n
                    handled_counts[agent_id, handled_day][1] += n if day < handled_day else 0
        with without_hash_joins() if use_table else nullcontext():
            offer_rows = list(offers.values("agent_id", "day", "reason").annotate(n=Count("pk")).order_by())
        for row in offer_rows:
            counts[row["agent_id"], row["day"], row["reason"]] += row["n"]
        handled_rows = handles.values("agent_id", "day").annotate(n=Count("pk"), earlier=Count("pk", filter=earlier))
        for row in handled_rows.order_by():
            handled_counts[row["agent_id"], row["day"]][0] += row["n"]
            handled_counts[row["agent_id"], row["day"]][1] += row["earlier"]
    keys = {(agent_id, day) for agent_id, day, _ in counts} | set(handled_counts)
    agents = Agent.objects.in_bulk({agent_id for agent_id, _ in keys})
    lines = {(agent_id, day): AgentDay(agent=agents[agent_id], day=day) for agent_id, day in keys}
    for (agent_id, day, reason), n in counts.items():
        line = lines[agent_id, day]
        line.interactions += n
        if reason != SAME_DAY:
            line.reasons[reason] += n
    for key, (n, offered_earlier) in handled_counts.items():
        lines[key].handled, lines[key].earlier_day = n, offered_earlier
    return sorted(lines.values(), key=lambda line: (line.day, str(line.agent)))


@contextmanager
def without_hash_joins() -> Iterator[None]:
    """PostgreSQL, for the offers not yet in AgentHour (few: found by index): it cannot tell how few they are
    (declined offers look alike), and joins them to their callbacks by reading all the callbacks into a hash
    (300 ms for a million) rather than looking each one up (10 ms). Off for the query, then set back. To be used
    inside without_jit (a transaction). Nothing on other databases."""
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('enable_hashjoin'), set_config('enable_hashjoin', 'off', true)")
        previous = cursor.fetchone()[0]
        yield
        cursor.execute("SELECT set_config('enable_hashjoin', %s, true)", [previous])


def settled_rows(start: datetime, end: datetime, tz: ZoneInfo, agent_ids: list[int] | None) -> QuerySet:
    """AgentHour's offers made or handled in [start, end), summed per agent, offer day, handled day and reason."""
    rows = AgentHour.objects.filter(
        Q(offered_hour__gte=start, offered_hour__lt=end) | Q(handled_hour__gte=start, handled_hour__lt=end)
    )
    if agent_ids:
        rows = rows.filter(agent_id__in=agent_ids)
    return (
        rows.annotate(day=TruncDate("offered_hour", tzinfo=tz), handled_day=TruncDate("handled_hour", tzinfo=tz))
        .values("agent_id", "day", "handled_day", "reason")
        .annotate(n=Sum("attempts"))
        .order_by()
    )


def drill_down(agent_id: int, day: date, tz: ZoneInfo, number: str) -> QuerySet[Attempt]:
    """The attempts behind one number of a line: "interactions", "handled", EARLIER_DAY or a reason."""
    if number in ("handled", EARLIER_DAY):
        attempts = handled(day, day, tz).filter(agent_id=agent_id)
        if number == EARLIER_DAY:
            attempts = attempts.filter(offered_day__lt=F("day"))
    else:
        attempts = offered(day, day, tz).filter(agent_id=agent_id)
        if number != "interactions":
            attempts = attempts.filter(reason=number)
    return attempts.select_related("callback__business_process", "agent").order_by("offered_at")
