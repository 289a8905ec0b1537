import uuid

from django.conf import settings
from django.db import models


class UserPreferences(models.Model):
    """How one user wants times shown on the Callbacks page. Created the first time the user saves them."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="callback_preferences")
    times_in_utc = models.BooleanField(
        "Times in UTC", default=False, help_text="Otherwise each callback's business process time zone."
    )
    clock_24h = models.BooleanField("24-hour clock", default=True, help_text="Otherwise AM/PM.")

    class Meta:
        verbose_name_plural = "user preferences"

    def __str__(self) -> str:
        return f"Preferences of {self.user}"


class CancellationSummary(models.Model):
    """What one bulk cancel did, kept so that its user can download the cancellation summary (CSV)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="cancellation_summaries")
    created = models.DateTimeField(auto_now_add=True)
    rows = models.JSONField(default=list, help_text="One object per callback: the CSV's columns.")

    class Meta:
        ordering = ["-created"]
        verbose_name_plural = "cancellation summaries"

    def __str__(self) -> str:
        return f"Cancellation summary {self.id} ({len(self.rows)} callbacks)"
