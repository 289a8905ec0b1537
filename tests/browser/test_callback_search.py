"""The Callback Search tab in a real browser: rows live by callback id, the row menu's Send to queue and Purge.

Real ASGI server, Celery worker and Redis (see tests/browser/conftest.py).
"""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from callbacks import engine
from callbacks.models import AuditEntry
from tests.conftest import fetch

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SEARCH = "/business-processes/SALES/search/"


def open_search(monitor_page, role: str, username: str):
    page = monitor_page(role, username)
    page.goto(page.url.rstrip("/") + SEARCH)
    expect(page.locator("#live-badge")).to_have_class("live-badge live")
    return page


def row_of(page, callback: str):
    return page.locator(f'#search-table tbody tr[data-callback="{callback}"]')


def cell(page, callback: str, column: str):
    return row_of(page, callback).locator(f'td[data-col="{column}"]')


def shown_ids(page) -> list[str]:
    return page.locator("#search-table tbody tr[data-callback]:visible").evaluate_all(
        "rows => rows.map(row => row.dataset.callback)"
    )


def test_a_requested_callback_appears_and_a_purge_from_the_row_menu_removes_it(
    monitor_page, make_business_process, events
):
    make_business_process("SALES", name="Sales France")
    sam = monitor_page("supervisors", "sam")  # another supervisor, watching the monitor
    purged_on_monitor = sam.locator('#monitor-table tbody tr[data-bp="SALES"] td[data-col="purged"]')
    expect(purged_on_monitor).to_have_text("0")
    page = open_search(monitor_page, "supervisors", "sophie")
    page.evaluate("window.notReloaded = true")

    assert events.request("cb-1", business_process="SALES", customer_name="Ada Lovelace").status_code == 201

    expect(row_of(page, "cb-1")).to_be_visible()
    expect(cell(page, "cb-1", "state")).to_have_text("Queued")
    expect(cell(page, "cb-1", "customer_name")).to_have_text("Ada Lovelace")
    expect(page.locator("#search-count [data-total]")).to_have_text("1")
    row_of(page, "cb-1").click(button="right")
    menu = page.locator("#row-menu")
    expect(menu).to_be_visible()
    expect(menu.get_by_role("menuitem", name="Send to queue")).to_have_attribute("aria-disabled", "true")
    expect(menu.locator(".row-menu-why")).to_have_text("Send to queue: only a Pending callback (this one is Queued).")
    menu.get_by_role("menuitem", name="Purge").click()
    dialog = page.locator("#confirm-dialog")
    expect(dialog).to_contain_text("Purge callback cb-1 (+12125550134, Ada Lovelace)?")
    dialog.get_by_role("button", name="Purge").click()

    expect(page.locator("#search-messages .ok")).to_have_text("Callback cb-1 purged.×")
    expect(row_of(page, "cb-1")).to_have_count(0)
    expect(page.locator("#search-count [data-total]")).to_have_text("0")
    expect(purged_on_monitor).to_have_text("1")
    assert page.evaluate("window.notReloaded") is True
    assert (fetch("cb-1").end_state, AuditEntry.objects.filter(action="callback.purged").get().actor) == (
        "purged",
        "user:sophie",
    )


def test_send_to_queue_from_the_keyboard(monitor_page, make_business_process, events):
    make_business_process("SALES", name="Sales France")
    later = (timezone.now() + timedelta(hours=2)).isoformat()
    assert events.request("cb-1", business_process="SALES", desired_time=later).status_code == 201
    page = open_search(monitor_page, "administrators", "ada")
    expect(cell(page, "cb-1", "state")).to_have_text("Scheduled")
    button = row_of(page, "cb-1").locator(".row-menu-button")

    button.focus()
    page.keyboard.press("Enter")
    menu = page.locator("#row-menu")
    expect(menu.get_by_role("menuitem", name="Send to queue")).to_be_focused()
    expect(menu.locator(".row-menu-why")).to_be_hidden()
    page.keyboard.press("ArrowDown")
    expect(menu.get_by_role("menuitem", name="Purge")).to_be_focused()
    page.keyboard.press("ArrowUp")
    page.keyboard.press("Enter")
    page.locator("#confirm-dialog").get_by_role("button", name="Send to queue").press("Enter")

    expect(cell(page, "cb-1", "state")).to_have_text("Queued")
    expect(cell(page, "cb-1", "location")).to_have_text("HandlingByBusinessProcess")
    expect(cell(page, "cb-1", "next_return")).to_have_text("—")
    expect(button).to_be_focused()


