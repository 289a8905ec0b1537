"""The what-if estimate beside the Callback Timing form: the last 14 days replayed with the values typed."""

from __future__ import annotations

from django import forms
from django.contrib.auth.mixins import PermissionRequiredMixin
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.views import View

from callbacks.models import BusinessProcess
from callbacks.models.business_processes import ATTEMPTS_BEFORE_FAILURE_BOUNDS
from callbacks.whatif import WAIT_LABELS, estimate

from ..forms import RecallIntervalsField


class WhatIfForm(forms.Form):
    """The two settings the estimate replays, typed as on the Callback Timing form (empty: as they are)."""

    attempts_before_failure = forms.IntegerField(
        required=False, min_value=ATTEMPTS_BEFORE_FAILURE_BOUNDS[0], max_value=ATTEMPTS_BEFORE_FAILURE_BOUNDS[1]
    )
    recall_intervals = RecallIntervalsField(required=False)

    def clean_recall_intervals(self) -> list[int] | None:
        return self.cleaned_data["recall_intervals"] or None


class WhatIfView(PermissionRequiredMixin, View):
    """GET ?attempts_before_failure=2&recall_intervals=5m&recall_intervals=1h → an HTML fragment: the estimate."""

    permission_required = "callbacks.change_callback_timing"

    def get(self, request, code):
        business_process = get_object_or_404(BusinessProcess, code=code, is_active=True)
        form = WhatIfForm(request.GET)
        if not form.is_valid():
            context = {"errors": form.errors}
            return TemplateResponse(request, "monitoring/whatif.html", context, status=400)
        values = {key: value for key, value in form.cleaned_data.items() if value is not None}
        result = estimate(business_process, **values)
        by_try = [
            {"number": number, "reached": reached, "tried": tried, "rate": 100 * reached / tried}
            for number, (reached, tried) in result.reach_rate_by_try.items()
        ]
        by_wait = [
            {"label": WAIT_LABELS[bucket], "reached": reached, "tried": tried, "rate": 100 * reached / tried}
            for bucket, (reached, tried) in result.reach_rate_by_wait.items()
        ]
        context = {
            "business_process": business_process,
            "result": result,
            "changed": bool(values),
            "by_try": by_try,
            "by_wait": by_wait,
        }
        return TemplateResponse(request, "monitoring/whatif.html", context)
