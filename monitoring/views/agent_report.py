"""Agent performance vs agent interactions (seed 000): the counts side by side, every difference explained."""

from __future__ import annotations

import zoneinfo
from datetime import timedelta

from django import forms
from django.contrib.auth.mixins import PermissionRequiredMixin
from django.utils import timezone
from django.views.generic import TemplateView

from callbacks.models import Agent

from ..reports.agents import EARLIER, EARLIER_DAY, REASONS, drill_down, reconcile
from ..reports.filtersets import DaysForm

MAX_DAYS = 31
NUMBERS = {"interactions": "Interactions – Callback", "handled": "Handled – Callback", EARLIER_DAY: EARLIER, **REASONS}


class AgentReportForm(DaysForm):
    agents = forms.ModelMultipleChoiceField(Agent.objects.all(), required=False)
    # the drill-down: one number of one line
    agent = forms.IntegerField(required=False, widget=forms.HiddenInput)
    day = forms.DateField(required=False, widget=forms.HiddenInput)
    number = forms.ChoiceField(choices=list(NUMBERS.items()), required=False, widget=forms.HiddenInput)

    def limit(self, cleaned: dict) -> tuple[int, str]:
        return MAX_DAYS, f"At most {MAX_DAYS} days at once."


class AgentReportView(PermissionRequiredMixin, TemplateView):
    permission_required = "callbacks.view_reports"
    template_name = "monitoring/reports/agents.html"

    def get(self, request, *args, **kwargs):
        today = timezone.now().date()
        defaults = {"first": today - timedelta(days=1), "last": today, "time_zone": "UTC"}
        form = AgentReportForm(request.GET or None, initial=defaults)
        if not request.GET:
            form = AgentReportForm({**defaults})
        context = self.get_context_data(form=form)
        if not form.is_valid():
            return self.render_to_response(context, status=400)
        data = form.cleaned_data
        tz = zoneinfo.ZoneInfo(data["time_zone"])
        agent_ids = [agent.pk for agent in data["agents"]] or None
        context["lines"] = reconcile(data["first"], data["last"], tz, agent_ids)
        context["reasons"] = REASONS
        context["earlier_label"] = EARLIER
        if data["agent"] and data["day"] and data["number"]:
            context["drilled"] = {
                "agent": Agent.objects.filter(pk=data["agent"]).first(),
                "day": data["day"],
                "label": NUMBERS[data["number"]],
                "attempts": list(drill_down(data["agent"], data["day"], tz, data["number"])),
            }
        context["query"] = request.GET.copy()
        context["time_zone"] = tz.key
        with timezone.override(tz):  # times shown in the zone the days are counted in
            return self.render_to_response(context).render()
