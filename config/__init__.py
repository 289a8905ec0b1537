# The Celery app is imported here so that @shared_task uses it when Django starts.
from .celery import app as celery_app

__all__ = ("celery_app",)
