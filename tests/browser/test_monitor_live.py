"""The live monitor in a real browser: real ASGI server, Celery worker and Redis (see tests/browser/conftest.py)."""

import json
import re
import time
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from callbacks import engine
from callbacks.models import BusinessProcess

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def row_of(page, code: str):
    return page.locator(f'#monitor-table tbody tr[data-bp="{code}"]')


def cell(page, code: str, column: str):
    return row_of(page, code).locator(f'td[data-col="{column}"]')


def total(page, column: str):
    return page.locator(f'#monitor-table tfoot td[data-col="{column}"]')


def test_a_new_callback_shows_in_the_open_monitor_without_reload(monitor_page, make_business_process, events):
    make_business_process("SALES", name="Sales France")
    make_business_process("SUPPORT", name="Support")
    page = monitor_page("supervisors", "sophie")
    expect(page.locator("#live-badge")).to_contain_text("Live")
    expect(cell(page, "SALES", "to_be_processed")).to_have_text("0")
    page.evaluate("window.notReloaded = true")

    assert events.request("cb-1", business_process="SALES").status_code == 201
    assert events.request("cb-2", business_process="SALES").status_code == 201

    expect(cell(page, "SALES", "to_be_processed")).to_have_text("2")
    expect(total(page, "to_be_processed")).to_have_text("2")
    expect(cell(page, "SUPPORT", "to_be_processed")).to_have_text("0")
    assert page.evaluate("window.notReloaded") is True


# Records every cell that starts flashing (the class is gone again a second later).
WATCH_FLASHES = """() => {
    window.flashed = [];
    new MutationObserver((changes) => {
        for (const change of changes) {
            const cell = change.target;
            const code = cell.closest("tr").dataset.bp || "";
            if (cell.classList.contains("flash")) window.flashed.push([code, cell.dataset.col]);
        }
    }).observe(document.getElementById("monitor-table"), {subtree: true, attributes: true, attributeFilter: ["class"]});
}"""


def test_a_changed_cell_flashes_and_a_threshold_is_marked(monitor_page, make_business_process, events):
    make_business_process("SALES", name="Sales France", to_be_processed_threshold=1)
    make_business_process("SUPPORT", name="Support")
    page = monitor_page("supervisors", "sophie")
    expect(row_of(page, "SALES")).not_to_have_class(re.compile("over-to-be-processed"))
    page.evaluate(WATCH_FLASHES)

    events.request("cb-1", business_process="SALES")
    events.request("cb-2", business_process="SALES")

    to_be_processed = cell(page, "SALES", "to_be_processed")
    expect(to_be_processed).to_have_text("2")
    expect(to_be_processed).to_have_class(re.compile(r"\bover\b"))
    expect(row_of(page, "SALES")).to_have_class(re.compile("over-to-be-processed"))
    assert set(map(tuple, page.evaluate("window.flashed"))) == {("SALES", "to_be_processed"), ("", "to_be_processed")}


def test_a_business_process_added_later_gets_its_row(monitor_page, make_business_process, events):
    make_business_process("SALES", name="Sales France")
    page = monitor_page("supervisors", "sophie")
    expect(page.locator("#live-badge")).to_contain_text("Live")

    make_business_process("BILLING", name="Billing")  # no event announces it: the periodic recompute finds it
    events.request("cb-1", business_process="BILLING")

    expect(cell(page, "BILLING", "to_be_processed")).to_have_text("1", timeout=8_000)
    expect(row_of(page, "BILLING").locator(".bp-name")).to_have_text("Billing")
    expect(cell(page, "BILLING", "proc").locator("a")).to_have_attribute(
        "href", "/business-processes/BILLING/explain/proc/"
    )
    assert page.locator("#monitor-table tbody tr").count() == 2


def test_stop_from_the_row_menu_shows_stopped_on_another_supervisors_monitor(monitor_page, make_business_process):
    make_business_process("SALES", name="Sales France")
    make_business_process("SUPPORT", name="Support")
    sophie = monitor_page("supervisors", "sophie")
    sam = monitor_page("supervisors", "sam")
    expect(cell(sam, "SALES", "status")).to_have_text("Active")

    row_of(sophie, "SALES").click(button="right")
    menu = sophie.locator("#row-menu")
    expect(menu).to_be_visible()
    expect(menu.get_by_role("menuitem", name="Resume callbacks")).to_be_hidden()
    menu.get_by_role("menuitem", name="Stop callbacks").click()
    dialog = sophie.locator("#confirm-dialog")
    expect(dialog).to_contain_text("Stop callbacks for Sales France?")
    dialog.get_by_role("button", name="Stop callbacks").click()

    expect(sophie.locator("#monitor-messages")).to_contain_text("Callbacks stopped for Sales France.")
    expect(cell(sam, "SALES", "status")).to_have_text("Stopped", timeout=5_000)
    expect(cell(sam, "SALES", "status").locator(".badge")).to_have_class("badge status-stopped")
    expect(cell(sam, "SUPPORT", "status")).to_have_text("Active")
    assert BusinessProcess.objects.get(code="SALES").is_stopped


