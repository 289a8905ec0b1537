"""Every number explains itself: the callbacks behind a monitor number, listed under the column's counting rule.

The list is selected with the very filters the column is counted with (monitoring.columns), each business
process from its own shift start, so the count above the list is the monitor's number.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from zoneinfo import ZoneInfo

from django.contrib.auth.mixins import PermissionRequiredMixin
from django.db.models import BooleanField, Case, Count, F, Q, QuerySet, Value, When
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import dateformat, timezone
from django.views.generic import TemplateView
from django_tables2 import SingleTableMixin

from callbacks.models import BusinessProcess, Callback
from callbacks.schedule import current_shift_start

from ..columns import (
    COLUMNS_BY_KEY,
    TO_BE_PROCESSED,
    failed_filter,
    format_percent,
    per_business_process,
    proc_filter,
    purged_filter,
    reached_filter,
)
from ..tables_business_process import ExplainTable

ShiftFilter = Callable[[datetime], Q]


@dataclass(frozen=True)
class Explained:
    """How a column's number is made: the callbacks it counts and, for a percentage, those in its numerator."""

    listed: ShiftFilter
    marked: ShiftFilter | None = None
    marked_word: str = ""
    uses_shift: bool = True


EXPLAINED = {
    "proc": Explained(proc_filter),
    "to_be_processed": Explained(lambda since: TO_BE_PROCESSED, uses_shift=False),
    "purged": Explained(purged_filter),
    "pct_reached": Explained(proc_filter, reached_filter, "reached"),
    "pct_failed": Explained(proc_filter, failed_filter, "not reached"),
}


def describe_shift_start(instant: datetime, tz: ZoneInfo) -> str:
    """As the rule states it: 00:00 Europe/Paris (Wed 25 Nov)."""
    local = instant.astimezone(tz)
    return f"{dateformat.format(local, 'H:i')} {tz.key} ({dateformat.format(local, 'D j M')})"


def column_rule(key: str, shift: str) -> str:
    """The column's counting rule (monitoring.columns.COLUMNS) with the shift start filled in."""
    proc_rule = COLUMNS_BY_KEY["proc"].rule.format(shift=shift)
    return COLUMNS_BY_KEY[key].rule.format(shift=shift, proc_rule=proc_rule)


class ExplainView(PermissionRequiredMixin, SingleTableMixin, TemplateView):
    """The callbacks counted by one column, of one business process (``code``) or of all of them (totals row)."""

    permission_required = "callbacks.view_monitor"
    template_name = "monitoring/explain.html"
    table_class = ExplainTable
    table_pagination = {"per_page": 100}

    @cached_property
    def column(self) -> str:
        if self.kwargs["column"] not in EXPLAINED:
            raise Http404("No such column to explain.")
        return self.kwargs["column"]

    @cached_property
    def now(self) -> datetime:
        return timezone.now()

    @cached_property
    def business_process(self) -> BusinessProcess | None:
        if "code" not in self.kwargs:
            return None
        return get_object_or_404(BusinessProcess, code=self.kwargs["code"], is_active=True)

    @cached_property
    def business_processes(self) -> list[BusinessProcess]:
        if self.business_process:
            return [self.business_process]
        return list(BusinessProcess.objects.filter(is_active=True))

    @cached_property
    def shift_starts(self) -> dict[int, datetime]:
        """As the monitor counts from them: the shift starts the timers recorded (the current one for a business
        process they have not recorded yet)."""
        return {bp.pk: bp.shift_started_at or current_shift_start(bp, self.now) for bp in self.business_processes}

    @cached_property
    def listed(self) -> Q:
        return per_business_process(EXPLAINED[self.column].listed, self.shift_starts)

    @cached_property
    def marked(self) -> Q | None:
        marked = EXPLAINED[self.column].marked
        return per_business_process(marked, self.shift_starts) if marked else None

    def get_table_data(self) -> QuerySet[Callback]:
        callbacks = Callback.objects.filter(self.listed).select_related("business_process")
        if self.marked is not None:
            callbacks = callbacks.annotate(
                counted=Case(When(self.marked, then=Value(True)), default=Value(False), output_field=BooleanField())
            )
        if EXPLAINED[self.column].uses_shift:
            return callbacks.order_by(F("completed_at").desc(nulls_last=True), "-created")
        return callbacks.order_by("-created")

    def counts(self) -> dict[str, int]:
        """How many callbacks the column counts (and, for a percentage, how many are in its numerator)."""
        aggregates = {"total": Count("pk")}
        if self.marked is not None:
            aggregates["marked"] = Count("pk", filter=self.marked)
        return Callback.objects.filter(self.listed).aggregate(**aggregates)

    def rule(self) -> str:
        shifts = {describe_shift_start(self.shift_starts[bp.pk], bp.tz) for bp in self.business_processes}
        return column_rule(
            self.column, shifts.pop() if len(shifts) == 1 else "each business process's own shift start (listed below)"
        )

    def get_context_data(self, **kwargs):
        explained = EXPLAINED[self.column]
        counts = self.counts()
        percent = None
        if explained.marked:
            percent = format_percent(100 * counts["marked"] / counts["total"] if counts["total"] else None)
        bp = self.business_process
        return super().get_context_data(
            monitor_column=COLUMNS_BY_KEY[self.column],
            explained=explained,
            rule=self.rule(),
            counts=counts,
            percent=percent,
            business_process=bp,
            other_columns=[
                {
                    "label": COLUMNS_BY_KEY[key].label,
                    "url": explain_url(key, bp),
                    "active": key == self.column,
                }
                for key in EXPLAINED
            ],
            shift_starts=[
                {"business_process": b, "shift": describe_shift_start(self.shift_starts[b.pk], b.tz)}
                for b in self.business_processes
            ]
            if bp is None and explained.uses_shift
            else [],
            now=self.now,
            **kwargs,
        )


def explain_url(column: str, business_process: BusinessProcess | None) -> str:
    if business_process is None:
        return reverse("explain-totals", kwargs={"column": column})
    return reverse("explain-column", kwargs={"code": business_process.code, "column": column})
