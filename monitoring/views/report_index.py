"""The reports a user may open, in one place."""

from django.contrib.auth.mixins import PermissionRequiredMixin
from django.urls import reverse
from django.views.generic import TemplateView

REPORTS = [
    (
        "report-summary",
        "callbacks.view_monitor",
        "Summary",
        "Per business process per day or hour: requested, how callbacks ended, reach rate, averages; a chart; CSV.",
    ),
    (
        "report-completed-callbacks",
        "callbacks.view_reports",
        "Completed Callback Interaction (6.04)",
        "One entry per completed callback with each attempt's time, agent and state; CSV and XLSX downloads.",
    ),
    (
        "report-agents",
        "callbacks.view_reports",
        "Agent performance vs agent interactions",
        "Handled – Callback beside Interactions – Callback per agent per day, every difference explained.",
    ),
]


class ReportIndexView(PermissionRequiredMixin, TemplateView):
    permission_required = "callbacks.view_monitor"
    template_name = "monitoring/reports/index.html"

    def get_context_data(self, **kwargs):
        user = self.request.user
        reports = [
            {"url": reverse(name), "title": title, "about": about}
            for name, permission, title, about in REPORTS
            if user.has_perm(permission)
        ]
        return super().get_context_data(reports=reports, **kwargs)
