"""Retention (seed 004): a callback's records (with its attempts) are deleted once 14 days have passed since
its desired callback time or its completion, whichever is later; audit entries are kept longer.

Both periods are settings (CALLBACK_RETENTION_DAYS, AUDIT_RETENTION_DAYS). Beat runs ``delete_expired`` every
hour; it deletes in batches, each in its own short transaction, so a backlog never holds long locks. Audit
entries of a deleted callback stay, naming it by its external id. Applied event ids are remembered for the
callback retention period: an event sent again within it is still recognised as a duplicate.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from .choices import CallbackState
from .models import AuditEntry, Callback, IngestedEvent

BATCH_SIZE = 1000


def expired_callbacks(now: datetime) -> QuerySet[Callback]:
    """Completed callbacks whose completion and desired time both lie more than the retention period ago."""
    cutoff = now - timedelta(days=settings.CALLBACK_RETENTION_DAYS)
    return Callback.objects.filter(state=CallbackState.COMPLETED, completed_at__lt=cutoff).filter(
        Q(desired_time__isnull=True) | Q(desired_time__lt=cutoff)
    )


def delete_expired(now: datetime | None = None, batch_size: int = BATCH_SIZE) -> dict[str, int]:
    """Delete what the retention periods let go; returns how many of each, and in how many batches."""
    now = now or timezone.now()
    deleted = {"callbacks": 0, "batches": 0}
    while ids := list(expired_callbacks(now).order_by("completed_at").values_list("pk", flat=True)[:batch_size]):
        with transaction.atomic():
            # Attempts go with their callback (CASCADE); audit entries lose the link but keep callback_ref.
            Callback.objects.filter(pk__in=ids).delete()
        deleted["callbacks"] += len(ids)
        deleted["batches"] += 1
    event_cutoff = now - timedelta(days=settings.CALLBACK_RETENTION_DAYS)
    deleted["ingested_events"] = _delete_in_batches(
        IngestedEvent.objects.filter(received_at__lt=event_cutoff), batch_size
    )
    audit_cutoff = now - timedelta(days=settings.AUDIT_RETENTION_DAYS)
    deleted["audit_entries"] = _delete_in_batches(AuditEntry.objects.filter(at__lt=audit_cutoff), batch_size)
    return deleted


def _delete_in_batches(rows: QuerySet, batch_size: int) -> int:
    total = 0
    while ids := list(rows.order_by("pk").values_list("pk", flat=True)[:batch_size]):
        rows.model.objects.filter(pk__in=ids).delete()
        total += len(ids)
    return total
