"""What the reports' per-UTC-hour tables share (SummaryHour, AgentHour): the hour an instant falls in, and the
beat's refresh that rewrites their recent closed hours and moves their coverage forward."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone


def floor_hour(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def refresh(
    coverage_model: type[models.Model],
    earliest_hour: Callable[[], datetime | None],
    rebuild: Callable[[datetime, datetime], int],
    now: datetime | None = None,
) -> int:
    """Rewrite the closed hours of the last SUMMARY_RECOMPUTE_HOURS (every hour there is, the first time) and mark
    the table complete up to the current hour. Returns the rows written."""
    until = floor_hour(now or timezone.now())
    with transaction.atomic():
        coverage = coverage_model.objects.select_for_update().first()
        if coverage is None:
            since = earliest_hour() or until
            coverage = coverage_model(pk=1, complete_until=until)  # one row: a second first run fails
        else:
            since = min(coverage.complete_until, until) - timedelta(hours=settings.SUMMARY_RECOMPUTE_HOURS)
            coverage.complete_until = max(coverage.complete_until, until)
        written = rebuild(min(since, until), until)
        coverage.save()
    return written
