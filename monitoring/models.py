"""The monitoring app's own records: report downloads too large to stream, written by a Celery task."""

import uuid

from django.conf import settings
from django.db import models


class ReportExport(models.Model):
    """A report download written to a file by a worker (monitoring.tasks.export_report), for one user.

    The file lives in settings.REPORT_EXPORT_DIR under the job's id and is served only to ``user``; the beat
    deletes it, and this row, a day after it was asked for.
    """

    class Format(models.TextChoices):
        CSV = "csv", "CSV"
        XLSX = "xlsx", "Excel (XLSX)"

    class State(models.TextChoices):
        QUEUED = "queued", "Waiting for a worker"
        RUNNING = "running", "Writing"
        DONE = "done", "Ready"
        FAILED = "failed", "Failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="report_exports")
    report = models.CharField(max_length=50, help_text="Which report, e.g. completed-callbacks.")
    format = models.CharField(max_length=10, choices=Format.choices)
    parameters = models.JSONField(default=dict, help_text="The report's filters, as the page's query string gave them.")
    state = models.CharField(max_length=10, choices=State.choices, default=State.QUEUED)
    total = models.PositiveIntegerField(default=0, help_text="Callbacks matched when the download was asked for.")
    done = models.PositiveIntegerField(default=0, help_text="Callbacks written so far.")
    error = models.TextField(blank=True)
    created = models.DateTimeField(auto_now_add=True, db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created"]
        indexes = [models.Index(fields=["user", "created"], name="report_export_user_created")]

    def __str__(self) -> str:
        return f"{self.report}.{self.format} for {self.user_id} ({self.state})"

    @property
    def file_name(self) -> str:
        """What the browser saves it as."""
        return f"{self.report}-{self.created:%Y%m%d-%H%M%S}.{self.format}"

    @property
    def path(self):
        return settings.REPORT_EXPORT_DIR / f"{self.pk}.{self.format}"

    @property
    def percent(self) -> int:
        if self.state == self.State.DONE:
            return 100
        return min(99, 100 * self.done // self.total) if self.total else 0
