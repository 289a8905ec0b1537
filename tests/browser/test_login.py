import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_supervisor_logs_in_and_sees_the_monitor(live_server, page, make_user, make_business_process):
    make_business_process("SALES_FR", name="Sales France")
    make_user("supervisors", "sophie")

    page.goto(f"{live_server.url}/")
    assert "/login/" in page.url
    page.fill("#id_username", "sophie")
    page.fill("#id_password", "pw-for-tests-only")
    page.click("button[type=submit]")

    page.wait_for_selector("h1:has-text('Business Process monitor')")
    assert page.locator("tr:has-text('Sales France')").inner_text().count("Active") == 1
    page.click("text=Log out")
    page.wait_for_url("**/login/")


def test_a_wrong_password_is_refused_with_a_message(live_server, page, make_user):
    make_user("supervisors", "sophie")

    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", "sophie")
    page.fill("#id_password", "wrong")
    page.click("button[type=submit]")

    assert "correct username and password" in page.locator(".errorlist").inner_text()
    assert "/login/" in page.url
