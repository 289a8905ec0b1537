"""The Celery app: Redis broker, settings from Django's CELERY_* names, tasks found in every app."""

import gc
import os

from celery import Celery
from celery.signals import worker_init, worker_process_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("config")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_init.connect  # the worker's main process, which hands the tasks to its pool
@worker_process_init.connect  # each process of the pool
def freeze_what_lives_as_long_as_the_process(**kwargs) -> None:
    """Keep the garbage collector's full passes off what a worker process was given at start (Django, the models,
    the tasks), as the web processes do (config/asgi.py). Under load (bench/monitor_load.py) a pool process ran
    one every half minute that walked all of it, 125–140 ms of CPU, while the push it was computing waited; frozen,
    2–3 ms."""
    gc.collect()
    gc.freeze()
