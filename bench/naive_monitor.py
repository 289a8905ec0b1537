"""The naive baseline of the monitor benchmark: what a monitor without the live machinery does.

A page that recomputes every business process with one ORM query per column, and that each supervisor's browser
polls every 4 seconds — as VICIdial's realtime report does. Benchmark only: served by the benchmark's web processes
through ``bench_urls``, never by the product.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import JsonResponse


def naive_recompute():
    """What a naive implementation does: for each business process, a query per column."""
    from django.db.models import Count, DurationField, ExpressionWrapper, F, Sum

    from callbacks.models import Attempt, BusinessProcess, Callback
    from monitoring.columns import (
        TO_BE_PROCESSED,
        Row,
        handled_attempts_filter,
        proc_filter,
        purged_filter,
        reached_filter,
        status,
    )

    handle_time = ExpressionWrapper(F("acw_ended_at") - F("accepted_at"), output_field=DurationField())
    rows = []
    for bp in BusinessProcess.objects.filter(is_active=True):
        since = bp.shift_started_at  # as the timers recorded it
        callbacks = Callback.objects.filter(business_process=bp)
        handled = Attempt.objects.filter(callback__business_process=bp).filter(handled_attempts_filter(since))
        totals = handled.aggregate(n=Count("pk"), total=Sum(handle_time))
        rows.append(
            Row(
                code=bp.code,
                name=bp.name,
                status=status(bp),  # as the timers recorded it
                shift_started_at=since,
                time_zone=bp.time_zone,
                to_be_processed=callbacks.filter(TO_BE_PROCESSED).count(),
                proc=callbacks.filter(proc_filter(since)).count(),
                reached=callbacks.filter(reached_filter(since)).count(),
                purged=callbacks.filter(purged_filter(since)).count(),
                handled_attempts=totals["n"],
                handle_seconds=totals["total"].total_seconds() if totals["total"] else 0.0,
            )
        )
    return rows


@login_required
def naive_monitor_page(request):
    """The baseline's page: every row recomputed from the database on every poll."""
    rows = naive_recompute()
    return JsonResponse({"rows": [row.as_message() for row in rows]})
