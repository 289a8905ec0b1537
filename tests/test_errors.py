"""A database that is busy or out of reach answers 503 with Retry-After, not a 500 (config/errors.py)."""

import sqlite3
import threading

import psycopg
import psycopg_pool
import pytest
from django.db import OperationalError, ProgrammingError, connection
from django.test import Client
from django.urls import path
from rest_framework.test import APIClient

from callbacks.models import ApiToken, Callback
from config.urls import handler500
from config.urls import urlpatterns as site_urlpatterns
from tests.conftest import event


def raising(cause: Exception, wrapper=OperationalError):
    """A view failing as Django does when the driver raises ``cause`` (its exception, wrapped, ``from`` it)."""

    def view(request):
        try:
            raise cause
        except Exception as error:
            raise wrapper(*error.args) from error

    return view


FAILURES = {
    "pool-timeout": psycopg_pool.PoolTimeout("couldn't get a connection after 10.00 sec"),
    "refused": psycopg.OperationalError("connection failed: Connection refused"),
    "too-many": psycopg.errors.lookup("53300")("sorry, too many clients already"),
    "starting-up": psycopg.errors.lookup("57P03")("the database system is starting up"),
    "locked": sqlite3.OperationalError("database is locked"),
    # Not unavailability: a bug, or an error of the request's own.
    "no-table": sqlite3.OperationalError("no such table: callbacks_callback"),
    "cancelled": psycopg.errors.lookup("57014")("canceling statement due to statement timeout"),
}
urlpatterns = [
    *site_urlpatterns,
    *(path(f"fails/{name}/", raising(cause)) for name, cause in FAILURES.items()),
    *(path(f"api/v1/fails/{name}/", raising(cause)) for name, cause in FAILURES.items()),
    path("fails/syntax/", raising(psycopg.errors.lookup("42601")("syntax error"), ProgrammingError)),
]
assert handler500 == "config.errors.server_error"  # this URLconf answers errors as the site's does

pytestmark = pytest.mark.urls(__name__)


@pytest.mark.parametrize("name", ["pool-timeout", "refused", "too-many", "starting-up", "locked"])
def test_an_unavailable_database_answers_503_with_retry_after(name, make_user):
    client = Client(raise_request_exception=False)
    client.force_login(make_user("supervisors"))

    page = client.get(f"/fails/{name}/")
    api = client.get(f"/api/v1/fails/{name}/")

    assert (page.status_code, page["Retry-After"]) == (503, "5")
    assert "The database is busy or out of reach; nothing was changed." in page.text
    assert (api.status_code, api["Retry-After"]) == (503, "5")
    assert list(api.json()) == ["detail"] and "Try again in a few seconds" in api.json()["detail"]


@pytest.mark.parametrize("name", ["no-table", "cancelled", "syntax"])
def test_other_database_errors_stay_server_errors(name, make_user):
    client = Client(raise_request_exception=False)
    client.force_login(make_user("supervisors"))

    response = client.get(f"/fails/{name}/")

    assert response.status_code == 500
    assert not response.has_header("Retry-After")


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the connection pool is PostgreSQL's")
@pytest.mark.django_db(transaction=True)
def test_events_posted_while_the_pool_has_no_connection_are_answered_503_and_applied_on_retry(business_process):
    """For real: every connection of the process's pool is taken; the connector's POST waits for one, gets 503
    and changes nothing; sent again once a connection is free, the same event is applied."""
    _, key = ApiToken.issue("connector")
    api = APIClient(raise_request_exception=False)
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    body = event("callback.requested", "cb-busy", business_process=business_process.code, phone="+12125550134")
    pool = connection.pool
    pool_timeout, pool.timeout = pool.timeout, 0.3
    held = []
    try:
        while True:
            try:
                held.append(pool.getconn(timeout=0.1))
            except psycopg_pool.PoolTimeout:
                break
        answers = []
        request = threading.Thread(target=lambda: answers.append(api.post("/api/v1/events/", body, format="json")))
        request.start()
        request.join(30)
    finally:
        for held_connection in held:
            pool.putconn(held_connection)
        pool.timeout = pool_timeout

    assert (answers[0].status_code, answers[0]["Retry-After"]) == (503, "5")
    assert not Callback.objects.filter(external_id="cb-busy").exists()
    assert api.post("/api/v1/events/", body, format="json").status_code == 201
    assert Callback.objects.filter(external_id="cb-busy").exists()
