"""The agent reconciliation's settled offers pre-aggregated per agent and UTC hour (AgentHour).

Classifying a month of offers (1.4 million attempts, each with its reason) took 1–4 s on PostgreSQL; summing
what is already settled takes a fraction of that. An offer's reason (monitoring.reports.agents.offered) can
change while its callback is open: declined, then completed by another agent or cancelled; accepted, then its
After Call Work ends, maybe after midnight. So only offers whose reason can no longer change are in the table:

- accepted, After Call Work ended (handled; its day and its offer's day are fixed): settled at the ACW's end;
- not accepted, callback completed (completed by another agent, or cancelled / declined) and no After Call Work
  of its attempts still running (an agent may amend the timer's No Answer until then, and so reopen the
  callback): settled when the callback ended, or when the last ACW ended if later.

Everything else (still in progress, callback still open, or settled since the coverage) is classified directly
by the report, so the two parts never overlap and a report is exactly the one counted directly.

- Kept by ``refresh`` (a Celery beat task, as summary_hours): it rewrites the offers settled in the last
  SUMMARY_RECOMPUTE_HOURS closed hours whole, then says (AgentHourCoverage) that every offer settled before the
  current hour is in the table. The first run builds everything there is. Run twice, or twice at once (the
  coverage row is locked), it gives the same rows.
- Rows keep the UTC hours of the offer and of the ACW's end: they make up the days of any zone whose offset is
  a whole number of hours over the report's range (DST included); for the others the report counts directly.
- Late events: an event reported late, stamped more than SUMMARY_RECOMPUTE_HOURS before the refresh that sees
  it, is only seen once those hours are rewritten (``rebuild``).
- Callbacks deleted by retention stay in their rows: the counts keep them, the drill-downs no longer list them.
"""

from __future__ import annotations

from datetime import UTC, datetime

from django.db import transaction
from django.db.models import Case, CharField, Count, Exists, F, Min, OuterRef, Q, Subquery, Value, When
from django.db.models.functions import TruncHour

from callbacks.choices import CallbackState
from callbacks.models import Attempt

from ..models import AgentHour, AgentHourCoverage
from . import hours
from .hours import floor_hour

HANDLED = "handled"


def utc_hour(expression: str) -> TruncHour:
    return TruncHour(expression, tzinfo=UTC)


def handled_by_another() -> Exists:
    """Another agent accepted the attempt's callback (the same test as agents.offered)."""
    return Exists(
        Attempt.objects.filter(callback=OuterRef("callback"), accepted_at__isnull=False).exclude(
            agent=OuterRef("agent")
        )
    )


def wrap_up_running(since: datetime | None = None) -> Exists:
    """An accepted attempt of the offer's callback whose After Call Work has not ended (or ended at ``since`` or
    after, i.e. was still running then)."""
    running = Q(acw_ended_at__isnull=True) | Q(acw_ended_at__gte=since) if since else Q(acw_ended_at__isnull=True)
    return Exists(Attempt.objects.filter(running, callback=OuterRef("callback"), accepted_at__isnull=False))


def not_settled_before(moment: datetime) -> Q:
    """The offers not in the table with coverage ``moment``: those not settled before it. Settled before it are
    the accepted ones whose ACW ended before it, and the others whose callback ended before it with no ACW
    running then. Written so that PostgreSQL finds them by index (the partial index attempt_offered_unsettled
    and attempt_acw_ended) rather than reading every offer."""
    may_change = Q(accepted_at__isnull=True) | Q(acw_ended_at__isnull=True) | Q(acw_ended_at__gte=moment)
    callback_settled = Q(
        accepted_at__isnull=True, callback__state=CallbackState.COMPLETED, callback__completed_at__lt=moment
    ) & ~wrap_up_running(since=moment)
    return may_change & ~callback_settled


def rebuild(start: datetime, end: datetime) -> int:
    """Rewrite the offers settled in [start, end) (whole UTC hours); returns the rows written. One transaction:
    a report reads the old rows or the new ones."""
    offers = Attempt.objects.filter(agent__isnull=False, offered_at__isnull=False)
    handled = (
        offers.filter(accepted_at__isnull=False, acw_ended_at__gte=start, acw_ended_at__lt=end)
        .annotate(hour=utc_hour("acw_ended_at"), offered_hour=utc_hour("offered_at"), reason=Value(HANDLED))
        .values("agent_id", "hour", "offered_hour", "reason")
        .annotate(n=Count("pk"))
        .order_by()
    )
    # settled when the callback ended, or when the last ACW of its attempts ended if later
    last_wrap_up = Attempt.objects.filter(callback=OuterRef("callback"), accepted_at__isnull=False).order_by(
        "-acw_ended_at"
    )
    not_accepted = (
        offers.filter(accepted_at__isnull=True, callback__state=CallbackState.COMPLETED)
        .exclude(wrap_up_running())
        .annotate(last_acw=Subquery(last_wrap_up.values("acw_ended_at")[:1]))
        .annotate(
            settled_at=Case(
                When(last_acw__gt=F("callback__completed_at"), then=F("last_acw")), default=F("callback__completed_at")
            )
        )
        .filter(settled_at__gte=start, settled_at__lt=end)
        .annotate(
            hour=utc_hour("settled_at"),
            offered_hour=utc_hour("offered_at"),
            reason=Case(
                When(handled_by_another(), then=Value("other_agent")),
                default=Value("cancelled"),
                output_field=CharField(),
            ),
        )
        .values("agent_id", "hour", "offered_hour", "reason")
        .annotate(n=Count("pk"))
        .order_by()
    )
    rows = [
        AgentHour(
            agent_id=row["agent_id"],
            hour=row["hour"],
            offered_hour=row["offered_hour"],
            handled_hour=row["hour"] if row["reason"] == HANDLED else None,
            reason=row["reason"],
            attempts=row["n"],
        )
        for query in (handled, not_accepted)
        for row in query
    ]
    with transaction.atomic():
        AgentHour.objects.filter(hour__gte=start, hour__lt=end).delete()
        AgentHour.objects.bulk_create(rows, batch_size=2000)
    return len(rows)


def earliest_hour() -> datetime | None:
    """The first hour an offer settled in (a first refresh builds from there)."""
    times = [
        Attempt.objects.aggregate(first=Min("acw_ended_at"))["first"],
        Attempt.objects.filter(accepted_at__isnull=True).aggregate(first=Min("callback__completed_at"))["first"],
    ]
    times = [moment for moment in times if moment is not None]
    return floor_hour(min(times)) if times else None


def refresh(now: datetime | None = None) -> int:
    """Rewrite the offers settled in the last SUMMARY_RECOMPUTE_HOURS closed hours (every hour there is, the
    first time) and mark the table complete up to the current hour. Returns the rows written."""
    return hours.refresh(AgentHourCoverage, earliest_hour, rebuild, now)


def complete_until() -> datetime | None:
    return AgentHourCoverage.objects.values_list("complete_until", flat=True).first()
