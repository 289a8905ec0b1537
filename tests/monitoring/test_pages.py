"""Login on every page, roles, and the home page."""

import os
import secrets
import subprocess
import sys

import pytest
from django.conf import settings

from callbacks import engine


@pytest.mark.parametrize("url", ["/", "/admin/"])
def test_anonymous_users_are_sent_to_the_login_page(client, db, url):
    response = client.get(url)
    assert response.status_code == 302
    assert "/login/" in response["Location"]


def test_the_login_page_is_public(client, db):
    response = client.get("/login/")
    assert response.status_code == 200
    assert b"Log in" in response.content


@pytest.mark.parametrize("role", ["supervisors", "administrators", "managers"])
def test_every_role_sees_the_monitor(client, make_user, make_business_process, role):
    make_business_process("SALES", name="Sales France")
    client.force_login(make_user(role))
    response = client.get("/")
    assert response.status_code == 200
    assert b"Sales France" in response.content
    assert b"Active" in response.content


def test_a_user_without_a_role_is_refused(client, make_user):
    client.force_login(make_user(None))
    assert client.get("/").status_code == 403


def test_the_monitor_shows_each_callback_status(client, make_user, make_business_process):
    make_business_process("OPEN", name="Always open")
    make_business_process("CLOSED", name="Never open", open=False)
    stopped = make_business_process("STOPPED", name="Stopped one")
    engine.set_stopped(stopped.pk, True, engine.Actor("tests"))
    client.force_login(make_user("supervisors"))

    page = client.get("/").content.decode()

    for name, status in [("Always open", "Active"), ("Never open", "Off Schedule HRS"), ("Stopped one", "Stopped")]:
        row = page[page.index(name) :].split("</tr>")[0]
        assert f">{status}</span>" in row, row


def test_only_administrators_reach_the_django_admin(client, make_user):
    client.force_login(make_user("supervisors"))
    assert client.get("/admin/").status_code == 302
    client.force_login(make_user("administrators", "an-admin"))
    assert client.get("/admin/").status_code == 200
    assert client.get("/admin/callbacks/callback/").status_code == 200


def test_logout_is_a_post_and_ends_the_session(client, make_user):
    client.force_login(make_user("managers"))
    response = client.post("/logout/")
    assert response.status_code == 302
    assert client.get("/").status_code == 302


def test_production_settings_pass_the_deployment_checks():
    env = {
        **{name: value for name, value in os.environ.items() if name != "DJANGO_ALLOW_ASYNC_UNSAFE"},
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "callbacks.example.com",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
