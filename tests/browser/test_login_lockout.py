"""Login lockout in a real browser, through the ASGI server Daphne runs: after the allowed failures the login
form itself says that logging in is locked and for how long; the right password does not get through."""

import pytest
from django.conf import settings
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_locked_out_user_is_told_so_on_the_login_form(asgi_server, page, make_user):
    make_user("supervisors", "sophie")

    def log_in(password: str):
        page.goto(f"{asgi_server.url}/login/")
        page.fill("#id_username", "sophie")
        page.fill("#id_password", password)
        with page.expect_response(lambda response: response.request.method == "POST") as answer:
            page.click("button[type=submit]")
        return answer.value

    statuses = [log_in("wrong").status for _ in range(settings.AXES_FAILURE_LIMIT)]
    assert statuses == [200] * (settings.AXES_FAILURE_LIMIT - 1) + [429]
    assert log_in("pw-for-tests-only").status == 429

    expect(page.locator(".errorlist.lockout")).to_contain_text("Too many failed logins for this username")
    expect(page.locator(".errorlist.lockout")).to_contain_text("locked for 15 minutes")
    expect(page.locator("#id_username")).to_have_value("sophie")
    assert "/login/" in page.url
