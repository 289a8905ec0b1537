"""The summary report: per business process per day (or hour), a chart over time, and its CSV."""

from __future__ import annotations

import csv
import zoneinfo
from datetime import timedelta

from django import forms
from django.contrib.auth.mixins import PermissionRequiredMixin
from django.core.paginator import Paginator
from django.http import StreamingHttpResponse
from django.utils import timezone
from django.views.generic import TemplateView

from callbacks.choices import EndState
from callbacks.models import BusinessProcess

from ..reports.exports import neutralise
from ..reports.filtersets import DaysForm
from ..reports.summary import DAY, END_STATES, HOUR, Period, over_time, summarize

MAX_DAYS = {DAY: 92, HOUR: 7}
CHART_WIDTH, CHART_HEIGHT, CHART_MARGIN = 900, 220, 36


class SummaryForm(DaysForm):
    granularity = forms.ChoiceField(label="Per", choices=[(DAY, "day"), (HOUR, "hour")])
    business_processes = forms.ModelMultipleChoiceField(BusinessProcess.objects.all(), required=False)

    def limit(self, cleaned: dict) -> tuple[int, str] | None:
        granularity = cleaned.get("granularity")
        if granularity is None:
            return None
        return MAX_DAYS[granularity], f"At most {MAX_DAYS[granularity]} days per {granularity}."


class SummaryReportView(PermissionRequiredMixin, TemplateView):
    """Supervisors, managers and administrators; ``?format=csv`` downloads every line."""

    permission_required = "callbacks.view_monitor"
    template_name = "monitoring/reports/summary.html"

    def get(self, request, *args, **kwargs):
        today = timezone.now().date()
        defaults = {"first": today - timedelta(days=6), "last": today, "granularity": DAY, "time_zone": "UTC"}
        form = SummaryForm(request.GET if "first" in request.GET else defaults)
        if not form.is_valid():
            return self.render_to_response(self.get_context_data(form=form), status=400)
        data = form.cleaned_data
        tz = zoneinfo.ZoneInfo(data["time_zone"])
        ids = [bp.pk for bp in data["business_processes"]] or None
        periods = summarize(data["first"], data["last"], tz, data["granularity"], ids)
        if request.GET.get("format") == "csv":
            return _csv(periods, tz, data["granularity"])
        timeline = over_time(periods, data["first"], data["last"], tz, data["granularity"])
        page = Paginator(periods, 100).get_page(request.GET.get("page"))
        query = request.GET.copy()
        query.pop("page", None)
        context = self.get_context_data(
            form=form,
            page=page,
            end_states=[EndState(state).label for state in END_STATES],
            chart=_chart(timeline, data["granularity"]),
            time_zone=tz.key,
            query=query.urlencode(),
        )
        with timezone.override(tz):
            return self.render_to_response(context).render()


def _chart(timeline: list[Period], granularity: str) -> dict:
    """Bars: requested and processed per period; a line: the reach rate (0–100 %)."""
    inner_width, inner_height = CHART_WIDTH - 2 * CHART_MARGIN, CHART_HEIGHT - 2 * CHART_MARGIN
    top = max([max(p.requested, p.processed) for p in timeline] + [1])
    slot = inner_width / max(len(timeline), 1)
    bars, points, labels = [], [], []
    every = max(len(timeline) // 12, 1)
    for n, p in enumerate(timeline):
        x = CHART_MARGIN + n * slot
        for offset, value, kind in ((0.1, p.requested, "requested"), (0.5, p.processed, "processed")):
            height = inner_height * value / top
            bars.append(
                {"x": round(x + offset * slot, 1), "y": round(CHART_MARGIN + inner_height - height, 1),
                 "width": round(0.4 * slot, 1), "height": round(height, 1), "kind": kind, "value": value}
            )  # fmt: skip
        if p.reach_rate is not None:
            y = CHART_MARGIN + inner_height * (1 - p.reach_rate / 100)
            points.append(f"{x + slot / 2:.1f},{y:.1f}")
        if n % every == 0:
            label = f"{p.start:%H:%M}" if granularity == HOUR and p.start.hour else f"{p.start:%d %b}"
            labels.append({"x": round(x + slot / 2, 1), "text": label})
    return {
        "width": CHART_WIDTH,
        "height": CHART_HEIGHT,
        "bars": bars,
        "line": " ".join(points),
        "labels": labels,
        "top": top,
        "base": CHART_HEIGHT - CHART_MARGIN,
        "margin": CHART_MARGIN,
        "right": CHART_WIDTH - CHART_MARGIN,
    }


class _Echo:
    def write(self, value: str) -> str:
        return value


def _csv(periods: list[Period], tz, granularity: str) -> StreamingHttpResponse:
    header = ["period_start", "business_process", "requested"]
    header += [f"ended_{state}" for state in END_STATES]
    header += ["reach_rate_pct", "average_attempts", "average_handle_seconds"]

    def number(value: float | None) -> str:
        return "" if value is None else f"{value:.1f}"

    def rows():
        yield header
        for p in periods:
            yield (
                [p.start.astimezone(tz).isoformat(), neutralise(p.business_process.code), p.requested]
                + [p.ended[state] for state in END_STATES]
                + [number(p.reach_rate), number(p.average_attempts), number(p.average_handle_seconds)]
            )

    writer = csv.writer(_Echo())
    response = StreamingHttpResponse((writer.writerow(row) for row in rows()), content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="callback-summary-per-{granularity}.csv"'
    return response
