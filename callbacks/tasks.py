"""Celery tasks of the callback domain: the timer tick."""

from celery import shared_task

from . import engine


@shared_task(ignore_result=True)
def apply_due_timers() -> dict[str, int]:
    """Apply every due timer (run by beat every second). Idempotent: the due state lives in the database."""
    return engine.apply_due_timers()
