"""Administering business processes and API tokens: each change validated, applied, audited (who, when,
before → after), and announced to the live monitor on commit.

A business process's code is what integrations send; it may change only while no callback uses it. A
business process is never deleted: deactivating hides it from the monitor and keeps its history. An API key
is shown once, when issued; only its hash is stored.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction

from .choices import AuditAction
from .engine import Actor, audit_administration, batch, record_schedule_now
from .models import ApiToken, BusinessProcess, Callback

NAMING_FIELDS = ("code", "name")


def create_business_process(*, code: str, name: str, time_zone: str, actor: Actor) -> BusinessProcess:
    """A new business process with DESIGN.md's default Callback Timing and schedule (Mon–Fri 08:00–18:00)."""
    business_process = BusinessProcess(code=code.strip(), name=name.strip(), time_zone=time_zone)
    business_process.full_clean()
    with transaction.atomic(), batch():
        business_process.save()
        business_process.add_default_schedule()
        audit_administration(
            AuditAction.BUSINESS_PROCESS_CREATED,
            actor,
            business_process,
            {"code": [None, business_process.code], "name": [None, business_process.name]},
        )
        record_schedule_now(business_process)
    return business_process


def rename_business_process(business_process_id: int, *, code: str, name: str, actor: Actor) -> BusinessProcess:
    """Change the name, and the code while no callback uses it. Nothing changes if anything is refused."""
    with transaction.atomic():
        business_process = BusinessProcess.objects.select_for_update().get(pk=business_process_id)
        before = {field: getattr(business_process, field) for field in NAMING_FIELDS}
        business_process.code, business_process.name = code.strip(), name.strip()
        if business_process.code != before["code"]:
            used_by = Callback.objects.filter(business_process=business_process).count()
            if used_by:
                raise ValidationError(
                    {
                        "code": f"{used_by} callback{'s use' if used_by > 1 else ' uses'} code {before['code']}: "
                        "integrations send it, so it cannot change. Create a new business process instead."
                    }
                )
        business_process.full_clean()
        changes = {
            f: [before[f], getattr(business_process, f)]
            for f in NAMING_FIELDS
            if before[f] != getattr(business_process, f)
        }
        if changes:
            business_process.save(update_fields=[*changes, "updated"])
            audit_administration(AuditAction.BUSINESS_PROCESS_CHANGED, actor, business_process, changes)
    return business_process


def set_active(business_process_id: int, active: bool, actor: Actor) -> BusinessProcess:
    """Deactivate (hidden from the monitor and the ingest API, history kept) or reactivate."""
    with transaction.atomic():
        business_process = BusinessProcess.objects.select_for_update().get(pk=business_process_id)
        if business_process.is_active == active:
            state = "active" if active else "inactive"
            raise ValidationError(f"{business_process.code} is already {state}.")
        business_process.is_active = active
        business_process.save(update_fields=["is_active", "updated"])
        action = AuditAction.BUSINESS_PROCESS_REACTIVATED if active else AuditAction.BUSINESS_PROCESS_DEACTIVATED
        audit_administration(action, actor, business_process, {"is_active": [not active, active]})
    return business_process


def issue_token(name: str, actor: Actor) -> tuple[ApiToken, str]:
    """A new API token; the key is returned this once."""
    name = name.strip()
    if not name:
        raise ValidationError({"name": "Name the integration that will use this token."})
    if ApiToken.objects.filter(name=name).exists():
        raise ValidationError({"name": f"A token named “{name}” exists already."})
    with transaction.atomic():
        token, key = ApiToken.issue(name)
        audit_administration(AuditAction.API_TOKEN_ISSUED, actor, None, {}, note=_describe(token))
    return token, key


def revoke_token(token_id: int, actor: Actor) -> ApiToken:
    with transaction.atomic():
        token = ApiToken.objects.select_for_update().get(pk=token_id)
        if not token.is_active:
            raise ValidationError(f"Token {token.name} was already revoked.")
        token.revoke()
        audit_administration(AuditAction.API_TOKEN_REVOKED, actor, None, {}, note=_describe(token))
    return token


def _describe(token: ApiToken) -> str:
    return f"token {token.name} ({token.prefix}…)"
