"""The Content Security Policy against the real pages, in Chromium: every page an administrator can open loads
without one violation report (no inline script or style, nothing from elsewhere), the live pages' WebSocket
connects under connect-src 'self', and the schedule's bars still take their places."""

import re

import pytest
from django.conf import settings
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PAGES = [
    "/",
    "/callbacks/",
    "/callbacks/create/",
    "/business-processes/SALES/",
    "/business-processes/SALES/search/",
    "/business-processes/SALES/timing/",
    "/explain/to_be_processed/",
    "/reports/",
    "/reports/completed-callbacks/",
    "/reports/summary/",
    "/reports/agents/",
    "/audit/",
    "/administration/business-processes/",
    "/administration/api-tokens/",
    "/api/v1/docs/",
    "/admin/",
    "/admin/callbacks/businessprocess/",
]
LIVE_PAGES = {"/", "/business-processes/SALES/search/"}

RECORD_VIOLATIONS = """
window.cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) =>
  window.cspViolations.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`));
"""


def test_every_page_loads_without_a_policy_violation(monitor_page, make_business_process):
    make_business_process("SALES", name="Sales France")
    console: list[str] = []

    def setup(page):
        page.add_init_script(RECORD_VIOLATIONS)
        page.on("console", lambda message: console.append(message.text))

    page = monitor_page("administrators", "ada", setup=setup)
    base = re.match(r"https?://[^/]+", page.url).group(0)
    for path in PAGES:
        response = page.goto(base + path)
        assert response.status == 200, path
        assert "script-src 'self'" in response.headers["content-security-policy"], path
        if path in LIVE_PAGES:
            expect(page.locator("#live-badge")).to_have_class(re.compile(r"\blive\b"))
        if path == "/api/v1/docs/":
            expect(page.locator(".swagger-ui .info .title")).to_contain_text(settings.SPECTACULAR_SETTINGS["TITLE"])
        page.wait_for_load_state("networkidle")
        assert page.evaluate("window.cspViolations") == [], path
    assert not [text for text in console if "Content Security Policy" in text], console


def test_the_schedule_bars_take_their_places_without_style_attributes(monitor_page, make_business_process):
    bp = make_business_process("SALES", name="Sales France", open=False)
    bp.add_default_schedule()  # Monday to Friday 08:00–18:00
    page = monitor_page("administrators", "ada")
    page.goto(page.url.rstrip("/") + "/business-processes/SALES/timing/")

    track = page.locator("table.week tbody tr").first.locator("svg.track")
    bar = track.locator("rect.open")
    expect(bar).to_have_count(1)
    track_box, bar_box = track.bounding_box(), bar.bounding_box()
    assert bar_box["x"] - track_box["x"] == pytest.approx(track_box["width"] * 8 / 24, abs=2)
    assert bar_box["width"] == pytest.approx(track_box["width"] * 10 / 24, abs=2)
    scale = page.locator(".track-scale span")
    assert scale.nth(2).bounding_box()["x"] > scale.nth(1).bounding_box()["x"] > scale.nth(0).bounding_box()["x"]
    assert page.locator("[style]").count() == 0
