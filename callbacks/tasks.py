"""Celery tasks of the callback domain: the timer tick and retention."""

from celery import shared_task

from . import engine, retention


@shared_task(ignore_result=True)
def apply_due_timers() -> dict[str, int]:
    """Apply every due timer (run by beat every second). Idempotent: the due state lives in the database."""
    return engine.apply_due_timers()


@shared_task(ignore_result=True)
def apply_retention() -> dict[str, int]:
    """Delete the callbacks, event ids and audit entries whose retention period is over (beat, hourly)."""
    return retention.delete_expired()