def test_the_row_menu_works_from_the_keyboard(monitor_page, make_business_process):
    make_business_process("SALES", name="Sales France", is_stopped=True)
    page = monitor_page("administrators", "ada")
    button = row_of(page, "SALES").locator(".row-menu-button")

    button.focus()
    page.keyboard.press("Enter")
    menu = page.locator("#row-menu")
    expect(menu).to_be_visible()
    expect(menu.get_by_role("menuitem", name="Resume callbacks")).to_be_focused()
    expect(menu.get_by_role("menuitem", name="Stop callbacks")).to_be_hidden()
    page.keyboard.press("ArrowDown")
    expect(menu.get_by_role("menuitem", name="Callback Performance")).to_be_focused()
    expect(menu.get_by_role("menuitem", name="Callback Performance")).to_have_attribute(
        "href", "/business-processes/SALES/"
    )
    page.keyboard.press("ArrowUp")
    page.keyboard.press("Escape")
    expect(menu).to_be_hidden()
    expect(button).to_be_focused()

    page.keyboard.press(" ")
    expect(menu.get_by_role("menuitem", name="Resume callbacks")).to_be_focused()
    page.keyboard.press("Enter")
    page.locator("#confirm-dialog").get_by_role("button", name="Resume callbacks").press("Enter")

    expect(cell(page, "SALES", "status")).to_have_text("Active")
    expect(button).to_be_focused()


def test_a_refusal_is_shown_in_the_message_area(monitor_page, make_business_process):
    sales = make_business_process("SALES", name="Sales France")
    page = monitor_page("supervisors", "sophie")

    row_of(page, "SALES").click(button="right")
    page.locator("#row-menu").get_by_role("menuitem", name="Stop callbacks").click()
    engine.set_stopped(sales.pk, True, engine.Actor("someone else"))  # while the supervisor reads the dialog
    page.locator("#confirm-dialog").get_by_role("button", name="Stop callbacks").click()

    expect(page.locator("#monitor-messages .error")).to_contain_text("Stop callbacks for Sales France refused (409)")
    expect(cell(page, "SALES", "status")).to_have_text("Stopped")


def test_a_manager_sees_no_stop_action(monitor_page, make_business_process):
    make_business_process("SALES", name="Sales France")
    page = monitor_page("managers", "max")

    row_of(page, "SALES").click(button="right")

    menu = page.locator("#row-menu")
    expect(menu).to_be_visible()
    expect(menu.get_by_role("menuitem")).to_have_text(["Callback Performance", "Callback Timing", "Callback Search"])
    assert page.locator("[data-action]").count() == 0
    assert page.get_by_text("Stop callbacks").count() == 0


def test_rows_keep_the_users_sort(monitor_backend, monitor_page, make_business_process, events):
    make_business_process("ALPHA", name="Alpha")
    make_business_process("BETA", name="Beta")
    for callback in ("a-1", "a-2"):
        events.request(callback, business_process="ALPHA")
    monitor_backend.beat.tick()
    page = monitor_page("supervisors", "sophie", path="/?sort=to_be_processed")
    rows = page.locator("#monitor-table tbody tr")
    expect(rows).to_have_count(2)
    assert [rows.nth(n).get_attribute("data-bp") for n in range(2)] == ["BETA", "ALPHA"]

    for callback in ("b-1", "b-2", "b-3"):
        events.request(callback, business_process="BETA")

    expect(cell(page, "BETA", "to_be_processed")).to_have_text("3")
    assert [rows.nth(n).get_attribute("data-bp") for n in range(2)] == ["BETA", "ALPHA"]


