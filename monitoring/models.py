"""The monitoring app's own records: report downloads too large to stream, written by a Celery task."""

import uuid
from datetime import timedelta

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


class SummaryHour(models.Model):
    """The summary report's figures of one business process in one UTC hour, pre-aggregated from the callbacks
    and attempts (monitoring.reports.summary_hours), so that a month of the report sums at most hours rather
    than counting every callback. Rewritten whole for a range of hours, never incremented: recomputing an hour
    gives the same row."""

    business_process = models.ForeignKey("callbacks.BusinessProcess", on_delete=models.CASCADE, related_name="+")
    hour = models.DateTimeField(help_text="The hour's start, a whole UTC hour.")
    requested = models.PositiveIntegerField(default=0)
    reached = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    wrong_destination = models.PositiveIntegerField(default=0)
    purged = models.PositiveIntegerField(default=0)
    cancelled = models.PositiveIntegerField(default=0)
    aborted = models.PositiveIntegerField(default=0)
    attempts = models.PositiveIntegerField(default=0, help_text="Attempts of the callbacks ended in the hour.")
    handled_attempts = models.PositiveIntegerField(default=0, help_text="Attempts whose After Call Work ended.")
    handle_time = models.DurationField(default=timedelta, help_text="Their time from accept to the end of ACW.")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["hour", "business_process"], name="summary_hour_unique")]

    def __str__(self) -> str:
        return f"{self.business_process_id} {self.hour:%Y-%m-%d %H:00} UTC"


class SummaryCoverage(models.Model):
    """One row: SummaryHour holds every hour before ``complete_until`` (the hours after it are counted from the
    callbacks themselves)."""

    complete_until = models.DateTimeField()

    def __str__(self) -> str:
        return f"complete until {self.complete_until:%Y-%m-%d %H:00} UTC"


class AgentHour(models.Model):
    """Settled offers of the agent reconciliation report (monitoring.reports.agent_hours), counted per agent, per
    UTC hour they settled in, per UTC hour they were offered in (and, when handled, the hour their After Call Work
    ended) and per reason, so that a month of the report sums these rows rather than classifying every attempt.
    Only attempts whose reason can no longer change are here; rewritten whole for a range of hours, never
    incremented."""

    agent = models.ForeignKey("callbacks.Agent", on_delete=models.CASCADE, related_name="+")
    hour = models.DateTimeField(help_text="The UTC hour the offer settled in: its ACW ended, or its callback ended.")
    offered_hour = models.DateTimeField(help_text="The UTC hour the agent was offered the callback.")
    handled_hour = models.DateTimeField(null=True, help_text="The UTC hour its After Call Work ended, if handled.")
    reason = models.CharField(max_length=20, help_text="handled, other_agent or cancelled.")
    attempts = models.PositiveIntegerField()

    class Meta:
        indexes = [
            models.Index(fields=["hour"], name="agent_hour_settled"),
            models.Index(fields=["offered_hour"], name="agent_hour_offered"),
            models.Index(fields=["handled_hour"], name="agent_hour_handled"),
        ]

    def __str__(self) -> str:
        return f"agent {self.agent_id} offered {self.offered_hour:%Y-%m-%d %H:00} UTC: {self.attempts} {self.reason}"


class AgentHourCoverage(models.Model):
    """One row: AgentHour holds every offer settled before ``complete_until``; the others are counted directly."""

    complete_until = models.DateTimeField()

    def __str__(self) -> str:
        return f"complete until {self.complete_until:%Y-%m-%d %H:00} UTC"
