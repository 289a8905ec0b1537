"""Celery tasks of the live monitor: the worker computes, the channel layer carries the changes."""

import logging

from celery import shared_task
from celery.signals import before_task_publish
from django.db import DatabaseError

from . import health, live, search_live

log = logging.getLogger(__name__)


@shared_task(ignore_result=True)
def recompute_dirty() -> int:
    """Recompute the business processes that changed since the last run (coalesced requests)."""
    return live.recompute_dirty()


@shared_task(ignore_result=True)
def refresh_monitor() -> None:
    """Beat, every 2 s: business processes that came or went show without any event; a heartbeat."""
    live.refresh_time_driven()


@shared_task(ignore_result=True)
def recompute_monitor_share() -> None:
    """Beat: recompute the next share of the business processes, mending whatever a lost event missed."""
    live.recompute_share()


@shared_task(ignore_result=True)
def push_callback_search() -> int:
    """Push the Callback Search lists of the business processes that changed since the last run (coalesced)."""
    return search_live.push_dirty()


# A database that cannot be reached before the export starts is tried again; the export starts over each time.
@shared_task(ignore_result=True, autoretry_for=(DatabaseError,), retry_backoff=True, max_retries=3)
def export_report(export_id: str) -> None:
    """Write a report download too large to stream (a ReportExport) into its file, recording progress."""
    from .reports import exports

    exports.run_export(export_id)


@shared_task(ignore_result=True)
def delete_old_report_exports() -> int:
    """Beat, hourly: report downloads are kept for a day; older files and their jobs are deleted."""
    from .reports import exports

    return exports.delete_old_exports()


@shared_task(ignore_result=True)
def refresh_summary_hours() -> int:
    """Beat, every SUMMARY_REFRESH_SECONDS: rewrite the summary report's recent closed hours (SummaryHour)."""
    from .reports import summary_hours

    return summary_hours.refresh()


@shared_task(bind=True, ignore_result=True)
def heartbeat(self) -> None:
    """Beat, every HEALTH_HEARTBEAT_SECONDS: the worker that runs it records that it is alive (/healthz)."""
    health.record_worker_heartbeat(self.request.hostname)


@before_task_publish.connect(sender=heartbeat.name, dispatch_uid="monitoring.health.beat-tick")
def _record_beat_tick(**kwargs) -> None:
    """Beat is the only sender of the heartbeat task: sending it is beat's tick, recorded for /healthz."""
    try:
        health.record_beat_tick()
    except Exception:  # noqa: BLE001 — Redis down: the task cannot be sent either; /healthz says so
        log.warning("Could not record beat's tick", exc_info=True)


@shared_task(ignore_result=True)
def refresh_agent_hours() -> int:
    """Beat, every SUMMARY_REFRESH_SECONDS: rewrite the agent reconciliation's recently settled offers (AgentHour)."""
    from .reports import agent_hours

    return agent_hours.refresh()