class SocketTap:
    """Sits between the page and the server on /ws/monitor/: records the frames both ways, and can keep the
    server's from reaching the page (as a dead worker or a half-open connection would)."""

    def __init__(self, page):
        self.sockets = []
        self.to_page: list[dict] = []
        self.to_server: list[dict] = []
        self.silent = False
        page.route_web_socket(re.compile(r"/ws/monitor/$"), self.route)

    def route(self, socket) -> None:
        server = socket.connect_to_server()
        self.sockets.append(socket)

        def to_page(message: str) -> None:
            self.to_page.append(json.loads(message))
            if not self.silent:
                socket.send(message)

        def to_server(message: str) -> None:
            self.to_server.append(json.loads(message))
            server.send(message)

        server.on_message(to_page)
        socket.on_message(to_server)

    def last_seq(self) -> int:
        return max(message["seq"] for message in self.to_page if "seq" in message)


def wait_until(page, condition, timeout: float = 10) -> None:
    """Let the page and its WebSocket routes run until `condition()` holds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        page.wait_for_timeout(50)


def test_a_gap_in_the_sequence_brings_a_fresh_snapshot(monitor_page, make_business_process):
    make_business_process("SALES", name="Sales France")
    taps = []
    page = monitor_page("supervisors", "sophie", setup=lambda page: taps.append(SocketTap(page)))
    tap = taps[0]
    expect(page.locator("#live-badge")).to_contain_text("Live")
    snapshots = sum(message["type"] == "snapshot" for message in tap.to_page)

    row = {
        "code": "SALES",
        "name": "Sales France",
        "status": "active",
        "cells": {
            "status": "Active",
            "proc": "0",
            "to_be_processed": "999",
            "avg_time": "—",
            "purged": "0",
            "pct_reached": "—",
            "pct_failed": "—",
        },
        "over": {"to_be_processed": True, "pct_failed": False},
    }
    gap = {
        "type": "rows",
        "seq": tap.last_seq() + 2,
        "computed_at": "2100-01-01T00:00:00+00:00",
        "rows": [row],
        "removed": [],
        "totals": dict(row, code="", name="Total"),
    }
    tap.sockets[-1].send(json.dumps(gap))

    wait_until(page, lambda: sum(message["type"] == "snapshot" for message in tap.to_page) > snapshots)
    assert {"type": "resync"} in tap.to_server
    expect(cell(page, "SALES", "to_be_processed")).to_have_text("0")
    expect(row_of(page, "SALES")).not_to_have_class(re.compile("over-to-be-processed"))


def test_the_badge_shows_live_stale_and_reconnecting(monitor_page, make_business_process):
    make_business_process("SALES", name="Sales France")
    taps = []

    def setup(page):
        page.clock.install()
        taps.append(SocketTap(page))

    page = monitor_page("supervisors", "sophie", setup=setup, timezone_id="Pacific/Auckland", locale="en-GB")
    tap, badge = taps[0], page.locator("#live-badge .live-text")
    expect(badge).to_have_text(re.compile(r"^Live · \d\d:\d\d:\d\d$"))
    shown = time_of_day(badge.inner_text().split("· ")[1])
    here = datetime.now(ZoneInfo("Pacific/Auckland"))
    apart = abs(shown - (here.hour * 3600 + here.minute * 60 + here.second))
    assert min(apart, 86_400 - apart) < 30  # the time of day where the viewer is

    tap.silent = True  # nothing arrives any more, not even a heartbeat
    page.clock.fast_forward("00:11")
    expect(badge).to_have_text(re.compile(r"^Stale · last update \d\d:\d\d:\d\d$"))
    expect(page.locator("#live-badge")).to_have_class("live-badge stale")

    tap.sockets[-1].close()  # the connection drops; the next one stays silent for now
    expect(badge).to_have_text("Reconnecting…")
    wait_until(page, lambda: len(tap.sockets) == 2)
    expect(badge).to_have_text("Reconnecting…")

    tap.silent = False
    tap.sockets[-1].close()
    expect(badge).to_have_text(re.compile(r"^Live · "))
    assert len(tap.sockets) == 3


def time_of_day(text: str) -> int:
    hours, minutes, seconds = (int(part) for part in text.split(":"))
    return hours * 3600 + minutes * 60 + seconds


def test_an_anonymous_websocket_is_refused(page, monitor_backend, monitor_page, make_business_process):
    make_business_process("SALES", name="Sales France")
    open_socket = """() => new Promise((resolve) => {
        const socket = new WebSocket(`ws://${location.host}/ws/monitor/`);
        socket.onmessage = (event) => { resolve(JSON.parse(event.data).type); socket.close(); };
        socket.onclose = (event) => resolve(`closed ${event.code}`);
    })"""

    page.goto(f"{monitor_backend.url}/login/")
    assert page.evaluate(open_socket) == "closed 1006"

    supervisor = monitor_page("supervisors", "sophie")
    assert supervisor.evaluate(open_socket) == "snapshot"
