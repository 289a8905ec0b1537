"""Large report downloads run by a real Celery worker with progress, served only to their owner and deleted
after a day; and who may see the reports at all."""

import csv
import io
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone
from openpyxl import load_workbook

from monitoring.models import ReportExport
from monitoring.reports import exports
from tests.monitoring.reports_history import UTC_DAYS, build_history

REPORT = "/reports/completed-callbacks/"
DOWNLOAD = "/reports/completed-callbacks/download/"


@pytest.fixture
def export_dir(settings, tmp_path):
    settings.REPORT_EXPORT_DIR = tmp_path / "exports"
    return settings.REPORT_EXPORT_DIR


def wait_until_finished(client, status_url: str, timeout: float = 20) -> list[dict]:
    """Poll the status as the page does; every answer seen, the last one finished.

    SQLite's shared-cache test database locks tables and fails a conflicting write at once: this thread reads
    without read locks (as tests/browser/conftest.py's server threads do), so the worker's progress writes pass.
    """
    if connection.vendor == "sqlite":
        connection.ensure_connection()
        connection.connection.execute("PRAGMA read_uncommitted = true")
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = client.get(status_url).json()
        seen.append(status)
        if status["state"] in ("done", "failed"):
            return seen
        time.sleep(0.1)
    raise AssertionError(f"the export did not finish: {seen[-1]}")


@pytest.mark.worker
@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_a_large_download_is_written_by_the_worker_with_progress_for_its_owner_only(
    fmt, settings, export_dir, celery_worker, client, make_user, monkeypatch
):
    build_history()
    settings.REPORT_DIRECT_DOWNLOAD_MAX = 2
    monkeypatch.setattr(exports, "CHUNK_SIZE", 1)  # progress recorded after each callback
    owner = make_user("managers", "owner")
    client.force_login(owner)

    response = client.post(DOWNLOAD, {**UTC_DAYS, "format": fmt})
    assert response.status_code == 302
    export = ReportExport.objects.get()
    assert response["Location"] == f"/reports/exports/{export.pk}/"
    assert (export.user, export.format, export.total) == (owner, fmt, 4)
    assert export.parameters == {key: [value] for key, value in UTC_DAYS.items()}
    page = client.get(response["Location"]).content.decode()
    assert 'id="report-progress"' in page and "/status/" in page

    seen = wait_until_finished(client, f"/reports/exports/{export.pk}/status/")
    final = seen[-1]
    assert final["state"] == "done", final
    assert (final["done"], final["total"], final["percent"]) == (4, 4, 100)
    assert all(0 <= s["percent"] <= 100 for s in seen)
    assert final["url"] == f"/reports/exports/{export.pk}/file/"

    file = client.get(final["url"])
    assert file.status_code == 200
    assert file["Content-Disposition"].startswith("attachment; filename=")
    body = b"".join(file.streaming_content)
    if fmt == "csv":
        rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
        assert [row[2] for row in rows[1:]] == ["cb-reached", "cb-reached", "cb-aborted", "cb-purged", "cb-withdrawn"]
    else:
        workbook = load_workbook(io.BytesIO(body), read_only=True)
        callbacks = [row[2] for row in workbook["Callbacks"].iter_rows(min_row=2, values_only=True)]
        assert callbacks == ["cb-reached", "cb-aborted", "cb-purged", "cb-withdrawn"]
    assert [path.name for path in export_dir.iterdir()] == [f"{export.pk}.{fmt}"]

    # Another manager: as if it did not exist.
    client.force_login(make_user("managers", "someone-else"))
    for path in ("", "status/", "file/"):
        assert client.get(f"/reports/exports/{export.pk}/{path}").status_code == 404


@pytest.mark.worker
def test_an_export_whose_filters_became_invalid_fails_with_its_reason(export_dir, celery_worker, client, make_user):
    build_history()
    owner = make_user("managers", "owner")
    client.force_login(owner)
    export = ReportExport.objects.create(
        user=owner, report="completed-callbacks", format="csv", parameters={"agent": ["gone"]}, total=3
    )
    exports.run_export(str(export.pk))
    status = client.get(f"/reports/exports/{export.pk}/status/").json()
    assert status["state"] == "failed" and "agent" in status["error"] and status["url"] == ""
    assert client.get(f"/reports/exports/{export.pk}/file/").status_code == 404
    assert not export_dir.exists() or not any(export_dir.iterdir())


def test_a_small_download_arrives_at_once(db, settings, client, make_user):
    build_history()
    settings.REPORT_DIRECT_DOWNLOAD_MAX = 4
    client.force_login(make_user("managers"))
    response = client.post(DOWNLOAD, {**UTC_DAYS, "format": "csv"})
    assert response.status_code == 200 and ReportExport.objects.count() == 0


def test_files_and_jobs_are_deleted_after_a_day(db, export_dir, make_user):
    owner = make_user("managers")
    export_dir.mkdir(parents=True)
    old = ReportExport.objects.create(user=owner, report="completed-callbacks", format="csv", state="done")
    new = ReportExport.objects.create(user=owner, report="completed-callbacks", format="xlsx", state="done")
    ReportExport.objects.filter(pk=old.pk).update(created=timezone.now() - timedelta(hours=25))
    for export in (old, new):
        export.path.write_text("x")
    assert exports.delete_old_exports() == 1
    assert list(ReportExport.objects.all()) == [new]
    assert [path.name for path in export_dir.iterdir()] == [new.path.name]
    # A day later, the other one goes too.
    assert exports.delete_old_exports(timezone.now() + timedelta(hours=25)) == 1
    assert ReportExport.objects.count() == 0


@pytest.mark.parametrize(("role", "status"), [("managers", 200), ("administrators", 200), ("supervisors", 403)])
def test_who_may_see_the_report(db, client, make_user, role, status):
    client.force_login(make_user(role))
    assert client.get(REPORT).status_code == status
    page = client.get("/reports/").content.decode()
    assert (f'href="{REPORT}"' in page) is (status == 200)  # listed under the nav link "Reports"


def test_supervisors_may_not_download_nor_see_jobs(db, client, make_user):
    manager = make_user("managers")
    export = ReportExport.objects.create(user=manager, report="completed-callbacks", format="csv", state="done")
    supervisor = make_user("supervisors")
    client.force_login(supervisor)
    assert client.post(DOWNLOAD, {**UTC_DAYS, "format": "csv"}).status_code == 403
    for path in ("", "status/", "file/"):
        assert client.get(f"/reports/exports/{export.pk}/{path}").status_code == 403


def test_anonymous_users_are_sent_to_the_login_page(db, client):
    for response in (
        client.get(REPORT),
        client.post(DOWNLOAD, {"format": "csv"}),
        client.get("/reports/exports/00000000-0000-0000-0000-000000000000/status/"),
    ):
        assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_downloads_need_the_csrf_token(db, make_user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(make_user("managers"))
    assert client.post(DOWNLOAD, {**UTC_DAYS, "format": "csv"}).status_code == 403
