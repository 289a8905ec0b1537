"""The Callback Timing tab as a form: who may edit, all-or-nothing saves, stale forms, audit and history."""

from datetime import date, time, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from callbacks.choices import AuditAction
from callbacks.models import AuditEntry, BusinessProcess
from callbacks.timing import timing_version
from monitoring.views.timing import HISTORY_PER_PAGE

EDIT_URLS = ["business-process-timing-settings", "business-process-timing-schedule"]


def url(name: str = "business-process-timing", code: str = "SALES") -> str:
    return reverse(name, kwargs={"code": code})


@pytest.fixture
def sales(make_business_process) -> BusinessProcess:
    bp = make_business_process("SALES", open=False, time_zone="Europe/Paris")
    bp.add_default_schedule()
    return bp


@pytest.fixture
def admin(client, make_user):
    client.force_login(make_user("administrators", "alice"))
    return client


def settings_data(**changes) -> dict:
    data = {
        "version": "0",
        "no_answer_seconds": "60",
        "attempts_before_failure": "3",
        "recall_intervals": ["5m", "15m", "1h"],
        "time_zone": "Europe/Paris",
        "shift_starts": ["00:00"],
        "max_schedule_ahead": "30d",
        "to_be_processed_threshold": "50",
        "failed_pct_threshold": "30",
    }
    data.update(changes)
    return data


def schedule_data(version: int = 0, exceptions: list[dict] = (), **days) -> dict:
    data = {"version": str(version), "form-TOTAL_FORMS": str(len(exceptions)), "form-INITIAL_FORMS": "0"}
    for day in range(7):
        data[f"day_{day}"] = days.get(f"day_{day}", "08:00–18:00" if day < 5 else "")
    for index, row in enumerate(exceptions):
        data.update({f"form-{index}-{key}": value for key, value in row.items()})
    return data


def fresh(bp: BusinessProcess) -> BusinessProcess:
    return BusinessProcess.objects.get(pk=bp.pk)


# ---------------------------------------------------------------------------------------------------------
# Who may edit


@pytest.mark.parametrize("role", ["supervisors", "managers"])
def test_others_see_the_settings_but_no_edit_controls(sales, client, make_user, role):
    client.force_login(make_user(role))
    response = client.get(url())
    assert response.status_code == 200
    html = response.content.decode()
    assert "Duration For No Answer" in html and "Change history" in html
    for control in ("timing-settings-form", "timing-schedule-form", "Save settings", "Save schedule", "timing.js"):
        assert control not in html


@pytest.mark.parametrize("role", ["supervisors", "managers", None])
@pytest.mark.parametrize("name", EDIT_URLS)
def test_others_get_403_on_every_edit_endpoint_and_nothing_changes(sales, client, make_user, role, name):
    client.force_login(make_user(role))
    data = settings_data(attempts_before_failure="2") | schedule_data(day_0="")
    assert client.post(url(name), data).status_code == 403
    assert fresh(sales).attempts_before_failure == 3
    assert sales.schedule_ranges.count() == 5
    assert not AuditEntry.objects.exists()


@pytest.mark.parametrize("name", EDIT_URLS)
def test_anonymous_posts_go_to_the_login_page(sales, client, name):
    response = client.post(url(name), settings_data())
    assert response.status_code == 302 and "/login/" in response["Location"]


@pytest.mark.parametrize("name", EDIT_URLS)
def test_the_edit_endpoints_take_only_posts(sales, admin, name):
    assert admin.get(url(name)).status_code == 405


def test_an_administrator_gets_the_editor_filled_with_the_current_values(sales, admin):
    response = admin.get(url())
    html = response.content.decode()
    assert 'id="timing-settings-form"' in html and 'id="timing-schedule-form"' in html
    assert 'value="5m"' in html and 'value="15m"' in html and 'value="1h"' in html
    assert 'name="max_schedule_ahead" value="30d"' in html
    assert 'name="day_0" value="08:00–18:00"' in html
    assert "Copy Monday to Tue–Fri" in html


# ---------------------------------------------------------------------------------------------------------
# Saving settings


