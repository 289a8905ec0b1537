"""A real browser's monitor page (static/js/monitor.js in Chromium) through a web process restart."""

import re
import signal
import time

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import browser  # noqa: F401 — the fixture: Debian's Chromium, headless

from .conftest import Ingest
from .streams import lifecycles

pytestmark = [pytest.mark.slow, pytest.mark.worker, pytest.mark.browser]


def test_the_monitor_page_reconnects_after_the_web_process_restarts(browser, system, make_business_process):  # noqa: F811
    make_business_process("SALES", name="Sales")
    web = system.web(app="tests.faults.asgi_static:application")
    system.worker(pool="solo")
    context = browser.new_context()
    name, value = system.cookie.split("=", 1)
    context.add_cookies([{"name": name, "value": value, "url": web.url}])
    page = context.new_page()
    page.goto(f"{web.url}/")
    badge = page.locator("#live-badge .live-text")
    to_be_processed = page.locator('#monitor-table tbody tr[data-bp="SALES"] td[data-col="to_be_processed"]')
    expect(badge).to_have_text(re.compile(r"^Live · "))
    expect(to_be_processed).to_have_text("0")

    web.kill(signal.SIGKILL)
    expect(badge).to_have_text("Reconnecting…")
    events = lifecycles("SALES", 5).events  # five requests: the page must show them after the restart
    time.sleep(1)  # down a moment: the page's backoff grows
    web.start()
    back_at = time.monotonic()
    ingest = Ingest(web, system.token)
    for event in events:
        if event["type"] == "callback.requested":
            assert ingest.post(event)[0] == 201
    expect(badge).to_have_text(re.compile(r"^Live · "), timeout=5_000)  # back within 5 s, by itself
    expect(to_be_processed).to_have_text("5", timeout=10_000)
    assert time.monotonic() - back_at < 10
    context.close()