def test_an_action_on_a_callback_that_moved_on_is_refused_and_the_row_shows_it(
    monitor_page, make_business_process, events
):
    make_business_process("SALES", name="Sales France")
    later = (timezone.now() + timedelta(hours=2)).isoformat()
    assert events.request("cb-1", business_process="SALES", desired_time=later).status_code == 201
    page = open_search(monitor_page, "supervisors", "sophie")

    row_of(page, "cb-1").click(button="right")
    page.locator("#row-menu").get_by_role("menuitem", name="Send to queue").click()
    # Another supervisor purges it while this one reads the dialog.
    engine.purge(fetch("cb-1").pk, timezone.now(), engine.Actor("user:sam"))
    page.locator("#confirm-dialog").get_by_role("button", name="Send to queue").click()

    expect(page.locator("#search-messages .error")).to_contain_text(
        "Send to queue callback cb-1 refused: Callback cb-1 is now Completed (Purged); it was Scheduled (Pending) "
        "when your page was drawn. Nothing was changed."
    )
    expect(row_of(page, "cb-1")).to_have_count(0)
    assert fetch("cb-1").end_state == "purged"


def test_sort_filter_and_selection_survive_pushes(monitor_page, make_business_process, events):
    make_business_process("SALES", name="Sales France")
    for callback, phone in [("cb-1", "+12125550101"), ("cb-2", "+12125550303"), ("cb-3", "+12125550202")]:
        assert events.request(callback, business_process="SALES", phone=phone).status_code == 201
    page = open_search(monitor_page, "supervisors", "sophie")
    expect(page.locator("#search-table tbody tr[data-callback]")).to_have_count(3)
    assert shown_ids(page) == ["cb-3", "cb-2", "cb-1"], "newest entrance first"

    page.locator('#search-table th[data-col="phone"] button').click()
    assert shown_ids(page) == ["cb-1", "cb-3", "cb-2"]
    row_of(page, "cb-3").click()
    page.fill("#search-filter", "555")
    assert events.request("cb-4", business_process="SALES", phone="+12125550150").status_code == 201
    assert events.request("cb-5", business_process="SALES", phone="+33142685300").status_code == 201
    engine.purge(fetch("cb-2").pk, timezone.now(), engine.Actor("user:sam"))

    expect(row_of(page, "cb-2")).to_have_count(0)
    expect(row_of(page, "cb-5")).to_be_hidden()  # filtered out: no "555" in it
    assert shown_ids(page) == ["cb-1", "cb-4", "cb-3"]
    expect(row_of(page, "cb-3")).to_have_class(re.compile(r"\bselected\b"))
    expect(page.locator('#search-table th[data-col="phone"]')).to_have_attribute("aria-sort", "ascending")
    assert page.input_value("#search-filter") == "555"


def test_time_waiting_counts_on_in_the_browser(monitor_page, make_business_process, events):
    make_business_process("SALES", name="Sales France")
    occurred = (timezone.now() - timedelta(seconds=3)).isoformat()
    assert events.request("cb-1", business_process="SALES", occurred_at=occurred).status_code == 201
    page = open_search(monitor_page, "supervisors", "sophie")
    waiting = cell(page, "cb-1", "waiting")
    first = int(waiting.inner_text().split()[0])

    expect(waiting).not_to_have_text(f"{first} s", timeout=3_000)
    assert int(waiting.inner_text().split()[0]) > first


def test_a_manager_gets_links_but_no_actions(monitor_page, make_business_process, events):
    make_business_process("SALES", name="Sales France")
    assert events.request("cb-1", business_process="SALES").status_code == 201
    page = open_search(monitor_page, "managers", "max")

    row_of(page, "cb-1").click(button="right")

    menu = page.locator("#row-menu")
    expect(menu).to_be_visible()
    expect(menu.get_by_role("menuitem")).to_have_text(["Find on the Callbacks page"])
    expect(menu.get_by_role("menuitem")).to_have_attribute("href", "/callbacks/?range=custom&q=cb-1")
    assert page.locator("[data-action]").count() == 0
    assert page.locator("#confirm-dialog").count() == 0
