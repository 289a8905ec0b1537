"""A business process's pages, the seed's tabs: Callback Performance, Callback Timing, Callback Search."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, time
from functools import cached_property

from django.contrib.auth.mixins import PermissionRequiredMixin
from django.db.models import Count
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone
from django.views.generic import TemplateView

from callbacks.choices import END_STATE_COLOURS, CompletionStatus, EndState
from callbacks.models import Attempt, BusinessProcess, Callback
from callbacks.schedule import MIDNIGHT, local_day_start

from .. import search_live
from ..columns import COLUMNS, STATUS_LABELS, compute_rows, status
from ..tables_business_process import ToBeProcessedTable
from .explain import EXPLAINED, column_rule, describe_shift_start, explain_url

TABS = [
    ("business-process", "Callback Performance"),
    ("business-process-timing", "Callback Timing"),
    ("business-process-search", "Callback Search"),
]
DAY_MINUTES = 24 * 60
# Stands for a callback's external id in the URLs the Callback Search script fills in.
CALLBACK = "__CALLBACK__"
ACTIONS = ("send-to-queue", "purge")


def format_span(seconds: float) -> str:
    """A duration as people say it: 0 s, 45 s, 5 min, 1 h 30 min, 30 d."""
    seconds = int(seconds)
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60), ("s", 1)):
        amount, seconds = divmod(seconds, size)
        if amount:
            parts.append(f"{amount} {unit}")
    return " ".join(parts) or "0 s"


def format_recall_intervals(intervals: list[int]) -> str:
    """5 min, 15 min, 1 h (last repeats)."""
    spans = ", ".join(format_span(seconds) for seconds in intervals)
    return f"{spans} ({'last repeats' if len(intervals) > 1 else 'repeats'})"


def format_range(start: time, end: time) -> str:
    return f"{start:%H:%M}–{'24:00' if end == MIDNIGHT else f'{end:%H:%M}'}"


def _minutes(moment: time) -> int:
    return moment.hour * 60 + moment.minute


def _bar(start: time, end: time) -> dict:
    """Where a range sits on a 24-hour track, in percent."""
    begin, finish = _minutes(start), DAY_MINUTES if end == MIDNIGHT else _minutes(end)
    return {
        "label": format_range(start, end),
        "left": round(100 * begin / DAY_MINUTES, 3),
        "width": round(100 * (finish - begin) / DAY_MINUTES, 3),
    }


class BusinessProcessPageMixin(PermissionRequiredMixin):
    """One active business process, by code, with the tabs and its CLBK Stat for the page header."""

    permission_required = "callbacks.view_monitor"
    tab: str
    prefetch: tuple[str, ...] = ()  # what the tab reads of the business process's related rows

    @cached_property
    def now(self) -> datetime:
        return timezone.now()

    @cached_property
    def business_process(self) -> BusinessProcess:
        business_processes = BusinessProcess.objects.prefetch_related(*self.prefetch)
        return get_object_or_404(business_processes, code=self.kwargs["code"], is_active=True)

    def get_context_data(self, **kwargs):
        bp = self.business_process
        tabs = [
            {"label": label, "url": reverse(name, kwargs={"code": bp.code}), "active": name == self.tab}
            for name, label in TABS
        ]
        current = status(bp)
        return super().get_context_data(
            business_process=bp, tabs=tabs, status=current, status_label=STATUS_LABELS[current], now=self.now, **kwargs
        )


class BusinessProcessPerformanceView(BusinessProcessPageMixin, TemplateView):
    """Callback Performance: the monitor's columns as a snapshot card, and today's counts."""

    tab = "business-process"
    template_name = "monitoring/business_process_performance.html"

    def get_context_data(self, **kwargs):
        bp = self.business_process
        row = compute_rows(self.now, business_process_ids=[bp.pk]).rows[0]
        cells = row.cells()
        shift = describe_shift_start(row.shift_start, bp.tz)
        over = {"to_be_processed": row.over_to_be_processed_threshold, "pct_failed": row.over_failed_threshold}
        card = [
            {
                "key": column.key,
                "label": column.label,
                "value": cells[column.key],
                "rule": column_rule(column.key, shift),
                "url": explain_url(column.key, bp) if column.key in EXPLAINED else None,
                "over": over.get(column.key, False),
            }
            for column in COLUMNS
        ]
        day_start = local_day_start(bp, self.now)
        return super().get_context_data(
            row=row,
            card=card,
            shift=shift,
            day_start=day_start,
            by_completion_status=self.by_completion_status(day_start),
            by_end_state=self.by_end_state(day_start),
            **kwargs,
        )

    def by_completion_status(self, since: datetime) -> list[dict]:
        """Attempts completed since the start of the local day, by completion status (every status listed)."""
        counts = dict(
            Attempt.objects.filter(business_process=self.business_process, completed_at__gte=since)
            .values_list("completion_status")
            .annotate(n=Count("pk"))
            .order_by()
        )
        return [{"label": label, "count": counts.get(value, 0)} for value, label in CompletionStatus.choices]

    def by_end_state(self, since: datetime) -> list[dict]:
        """Callbacks that reached an end state since the start of the local day, by end state."""
        counts = dict(
            Callback.objects.filter(business_process=self.business_process, completed_at__gte=since)
            .values_list("end_state")
            .annotate(n=Count("pk"))
            .order_by()
        )
        return [
            {"label": label, "count": counts.get(value, 0), "colour": END_STATE_COLOURS[value]}
            for value, label in EndState.choices
        ]


class BusinessProcessSearchView(BusinessProcessPageMixin, TemplateView):
    """Callback Search: the callbacks to be processed (Clbk To Be Proc), newest entrance first, live.

    The rows are those monitoring.search_live pushes (the same ``search_row``), so the page and the pushes agree;
    static/js/callback_search.js patches, sorts and filters them and runs the row menu's actions.
    """

    tab = "business-process-search"
    template_name = "monitoring/business_process_search.html"

    def get_context_data(self, **kwargs):
        bp = self.business_process
        listing = search_live.compute(bp, self.now)
        can_act = self.request.user.has_perm("callbacks.manage_callbacks")
        blank_cells = defaultdict(str)
        placeholder = {"id": CALLBACK, "state": "", "created": self.now.isoformat(), "cells": blank_cells, "sort": {}}
        actions = {action: reverse(f"api-callback-{action}", args=[CALLBACK]) for action in ACTIONS} if can_act else {}
        config = {
            "code": bp.code,
            "socket": f"/ws/business-processes/{bp.code}/callbacks/",
            "callback": CALLBACK,
            "canAct": can_act,
            "now": self.now.isoformat(),
            "limit": search_live.ROW_LIMIT,
            "urls": {
                # The Callbacks page across business processes (issue 4, built beside this tab), searching by id.
                "find": reverse("callbacks") + f"?range=custom&q={CALLBACK}",  # custom, no dates: any age
                **actions,
            },
        }
        return super().get_context_data(
            table=ToBeProcessedTable(listing.rows, now=self.now),
            # The row the script clones for a callback the page did not have when it was rendered.
            row_template=ToBeProcessedTable([placeholder], now=self.now),
            total=listing.total,
            more=listing.total > len(listing.rows),
            limit=search_live.ROW_LIMIT,
            can_act=can_act,
            search_config=config,
            **kwargs,
        )