def test_saving_settings_changes_them_audits_before_after_and_announces_on_commit(
    sales, admin, announced, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = admin.post(
            url("business-process-timing-settings"),
            settings_data(
                attempts_before_failure="2",
                recall_intervals=["90s", "1h 30m"],
                max_schedule_ahead="7d",
                shift_starts=["06:00", "14:00"],
            ),
        )
    assert response.status_code == 302 and response["Location"] == url()
    bp = fresh(sales)
    assert bp.attempts_before_failure == 2
    assert bp.recall_intervals == [90, 5400]
    assert bp.max_schedule_ahead == timedelta(days=7)
    assert bp.shift_starts == ["06:00", "14:00"]
    assert announced == [sales.pk]
    entry = AuditEntry.objects.get()
    assert entry.action == AuditAction.TIMING_CHANGED
    assert (entry.actor, entry.user.username, entry.business_process_id, entry.callback_id) == (
        "user:alice",
        "alice",
        sales.pk,
        None,
    )
    assert entry.changes == {
        "attempts_before_failure": [3, 2],
        "recall_intervals": [[300, 900, 3600], [90, 5400]],
        "shift_starts": [["00:00"], ["06:00", "14:00"]],
        "max_schedule_ahead": [30 * 86400, 7 * 86400],
    }
    page = admin.get(url()).content.decode()
    assert "Callback Timing saved" in page
    assert "<strong>Recall Intervals</strong>: 5m, 15m, 1h → 1m 30s, 1h 30m" in page


def test_saving_the_same_values_records_nothing(sales, admin):
    assert admin.post(url("business-process-timing-settings"), settings_data()).status_code == 302
    assert not AuditEntry.objects.exists()


def test_one_bad_value_saves_nothing_and_each_message_stands_beside_its_field(sales, admin):
    response = admin.post(
        url("business-process-timing-settings"),
        settings_data(attempts_before_failure="2", no_answer_seconds="601", recall_intervals=["5m", "", "9d"]),
    )
    assert response.status_code == 400
    form = response.context["settings_form"]
    assert set(form.errors) == {"no_answer_seconds", "recall_intervals"}
    html = response.content.decode()
    assert 'data-field="no_answer_seconds"' in html
    no_answer = html.split('data-field="no_answer_seconds"')[1].split('data-field="attempts_before_failure"')[0]
    assert "Ensure this value is less than or equal to 600." in no_answer
    assert 'value="9d"' in html, "what the person typed is shown again"
    assert html.count('<input type="text" name="recall_intervals"') == 3, "5m, 9d and one blank line to add to"
    bp = fresh(sales)
    assert (bp.attempts_before_failure, bp.no_answer_seconds) == (3, 60)
    assert not AuditEntry.objects.exists()


def test_a_stale_form_is_refused_naming_who_changed_what_and_then_may_be_saved(sales, client, make_user):
    other, mine = make_user("administrators", "bob"), make_user("administrators", "alice")
    client.force_login(other)
    saved = client.post(url("business-process-timing-settings"), settings_data(attempts_before_failure="5"))
    assert saved.status_code == 302

    client.force_login(mine)  # alice opened the page before bob saved: her form carries version 0
    response = client.post(url("business-process-timing-settings"), settings_data(no_answer_seconds="30"))
    assert response.status_code == 409
    html = response.content.decode()
    assert "Not saved: bob changed this business process at" in html
    assert "since you opened the page" in html and "Attempts Before Failure 3 → 5" in html
    assert '<tr><th scope="row">Attempts Before Failure</th><td>5</td>' in html, "the current values are shown"
    assert fresh(sales).no_answer_seconds == 60
    form = response.context["settings_form"]
    assert form["version"].value() == timing_version(sales.pk) != 0
    assert form["no_answer_seconds"].value() == "30", "her values are kept"

    again = client.post(
        url("business-process-timing-settings"),
        settings_data(version=str(timing_version(sales.pk)), no_answer_seconds="30"),
    )
    assert again.status_code == 302
    bp = fresh(sales)
    assert (bp.no_answer_seconds, bp.attempts_before_failure) == (30, 3)


# ---------------------------------------------------------------------------------------------------------
# Saving the schedule


def test_saving_the_schedule_replaces_ranges_and_exceptions_and_audits_per_day(sales, admin):
    response = admin.post(
        url("business-process-timing-schedule"),
        schedule_data(
            day_0="08:00–12:00, 13:00–18:00",
            day_4="",
            day_5="20:00–24:00",
            exceptions=[
                {"date": "2026-12-25", "hours": "", "note": "Christmas"},
                {"date": "2026-12-24", "hours": "09:00–12:00, 14:00-16:00", "note": "Eve"},
            ],
        ),
    )
    assert response.status_code == 302, response.context and response.context["schedule_form"].errors
    ranges = sorted((r.weekday, r.start, r.end) for r in sales.schedule_ranges.all())
    assert ranges == [
        (0, time(8), time(12)),
        (0, time(13), time(18)),
        (1, time(8), time(18)),
        (2, time(8), time(18)),
        (3, time(8), time(18)),
        (5, time(20), time(0)),
    ]
    exceptions = sorted((e.date, e.start, e.end, e.note) for e in sales.schedule_exceptions.all())
    assert exceptions == [
        (date(2026, 12, 24), time(9), time(12), "Eve"),
        (date(2026, 12, 24), time(14), time(16), "Eve"),
        (date(2026, 12, 25), None, None, "Christmas"),
    ]
    entry = AuditEntry.objects.get()
    assert entry.action == AuditAction.SCHEDULE_CHANGED
    assert entry.changes == {
        "Monday": ["08:00–18:00", "08:00–12:00, 13:00–18:00"],
        "Friday": ["08:00–18:00", "closed"],
        "Saturday": ["closed", "20:00–24:00"],
        "2026-12-24": [None, "09:00–12:00, 14:00–16:00 (Eve)"],
        "2026-12-25": [None, "closed all day (Christmas)"],
    }
    assert "Schedule saved." in admin.get(url()).content.decode()


def test_an_overlap_on_one_day_saves_nothing_of_the_schedule(sales, admin):
    response = admin.post(
        url("business-process-timing-schedule"),
        schedule_data(
            day_0="", day_2="08:00–12:00, 11:30–14:00", exceptions=[{"date": "2026-12-25", "hours": "", "note": ""}]
        ),
    )
    assert response.status_code == 400
    assert "Wednesday: 08:00–12:00 and 11:30–14:00 overlap." in response.content.decode()
    assert sales.schedule_ranges.count() == 5 and not sales.schedule_exceptions.exists()
    assert not AuditEntry.objects.exists()


def test_a_stale_schedule_form_is_refused(sales, admin):
    saved = admin.post(url("business-process-timing-settings"), settings_data(failed_pct_threshold="40"))
    assert saved.status_code == 302
    response = admin.post(url("business-process-timing-schedule"), schedule_data(version=0, day_0=""))
    assert response.status_code == 409
    assert "Not saved: alice changed this business process" in response.content.decode()
    assert sales.schedule_ranges.filter(weekday=0).exists()


# ---------------------------------------------------------------------------------------------------------
# History


def test_the_history_is_newest_first_paginated_in_constant_queries(sales, admin):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert admin.get(url()).status_code == 200
        return len(captured)

    version = 0
    for threshold in range(1, 4):
        admin.post(
            url("business-process-timing-settings"),
            settings_data(version=str(version), to_be_processed_threshold=str(threshold)),
        )
        version = timing_version(sales.pk)
    few = queries()
    for threshold in range(4, 4 + 2 * HISTORY_PER_PAGE):
        admin.post(
            url("business-process-timing-settings"),
            settings_data(version=str(version), to_be_processed_threshold=str(threshold)),
        )
        version = timing_version(sales.pk)
    assert queries() == few

    history = admin.get(url()).context["history"]
    assert history.paginator.count == 3 + 2 * HISTORY_PER_PAGE
    first = history.rows[0]["changes"]
    assert first == [("Clbk To Be Proc threshold", str(2 + 2 * HISTORY_PER_PAGE), str(3 + 2 * HISTORY_PER_PAGE))]
    last_page = admin.get(url(), {"history_page": 3}).context["history"]
    assert last_page.rows[-1]["changes"] == [("Clbk To Be Proc threshold", "50", "1")]


def test_the_page_header_previews_the_next_opening_or_closing(sales, admin):
    html = admin.get(url()).content.decode()
    header = html.split('<nav class="tabs"')[0]
    assert "data-schedule-preview" in header
    assert ("Open now, closes" in header) or ("Closed, opens" in header)


def test_an_exception_line_emptied_or_ticked_for_removal_is_dropped(sales, admin):
    sales.schedule_exceptions.create(date=date(2026, 12, 25), note="Christmas")
    sales.schedule_exceptions.create(date=date(2026, 12, 31), note="New Year's Eve")
    page = admin.get(url())
    assert page.context["exception_formset"].initial_form_count() == 2
    assert 'value="2026-12-25"' in page.content.decode()
    data = schedule_data(
        exceptions=[
            {"date": "", "hours": "", "note": ""},
            {"date": "2026-12-31", "hours": "", "note": "New Year's Eve", "DELETE": "on"},
            {"date": "2027-01-01", "hours": "", "note": "New Year"},
        ]
    )
    data["form-INITIAL_FORMS"] = "2"
    assert admin.post(url("business-process-timing-schedule"), data).status_code == 302
    assert [(e.date, e.note) for e in sales.schedule_exceptions.all()] == [(date(2027, 1, 1), "New Year")]
    assert AuditEntry.objects.get().changes == {
        "2026-12-25": ["closed all day (Christmas)", None],
        "2026-12-31": ["closed all day (New Year's Eve)", None],
        "2027-01-01": [None, "closed all day (New Year)"],
    }
