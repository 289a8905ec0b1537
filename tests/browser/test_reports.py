"""A manager in a real browser: filters the Completed Callback Interaction report, unfolds a callback's
attempts, asks for a download too large to stream, watches its progress and saves the file."""

import csv
import io
import time
from pathlib import Path

import pytest
from openpyxl import load_workbook

from monitoring.reports import exports
from tests.monitoring.reports_history import build_history

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def slow_export(monkeypatch):
    """Each callback takes 0.4 s to write, so the progress bar has time to be seen moving."""
    entry = exports.Cells.entry

    def slowly(self, row, attempts):
        time.sleep(0.4)
        return entry(self, row, attempts)

    monkeypatch.setattr(exports.Cells, "entry", slowly)
    monkeypatch.setattr(exports, "CHUNK_SIZE", 1)


def test_a_manager_filters_the_report_and_downloads_a_large_export(
    monitor_page, settings, tmp_path, slow_export, make_user
):
    settings.REPORT_DIRECT_DOWNLOAD_MAX = 10
    settings.REPORT_EXPORT_DIR = tmp_path / "exports"
    build_history()
    page = monitor_page("managers", "maud")

    page.click("nav >> text=Reports")
    page.click("text=Completed Callback Interaction (6.04)")
    page.wait_for_selector("h1:has-text('Completed Callback Interaction')")
    page.fill("#id_date_from", "2026-03-28")
    page.fill("#id_date_to", "2026-03-29")
    page.select_option("#id_time_zone", "Europe/Paris")
    page.select_option("#id_business_process", ["SALES"])
    page.click("#report-filters button[type=submit]")

    page.wait_for_url(lambda url: "time_zone=Europe%2FParis" in url and "business_process=SALES" in url)
    rows = page.locator("#report-table > tbody > tr")
    assert rows.evaluate_all("rows => rows.map(row => row.dataset.callback)") == ["cb-reached", "cb-late"]
    assert page.locator("#report-count").inner_text() == "2"
    reached = page.locator("tr[data-callback='cb-reached']")
    assert not reached.locator("text=bob-22").is_visible()
    reached.locator("summary").click()
    attempt = reached.locator("tr[data-attempt='2']")
    assert attempt.inner_text().split("\t") == ["2", "2026-03-28 11:00:00", "bob-22", "Handled"]

    # Under the threshold: the CSV streams straight from the server (Daphne: an asynchronous body).
    with page.expect_download() as csv_info:
        page.click("#report-download button[value=csv]")
    rows = list(csv.reader(io.StringIO(Path(csv_info.value.path()).read_text(encoding="utf-8-sig"))))
    assert rows[0][6] == "Original entrance time (Europe/Paris)"
    assert [row[2] for row in rows[1:]] == ["cb-late", "cb-reached", "cb-reached"]

    # Two callbacks, above a lowered threshold: prepared in the background, with a progress bar.
    settings.REPORT_DIRECT_DOWNLOAD_MAX = 1
    page.click("#report-download button[value=xlsx]")
    page.wait_for_url("**/reports/exports/**")
    page.wait_for_selector("#report-export[data-state='running']")
    progress = page.locator("#report-progress")
    page.wait_for_function("() => document.getElementById('report-progress').value > 0")
    page.wait_for_selector("#report-ready:not([hidden])", timeout=20_000)
    assert progress.evaluate("bar => bar.value") == 100
    assert "2 of 2 callbacks (100 %)" in page.locator("#report-progress-text").inner_text()

    with page.expect_download() as download_info:
        page.click("#report-file")
    download = download_info.value
    assert download.suggested_filename.startswith("completed-callbacks-")
    assert download.suggested_filename.endswith(".xlsx")
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    workbook = load_workbook(saved, read_only=True)
    assert [row[2] for row in workbook["Callbacks"].iter_rows(min_row=2, values_only=True)] == [
        "cb-late",
        "cb-reached",
    ]
    assert workbook["Callbacks"]["G1"].value == "Original entrance time (Europe/Paris)"
