"""Login throttling (django-axes): AXES_FAILURE_LIMIT wrong passwords for one username from one address lock that
pair out for the cool-off; the login page says so (429, the form, a sentence), even to the right password; the
lockout is recorded and logged; other users and other addresses log in as before. Through the synchronous
stack (Client) and the asynchronous one Daphne runs (AsyncClient)."""

import logging
from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync
from axes.models import AccessAttempt
from django.conf import settings
from django.test import AsyncClient, Client
from django.utils import timezone

PASSWORD = "pw-for-tests-only"
LOGIN = "/login/"

pytestmark = pytest.mark.django_db


class AddressedAsyncClient(AsyncClient):
    """An AsyncClient calling from `address` (the ASGI scope's "client", which its defaults do not reach)."""

    def __init__(self, address: str):
        super().__init__()
        self.address = address

    def _base_scope(self, **request):
        return {**super()._base_scope(**request), "client": [self.address, 50000]}


class Browser:
    """A login form poster, through the sync or the async handler, from one address."""

    def __init__(self, stack: str, address: str = "10.0.0.1"):
        self.stack = stack
        # The ASGI handler reads the address from the scope's "client", the WSGI one from REMOTE_ADDR.
        self.client = Client(REMOTE_ADDR=address) if stack == "sync" else AddressedAsyncClient(address)

    def login(self, username: str, password: str):
        data = {"username": username, "password": password}
        if self.stack == "sync":
            return self.client.post(LOGIN, data)
        return async_to_sync(self.client.post)(LOGIN, data)

    def is_logged_in(self) -> bool:
        response = self.client.get("/") if self.stack == "sync" else async_to_sync(self.client.get)("/")
        return response.status_code == 200


def fail(browser: Browser, username: str, times: int) -> list[int]:
    return [browser.login(username, "wrong").status_code for _ in range(times)]


@pytest.fixture(params=["sync", "async"])
def stack(request) -> str:
    return request.param


def test_the_defaults_are_sensible():
    assert 3 <= settings.AXES_FAILURE_LIMIT <= 10
    assert timedelta(minutes=5) <= settings.AXES_COOLOFF_TIME <= timedelta(hours=1)
    assert settings.AXES_LOCKOUT_PARAMETERS == [["username", "ip_address"]]


def test_failures_lock_the_username_from_that_address_with_a_message_on_the_form(stack, make_user, caplog):
    make_user("supervisors", "sophie")
    browser = Browser(stack)
    limit = settings.AXES_FAILURE_LIMIT

    with caplog.at_level(logging.WARNING):
        statuses = fail(browser, "sophie", limit)
    assert statuses == [200] * (limit - 1) + [429], "the form again, then the lockout at the limit"

    response = browser.login("sophie", PASSWORD)
    html = response.content.decode()
    assert response.status_code == 429, "even the right password is refused while locked"
    assert "Too many failed logins" in html and "15 minutes" in html
    assert 'name="username"' in html and 'value="sophie"' in html, "the login form, filled in again"
    assert int(response["Retry-After"]) == 15 * 60
    assert not browser.is_logged_in()

    attempt = AccessAttempt.objects.get(username="sophie")
    assert attempt.ip_address == "10.0.0.1" and attempt.failures_since_start == limit + 1, "the last try counts"
    assert any("Login locked out: username 'sophie' from 10.0.0.1" in record.getMessage() for record in caplog.records)


def test_the_lockout_is_for_that_pair_only(stack, make_user):
    make_user("supervisors", "sophie")
    make_user("managers", "marc")
    fail(Browser(stack, "10.0.0.1"), "sophie", settings.AXES_FAILURE_LIMIT)

    other_user = Browser(stack, "10.0.0.1")
    assert other_user.login("marc", PASSWORD).status_code == 302 and other_user.is_logged_in()
    other_address = Browser(stack, "10.0.0.2")
    assert other_address.login("sophie", PASSWORD).status_code == 302 and other_address.is_logged_in()


def test_after_the_cool_off_the_user_logs_in_and_the_failures_are_forgotten(stack, make_user):
    make_user("supervisors", "sophie")
    browser = Browser(stack)
    fail(browser, "sophie", settings.AXES_FAILURE_LIMIT)
    assert browser.login("sophie", PASSWORD).status_code == 429

    AccessAttempt.objects.update(attempt_time=timezone.now() - settings.AXES_COOLOFF_TIME - timedelta(seconds=1))

    assert browser.login("sophie", PASSWORD).status_code == 302 and browser.is_logged_in()
    assert not AccessAttempt.objects.exists(), "a success forgets the failures (AXES_RESET_ON_SUCCESS)"


def test_failures_below_the_limit_are_forgotten_by_a_success(make_user):
    make_user("supervisors", "sophie")
    browser = Browser("sync")
    fail(browser, "sophie", settings.AXES_FAILURE_LIMIT - 1)
    assert browser.login("sophie", PASSWORD).status_code == 302
    assert fail(Browser("sync"), "sophie", settings.AXES_FAILURE_LIMIT - 1) == [200] * (settings.AXES_FAILURE_LIMIT - 1)


def test_the_address_behind_no_proxy_is_the_peers_not_x_forwarded_for(make_user):
    """Without a trusted proxy, X-Forwarded-For is the caller's to choose: it must not give a fresh address."""
    make_user("supervisors", "sophie")
    client = Client(REMOTE_ADDR="10.0.0.1")
    for number in range(settings.AXES_FAILURE_LIMIT):
        client.post(LOGIN, {"username": "sophie", "password": "wrong"}, HTTP_X_FORWARDED_FOR=f"192.0.2.{number}")
    response = client.post(LOGIN, {"username": "sophie", "password": PASSWORD}, HTTP_X_FORWARDED_FOR="192.0.2.99")
    assert response.status_code == 429


def test_behind_a_trusted_proxy_the_forwarded_address_is_locked(make_user, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    make_user("supervisors", "sophie")
    proxy = Client(REMOTE_ADDR="10.0.0.1")

    def log_in(password: str, forwarded: str):
        data = {"username": "sophie", "password": password}
        return proxy.post(LOGIN, data, HTTP_X_FORWARDED_FOR=forwarded).status_code

    for _ in range(settings.AXES_FAILURE_LIMIT):
        log_in("wrong", "198.51.100.66, 203.0.113.7")  # the proxy appended the address it saw, last
    assert log_in(PASSWORD, "203.0.113.7") == 429
    assert AccessAttempt.objects.get().ip_address == "203.0.113.7"
    assert log_in(PASSWORD, "203.0.113.8") == 302, "another client behind the same proxy"


def test_the_admin_login_is_locked_too(make_user):
    make_user("administrators", "ada")
    client = Client(REMOTE_ADDR="10.0.0.3")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post("/admin/login/", {"username": "ada", "password": "wrong"})
    response = client.post("/admin/login/", {"username": "ada", "password": PASSWORD})
    assert response.status_code == 429 and "Too many failed logins" in response.content.decode()


@pytest.mark.parametrize("target", ["https://evil.example.com/", "//evil.example.com/", "http:\\\\evil.example.com"])
def test_the_login_never_sends_off_site(make_user, target):
    make_user("supervisors", "sophie")
    response = Client().post(LOGIN, {"username": "sophie", "password": PASSWORD, "next": target})
    assert response.status_code == 302 and response["Location"] == "/"
