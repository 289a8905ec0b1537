"""The Celery app of the worker-kill test: config.celery's app, plus a pause that makes a kill land mid-task.

    CALLBACKS_FAULT_PAUSE_ON="UPDATE \"callbacks_attempt\"" CALLBACKS_FAULT_PAUSE_FILE=/tmp/x \
        celery -A tests.faults.pausing_worker worker …

While ``callbacks.tasks.apply_due_timers`` runs, right after the first SQL statement that contains
CALLBACKS_FAULT_PAUSE_ON — inside that timer's transaction, its write done but not committed — the process
writes its pid to CALLBACKS_FAULT_PAUSE_FILE and sleeps: the test then SIGKILLs it there. It pauses once only
(while the file does not exist yet), so the task redelivered to a fresh pool process runs through. Nothing of
this is in the product: the worker runs the product's tasks unchanged, with a database execute wrapper.
"""

import os
import time
from pathlib import Path

from celery.signals import task_postrun, task_prerun
from django.db import connection

from config.celery import app

__all__ = ["app"]

PAUSE_ON = os.environ.get("CALLBACKS_FAULT_PAUSE_ON", "")
PAUSE_FILE = Path(os.environ.get("CALLBACKS_FAULT_PAUSE_FILE", "/nonexistent"))
TIMER_TASK = "callbacks.tasks.apply_due_timers"


def _pause_after_matching_statement(execute, sql, params, many, context):
    result = execute(sql, params, many, context)
    if PAUSE_ON and PAUSE_ON in sql and not PAUSE_FILE.exists():
        PAUSE_FILE.write_text(str(os.getpid()))
        time.sleep(300)  # killed long before
    return result


@task_prerun.connect
def _install(sender=None, **kwargs):
    if sender is not None and sender.name == TIMER_TASK:
        connection.execute_wrappers.append(_pause_after_matching_statement)


@task_postrun.connect
def _uninstall(sender=None, **kwargs):
    if _pause_after_matching_statement in connection.execute_wrappers:
        connection.execute_wrappers.remove(_pause_after_matching_statement)
