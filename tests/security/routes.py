"""Every URL of the site, with who may do what on it: the table the access tests of this package run through.

Each route names, per caller (anonymous, each role, an API token), the status it must answer; whether it
writes (then a refused request must change nothing, and an allowed one something); how to name a missing
object (→ 404); and whether its object belongs to one user (another user's → 404, never its data).
tests/security/test_access_matrix.py fails when a URL pattern has no row here.
"""

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from django.utils import timezone

CALLERS = ["anonymous", "managers", "supervisors", "administrators", "token"]

# The statuses by kind of caller, for the usual permission levels.
LOGIN = 302  # a page sends whoever is not logged in to the login page
PAGE_MONITOR = {"anonymous": LOGIN, "managers": 200, "supervisors": 200, "administrators": 200, "token": LOGIN}
PAGE_MANAGE = {"anonymous": LOGIN, "managers": 403, "supervisors": 200, "administrators": 200, "token": LOGIN}
PAGE_ADMIN = {"anonymous": LOGIN, "managers": 403, "supervisors": 403, "administrators": 200, "token": LOGIN}
PAGE_REPORTS = {"anonymous": LOGIN, "managers": 200, "supervisors": 403, "administrators": 200, "token": LOGIN}
API_ACTION = {"anonymous": 401, "managers": 403, "supervisors": 200, "administrators": 200, "token": 403}
API_READ = {"anonymous": 401, "managers": 200, "supervisors": 200, "administrators": 200, "token": 200}
API_TOKEN_ONLY = {"anonymous": 401, "managers": 401, "supervisors": 401, "administrators": 401, "token": 200}
PUBLIC = {caller: 200 for caller in CALLERS}


def redirected(expected: dict[str, int], status: int = 302) -> dict[str, int]:
    """The same callers allowed, answering a redirect (a form saved) rather than 200."""
    return {caller: status if code == 200 else code for caller, code in expected.items()}


@dataclass(frozen=True)
class Route:
    name: str
    method: str
    expect: dict[str, int]
    kwargs: Callable = lambda world: {}
    data: Callable = lambda world: None
    json: bool = False
    writes: bool = False
    missing: dict | None = None  # URL kwargs naming no object: 404 for a caller who may use the route
    owned: bool = False  # the object belongs to the user who made it: anyone else is told it does not exist
    headers: dict = field(default_factory=dict)


def pending(world) -> dict:
    return {"external_id": world.pending.external_id}


def completed(world) -> dict:
    return {"external_id": world.completed.external_id}


def sales(world) -> dict:
    return {"code": world.sales.code}


def in_two_hours() -> str:
    return (timezone.now() + timedelta(hours=2)).isoformat()


def settings_form(world) -> dict:
    return {
        "version": str(world.timing_version),
        "no_answer_seconds": "90",
        "attempts_before_failure": "4",
        "recall_intervals": ["5m", "15m", "1h"],
        "time_zone": "UTC",
        "shift_starts": ["00:00"],
        "max_schedule_ahead": "30d",
        "to_be_processed_threshold": "50",
        "failed_pct_threshold": "30",
    }


def schedule_form(world) -> dict:
    data = {"version": str(world.timing_version), "form-TOTAL_FORMS": "0", "form-INITIAL_FORMS": "0"}
    data.update({f"day_{day}": "08:00–18:00" for day in range(7)})
    return data


NO_CALLBACK = {"external_id": "no-such-callback"}
NO_CODE = {"code": "NO_SUCH_BP"}
NO_UUID = {"pk": uuid.UUID("00000000-0000-4000-8000-000000000000")}

