"""Celery tasks of the live monitor: the worker computes, the channel layer carries the changes."""

from celery import shared_task

from . import live


@shared_task(ignore_result=True)
def recompute_dirty() -> int:
    """Recompute the business processes that changed since the last run (coalesced requests)."""
    return live.recompute_dirty()


@shared_task(ignore_result=True)
def recompute_monitor() -> None:
    """Recompute everything (run by beat every few seconds): time-driven changes show without any event."""
    live.recompute_all()
