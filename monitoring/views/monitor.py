from django.contrib.auth.mixins import PermissionRequiredMixin
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.utils.functional import cached_property
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.generic import TemplateView
from django_tables2 import SingleTableMixin

from ..columns import Monitor, Row, compute_rows
from ..tables import MonitorTable

# Stands for a business process code in the URLs the page's script fills in (codes never contain it).
CODE = "__CODE__"


# The row menu's Stop / Resume post with the session and the CSRF token read from this cookie.
@method_decorator(ensure_csrf_cookie, name="dispatch")
class MonitorView(PermissionRequiredMixin, SingleTableMixin, TemplateView):
    """The home page: every business process's live columns, patched in place by static/js/monitor.js."""

    permission_required = "callbacks.view_monitor"
    template_name = "monitoring/monitor.html"
    table_class = MonitorTable
    table_pagination = False

    @cached_property
    def monitor(self) -> Monitor:
        return compute_rows()

    def get_table_data(self) -> list[Row]:
        return self.monitor.rows

    def get_table_kwargs(self) -> dict:
        return {"totals": self.monitor.totals}

    def get_context_data(self, **kwargs):
        can_stop = self.request.user.has_perm("callbacks.stop_business_process")
        placeholder = Row(code=CODE, name="")
        config = {
            "code": CODE,
            "canStop": can_stop,
            "computedAt": self.monitor.computed_at.isoformat(),
            "urls": {
                "performance": reverse("business-process", args=[CODE]),
                "timing": reverse("business-process-timing", args=[CODE]),
                "search": reverse("business-process-search", args=[CODE]),
                **(
                    {
                        "stop": reverse("api-business-process-stop", args=[CODE]),
                        "resume": reverse("api-business-process-resume", args=[CODE]),
                    }
                    if can_stop
                    else {}
                ),
            },
        }
        return super().get_context_data(
            can_stop=can_stop,
            # The row the script clones for a business process the page did not have when it was rendered.
            row_template=MonitorTable([placeholder], totals=placeholder, orderable=False),
            monitor_config=config,
            **kwargs,
        )
