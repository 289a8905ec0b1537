from django.apps import AppConfig
from django.apps import apps as global_apps
from django.db.models.signals import post_migrate


def _sync_roles(sender, apps=global_apps, **kwargs) -> None:
    from .roles import sync_roles

    sync_roles(apps)


class CallbacksConfig(AppConfig):
    name = "callbacks"
    verbose_name = "Callbacks"

    def ready(self) -> None:
        from . import checks, lookups  # noqa: F401 — registers the system checks and field__any

        # After auth has created the permissions (it is earlier in INSTALLED_APPS, so its handler runs first).
        post_migrate.connect(_sync_roles, sender=self)
