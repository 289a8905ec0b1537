"""The business process page follows the monitor live: the Performance card and the Callback Search list."""

import pytest
from playwright.sync_api import expect

from callbacks import engine

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_performance_card_follows_events_and_stops_without_reload(monitor_page, make_business_process, events):
    sales = make_business_process("SALES", name="Sales France")
    page = monitor_page("supervisors", "sophie")
    page.goto(page.url.rstrip("/") + "/business-processes/SALES/")
    to_be_processed = page.locator('[data-live="card"] [data-col="to_be_processed"] [data-value]')
    expect(to_be_processed).to_have_text("0")
    page.evaluate("window.notReloaded = true")

    assert events.request("cb-1", business_process="SALES").status_code == 201
    expect(to_be_processed).to_have_text("1")
    engine.set_stopped(sales.pk, True, engine.Actor("tests"))
    expect(page.locator('[data-live="card"] [data-col="status"] [data-value]')).to_have_text("Stopped")
    assert page.evaluate("window.notReloaded") is True


def test_the_callback_search_list_shows_a_new_callback_without_reload(monitor_page, make_business_process, events):
    make_business_process("SALES", name="Sales France")
    page = monitor_page("supervisors", "sophie")
    page.goto(page.url.rstrip("/") + "/business-processes/SALES/search/")
    page.evaluate("window.notReloaded = true")

    assert events.request("cb-new", business_process="SALES").status_code == 201

    expect(page.locator('#search-table tr[data-callback="cb-new"]')).to_be_visible()
    assert page.evaluate("window.notReloaded") is True
