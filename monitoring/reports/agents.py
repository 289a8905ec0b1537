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
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.db.models import Case, CharField, Count, Exists, F, OuterRef, Q, QuerySet, Value, When
from django.db.models.functions import TruncDate

from callbacks.choices import CallbackState
from callbacks.models import Agent, Attempt

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


def day_range(first: date, last: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """From local midnight of the first day to local midnight after the last (DST-correct)."""
    return local_midnight(first, tz), local_midnight(last + timedelta(days=1), tz)


def offered(first: date, last: date, tz: ZoneInfo) -> QuerySet[Attempt]:
    """Attempts offered in the days (to an agent), each with its day and its reason (SAME_DAY when handled)."""
    start, end = day_range(first, last, tz)
    handled_by_another = Attempt.objects.filter(callback=OuterRef("callback"), accepted_at__isnull=False).exclude(
        agent=OuterRef("agent")
    )
    accepted = Q(accepted_at__isnull=False)
    wrapped_up = accepted & Q(acw_ended_at__isnull=False)
    return Attempt.objects.filter(offered_at__gte=start, offered_at__lt=end, agent__isnull=False).annotate(
        day=TruncDate("offered_at", tzinfo=tz),
        handled_day=TruncDate("acw_ended_at", tzinfo=tz),
        reason=Case(
            When(wrapped_up & Q(handled_day=F("day")), then=Value(SAME_DAY)),
            When(wrapped_up, then=Value(LATER_DAY)),
            When(accepted, then=Value(NOT_YET)),  # still dialing, talking or in After Call Work
            When(Exists(handled_by_another), then=Value(OTHER_AGENT)),
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
    """One line per agent and day with any interaction or handled callback: three queries, whatever the range."""
    offers, handles = offered(first, last, tz), handled(first, last, tz)
    if agent_ids:
        offers, handles = offers.filter(agent_id__in=agent_ids), handles.filter(agent_id__in=agent_ids)
    counts: dict[tuple[int, date, str], int] = defaultdict(int)
    earlier = Q(offered_day__lt=F("day"))
    with without_jit():
        for row in offers.values("agent_id", "day", "reason").annotate(n=Count("pk")).order_by():
            counts[row["agent_id"], row["day"], row["reason"]] += row["n"]
        handled_rows = list(
            handles.values("agent_id", "day").annotate(n=Count("pk"), earlier=Count("pk", filter=earlier)).order_by()
        )
    keys = {(agent_id, day) for agent_id, day, _ in counts} | {(r["agent_id"], r["day"]) for r in handled_rows}
    agents = Agent.objects.in_bulk({agent_id for agent_id, _ in keys})
    lines = {(agent_id, day): AgentDay(agent=agents[agent_id], day=day) for agent_id, day in keys}
    for (agent_id, day, reason), n in counts.items():
        line = lines[agent_id, day]
        line.interactions += n
        if reason != SAME_DAY:
            line.reasons[reason] += n
    for row in handled_rows:
        line = lines[row["agent_id"], row["day"]]
        line.handled, line.earlier_day = row["n"], row["earlier"]
    return sorted(lines.values(), key=lambda line: (line.day, str(line.agent)))


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
