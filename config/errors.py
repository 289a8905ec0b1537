"""What the site answers when a request fails on the server's side (``handler500``).

A database that is busy or out of reach is not a bug of the request: the answer is 503 with ``Retry-After``, so
that the telephony connector sends the same events again a moment later (they carry their ids: each is applied
once) and a supervisor's page says to wait rather than that something broke. Anything else stays a 500.
"""

from __future__ import annotations

import sqlite3
import sys

from django.db import OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template import loader
from django.views import defaults

RETRY_AFTER_SECONDS = 5
BUSY = "The database is busy or out of reach; nothing was changed. Try again in a few seconds."

# PostgreSQL's SQLSTATE classes (or codes) of a server that cannot take the request now: connection exceptions,
# insufficient resources (too many connections…), shut down or starting up.
UNAVAILABLE_SQLSTATES = ("08", "53", "57P01", "57P02", "57P03")


def database_unavailable(error: BaseException | None) -> bool:
    """Whether ``error`` is Django's wrapper of the driver saying that the database cannot serve now: no connection
    from the pool in time, none could be opened or it was lost, or the server refused for want of resources."""
    if not isinstance(error, OperationalError):
        return False
    cause = error.__cause__
    if isinstance(cause, sqlite3.OperationalError):
        return "database is locked" in str(cause)
    try:
        import psycopg
    except ImportError:  # SQLite-only installation
        return False
    if not isinstance(cause, psycopg.OperationalError):
        return False
    # The pool's timeout and the client's own connection failures carry no SQLSTATE (PoolTimeout is one of them).
    return cause.sqlstate is None or cause.sqlstate.startswith(UNAVAILABLE_SQLSTATES)


def server_error(request: HttpRequest) -> HttpResponse:
    """503 with Retry-After when the database was unavailable (see above), else Django's 500 page."""
    if not database_unavailable(sys.exc_info()[1]):
        return defaults.server_error(request)
    if request.path.startswith("/api/"):
        response = JsonResponse({"detail": BUSY}, status=503)
    else:
        body = loader.render_to_string("503.html", {"message": BUSY})
        response = HttpResponse(body, status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response