ROUTES = [
    # Log in and out.
    Route(
        "login",
        "get",
        {"anonymous": 200, "managers": 302, "supervisors": 302, "administrators": 302, "token": 200},
    ),
    Route("logout", "post", {caller: 302 for caller in CALLERS}),
    # Load balancers' health check: the same answer for everyone, no login. No worker beats in the tests: 503.
    Route("healthz", "get", {caller: 503 for caller in CALLERS}),
    # The ingest API and the API's reads: tokens.
    Route(
        "api-events",
        "post",
        {**API_TOKEN_ONLY, "token": 201},
        data=lambda world: {
            "event_id": "evt-matrix",
            "type": "callback.requested",
            "occurred_at": timezone.now().isoformat(),
            "callback": "cb-matrix",
            "business_process": "SALES",
            "phone": "+12125550134",
        },
        json=True,
        writes=True,
    ),
    Route("api-callback-detail", "get", API_TOKEN_ONLY, kwargs=pending, missing=NO_CALLBACK),
    Route("api-schema", "get", PUBLIC),
    Route("api-docs", "get", PUBLIC),
    Route("api-business-processes", "get", API_READ),
    Route("api-business-process", "get", API_READ, kwargs=sales, missing=NO_CODE),
    # A supervisor's actions through the API (session + CSRF): never managers, never a token.
    Route("api-business-process-stop", "post", API_ACTION, kwargs=sales, missing=NO_CODE, json=True, writes=True),
    Route(
        "api-business-process-resume",
        "post",
        API_ACTION,
        kwargs=lambda world: {"code": world.stopped.code},
        missing=NO_CODE,
        json=True,
        writes=True,
    ),
    Route(
        "api-callback-send-to-queue",
        "post",
        API_ACTION,
        kwargs=pending,
        data=lambda world: {"expected_state": "scheduled"},
        missing=NO_CALLBACK,
        json=True,
        writes=True,
    ),
    Route("api-callback-purge", "post", API_ACTION, kwargs=pending, missing=NO_CALLBACK, json=True, writes=True),
    Route(
        "api-callback-cancel",
        "post",
        API_ACTION,
        kwargs=pending,
        data=lambda world: {"reason": "matrix"},
        missing=NO_CALLBACK,
        json=True,
        writes=True,
    ),
    Route(
        "api-callback-reschedule",
        "post",
        API_ACTION,
        kwargs=pending,
        data=lambda world: {"desired_time": in_two_hours()},
        missing=NO_CALLBACK,
        json=True,
        writes=True,
    ),
    Route(
        "api-callback-recreate",
        "post",
        {**API_ACTION, "supervisors": 201, "administrators": 201},
        kwargs=completed,
        missing=NO_CALLBACK,
        json=True,
        writes=True,
    ),
    # The callbacks page.
    Route("callbacks", "get", PAGE_MONITOR),
    Route("callback-create", "get", PAGE_MANAGE),
    Route(
        "callback-create",
        "post",
        redirected(PAGE_MANAGE),
        data=lambda world: {"business_process": "SALES", "phone": "+12125550134", "kind": "immediate"},
        writes=True,
    ),
    Route("callback-slots", "get", PAGE_MANAGE),
    Route(
        "callback-preferences", "post", redirected(PAGE_MONITOR), data=lambda world: {"clock_24h": "on"}, writes=True
    ),
    Route(
        "callback-bulk-cancel-preview",
        "post",
        PAGE_MANAGE,
        data=lambda world: {"selection": "ids", "id": [str(world.pending.pk)]},
    ),
    Route(
        "callback-bulk-cancel",
        "post",
        redirected(PAGE_MANAGE),
        data=lambda world: {"selection": "ids", "id": [str(world.pending.pk)], "reason": "matrix"},
        writes=True,
    ),
    Route(
        "callback-cancellation-summary",
        "get",
        PAGE_MANAGE,
        kwargs=lambda world: {"pk": world.summary_of(world.user).pk},
        missing=NO_UUID,
        owned=True,
    ),
    Route("callback-details", "get", PAGE_MONITOR, kwargs=pending, missing=NO_CALLBACK),
    # The monitor, a business process's tabs, explanations, reports.
    Route("home", "get", PAGE_MONITOR),
    Route("business-process", "get", PAGE_MONITOR, kwargs=sales, missing=NO_CODE),
    Route("business-process-timing", "get", PAGE_MONITOR, kwargs=sales, missing=NO_CODE),
    Route("business-process-what-if", "get", PAGE_ADMIN, kwargs=sales, missing=NO_CODE),
    Route(
        "business-process-timing-settings",
        "post",
        redirected(PAGE_ADMIN),
        kwargs=sales,
        data=settings_form,
        missing=NO_CODE,
        writes=True,
    ),
    Route(
        "business-process-timing-schedule",
        "post",
        redirected(PAGE_ADMIN),
        kwargs=sales,
        data=schedule_form,
        missing=NO_CODE,
        writes=True,
    ),
    Route("business-process-search", "get", PAGE_MONITOR, kwargs=sales, missing=NO_CODE),
    Route(
        "explain-column",
        "get",
        PAGE_MONITOR,
        kwargs=lambda world: {"code": "SALES", "column": "to_be_processed"},
        missing={"code": "NO_SUCH_BP", "column": "to_be_processed"},
    ),
    Route(
        "explain-totals",
        "get",
        PAGE_MONITOR,
        kwargs=lambda world: {"column": "to_be_processed"},
        missing={"column": "no_such_column"},
    ),
    Route("reports", "get", PAGE_MONITOR),
    Route("report-agents", "get", PAGE_REPORTS),
    Route("report-summary", "get", PAGE_MONITOR),
    Route("audit-log", "get", PAGE_REPORTS),
    Route("report-completed-callbacks", "get", PAGE_REPORTS),
    Route(
        "report-completed-callbacks-download",
        "post",
        PAGE_REPORTS,
        data=lambda world: {"date_from": "2026-03-28", "date_to": "2026-03-29", "time_zone": "UTC", "format": "csv"},
    ),
    Route(
        "report-export",
        "get",
        PAGE_REPORTS,
        kwargs=lambda world: {"pk": world.export_of(world.user).pk},
        missing=NO_UUID,
        owned=True,
    ),
    Route(
        "report-export-status",
        "get",
        PAGE_REPORTS,
        kwargs=lambda world: {"pk": world.export_of(world.user).pk},
        missing=NO_UUID,
        owned=True,
    ),
    Route(
        "report-export-file",
        "get",
        PAGE_REPORTS,
        kwargs=lambda world: {"pk": world.export_of(world.user).pk},
        missing=NO_UUID,
        owned=True,
    ),
    # Administration: administrators only.
    Route("administration-business-processes", "get", PAGE_ADMIN),
    Route(
        "administration-business-processes",
        "post",
        redirected(PAGE_ADMIN),
        data=lambda world: {"code": "BILLING", "name": "Billing", "time_zone": "UTC"},
        writes=True,
    ),
    Route("administration-rename-business-process", "get", PAGE_ADMIN, kwargs=sales, missing=NO_CODE),
    Route(
        "administration-rename-business-process",
        "post",
        redirected(PAGE_ADMIN),
        kwargs=sales,
        data=lambda world: {"code": "SALES", "name": "Sales renamed"},
        missing=NO_CODE,
        writes=True,
    ),
    Route(
        "administration-deactivate-business-process",
        "post",
        redirected(PAGE_ADMIN),
        kwargs=sales,
        missing=NO_CODE,
        writes=True,
    ),
    Route(
        "administration-reactivate-business-process",
        "post",
        redirected(PAGE_ADMIN),
        kwargs=lambda world: {"code": world.inactive.code},
        missing=NO_CODE,
        writes=True,
    ),
    Route("administration-api-tokens", "get", PAGE_ADMIN),
    Route(
        "administration-api-tokens",
        "post",
        PAGE_ADMIN,  # the new key is shown once, on the page itself
        data=lambda world: {"name": "telephony-matrix"},
        writes=True,
    ),
    Route(
        "administration-revoke-api-token",
        "post",
        redirected(PAGE_ADMIN),
        kwargs=lambda world: {"pk": world.victim_token.pk},
        missing={"pk": 999_999},
        writes=True,
    ),
]
