from django.contrib.auth.mixins import PermissionRequiredMixin
from django.db.models import Count, Q
from django.utils import timezone
from django.views.generic import TemplateView

from callbacks.choices import CallbackState
from callbacks.models import BusinessProcess
from callbacks.schedule import is_open


class MonitorView(PermissionRequiredMixin, TemplateView):
    """The home page: every business process, its callback status and what waits in it."""

    permission_required = "callbacks.view_monitor"
    template_name = "monitoring/monitor.html"

    def get_context_data(self, **kwargs):
        now = timezone.now()
        business_processes = (
            BusinessProcess.objects.filter(is_active=True)
            .prefetch_related("schedule_ranges", "schedule_exceptions")
            .annotate(
                pending=Count("callbacks", filter=Q(callbacks__state=CallbackState.SCHEDULED)),
                queued=Count("callbacks", filter=Q(callbacks__state=CallbackState.QUEUED)),
                with_agent=Count(
                    "callbacks", filter=Q(callbacks__state__in=[CallbackState.ROUTING, CallbackState.PROCESSING])
                ),
            )
        )
        rows = []
        for bp in business_processes:
            if bp.is_stopped:
                status = "Stopped"
            elif is_open(bp, now):
                status = "Active"
            else:
                status = "Off Schedule HRS"
            rows.append({"bp": bp, "status": status, "to_be_processed": bp.pending + bp.queued + bp.with_agent})
        return super().get_context_data(rows=rows, now=now, **kwargs)
