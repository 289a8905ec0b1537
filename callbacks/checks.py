"""System checks (`manage.py check`) on the callback settings read from the environment."""

from django.conf import settings
from django.core.checks import Error, register


@register()
def retention_periods(app_configs, **kwargs) -> list[Error]:
    errors = []
    if settings.CALLBACK_RETENTION_DAYS < 2:
        errors.append(
            Error(
                f"CALLBACK_RETENTION_DAYS is {settings.CALLBACK_RETENTION_DAYS}; it must be at least 2.",
                hint="The monitor counts callbacks that ended during the current shift, which may span a day.",
                id="callbacks.E001",
            )
        )
    if settings.AUDIT_RETENTION_DAYS < settings.CALLBACK_RETENTION_DAYS:
        errors.append(
            Error(
                "AUDIT_RETENTION_DAYS must not be shorter than CALLBACK_RETENTION_DAYS.",
                hint="Audit entries are kept longer than the callbacks they describe.",
                id="callbacks.E002",
            )
        )
    return errors
