from django.conf import settings
from django.db import models

from ..choices import AuditAction


class AuditEntry(models.Model):
    """One state-changing action: who, when, what, and the fields it changed (before → after)."""

    at = models.DateTimeField(db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="audit_entries"
    )
    actor = models.CharField(max_length=150, help_text="user:<name>, api:<token name>, or system")
    action = models.CharField(max_length=50, choices=AuditAction.choices)
    business_process = models.ForeignKey(
        "callbacks.BusinessProcess", null=True, blank=True, on_delete=models.SET_NULL, related_name="audit_entries"
    )
    # Audit entries outlive the callbacks they describe (retention), so the callback is kept by id as well.
    callback = models.ForeignKey(
        "callbacks.Callback", null=True, blank=True, on_delete=models.SET_NULL, related_name="audit_entries"
    )
    callback_ref = models.CharField(max_length=100, blank=True)
    changes = models.JSONField(default=dict, blank=True, help_text="{field: [before, after]}")
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name_plural = "audit entries"
        indexes = [
            models.Index(fields=["callback", "at"], name="audit_callback_at"),
            models.Index(fields=["business_process", "at"], name="audit_bp_at"),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.actor} {self.action}"


class IngestedEvent(models.Model):
    """An applied ingest event, remembered so that the same event_id sent again is a no-op with the same answer."""

    event_id = models.CharField(max_length=200, unique=True)
    type = models.CharField(max_length=50)
    callback_ref = models.CharField(max_length=100)
    received_at = models.DateTimeField(auto_now_add=True)
    response = models.JSONField(help_text="The answer given the first time.")

    class Meta:
        ordering = ["-received_at"]

    def __str__(self) -> str:
        return self.event_id
