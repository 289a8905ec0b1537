"""The Callback Timing editor in a real browser, and its effect on the supervisors' open monitors."""

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from callbacks.choices import AuditAction
from callbacks.models import AuditEntry, BusinessProcess

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def status_cell(page, code: str):
    return page.locator(f'#monitor-table tbody tr[data-bp="{code}"] td[data-col="status"]')


def test_closing_today_shows_off_schedule_on_a_supervisors_open_monitor_without_reload(
    monitor_page, make_business_process
):
    make_business_process("SALES", name="Sales France")  # open around the clock, in UTC
    sam = monitor_page("supervisors", "sam")
    expect(status_cell(sam, "SALES")).to_have_text("Active")
    sam.evaluate("window.notReloaded = true")

    alice = monitor_page("administrators", "alice")
    alice.goto(alice.url.rstrip("/") + "/business-processes/SALES/timing/")
    expect(alice.locator(".bp-header [data-schedule-preview]")).to_have_text(
        "Open now, no closing in the next two weeks"
    )
    form = alice.locator("#timing-schedule-form")
    form.get_by_role("button", name="Add an exception").click()
    row = form.locator("tr.timing-exception").last
    row.locator("input[type=date]").fill(timezone.now().date().isoformat())
    row.locator("input[name$=-note]").fill("Strike")
    form.get_by_role("button", name="Save schedule").click()

    # How fast is measured by the benchmarks, not asserted here: the wait only bounds a test that would hang.
    expect(status_cell(sam, "SALES")).to_have_text("Off Schedule HRS", timeout=10_000)
    assert sam.evaluate("window.notReloaded") is True

    expect(alice.locator(".messages")).to_contain_text("Schedule saved. Closed, opens tomorrow 00:00")
    expect(alice.locator(".bp-header .badge")).to_have_text("Off Schedule HRS")
    expect(alice.locator(".timing-history-table")).to_contain_text("closed all day (Strike)")
    trail = AuditEntry.objects.filter(business_process__code="SALES").order_by("id")
    assert list(trail.values_list("action", "actor")) == [
        (AuditAction.SCHEDULE_CHANGED, "user:alice"),
        (AuditAction.SCHEDULE_CLOSED, "system"),  # recorded by the save, at once
    ]


def test_the_recall_interval_list_editor_adds_moves_and_removes(monitor_page, make_business_process):
    make_business_process("SALES", name="Sales France")
    alice = monitor_page("administrators", "alice")
    alice.goto(alice.url.rstrip("/") + "/business-processes/SALES/timing/")
    editor = alice.locator('[data-field="recall_intervals"]')
    inputs = editor.locator("input[type=text]")
    expect(inputs).to_have_count(4)  # 5m, 15m, 1h and a blank one to add to
    inputs.nth(3).fill("2d")
    editor.locator("li").nth(3).locator("[data-move=up]").click()  # 5m, 15m, 2d, 1h
    editor.locator("li").nth(0).locator("[data-remove]").click()  # 15m, 2d, 1h
    editor.get_by_role("button", name="Add").click()
    inputs.nth(3).fill("90s")  # 15m, 2d, 1h, 90s
    alice.locator("#timing-settings-form").get_by_role("button", name="Save settings").click()

    expect(alice.locator(".messages")).to_contain_text("Callback Timing saved")
    assert BusinessProcess.objects.get(code="SALES").recall_intervals == [900, 172800, 3600, 90]
    expect(alice.locator('[data-field="recall_intervals"] input[type=text]')).to_have_count(5)
    expect(alice.locator('[data-field="recall_intervals"] input[type=text]').nth(3)).to_have_value("1m 30s")


def test_copy_monday_and_a_bad_range_shows_its_message_beside_the_day(monitor_page, make_business_process):
    sales = make_business_process("SALES", name="Sales France", open=False)
    sales.add_default_schedule()
    alice = monitor_page("administrators", "alice")
    alice.goto(alice.url.rstrip("/") + "/business-processes/SALES/timing/")
    form = alice.locator("#timing-schedule-form")
    form.locator("#id_day_0").fill("08:00–12:00, 11:00–14:00")
    form.get_by_role("button", name="Copy Monday to Tue–Fri").click()
    expect(form.locator("#id_day_4")).to_have_value("08:00–12:00, 11:00–14:00")
    form.get_by_role("button", name="Save schedule").click()

    expect(alice.locator('[data-field="day_2"] .errorlist')).to_have_text(
        "Wednesday: 08:00–12:00 and 11:00–14:00 overlap."
    )
    assert sales.schedule_ranges.count() == 5 and not AuditEntry.objects.exists()


def test_what_if_estimates_the_values_typed_before_they_are_saved(monitor_page, make_business_process):
    from datetime import timedelta

    from callbacks.choices import CallbackState, CompletionStatus, EndState
    from callbacks.models import Attempt, Callback

    sales = make_business_process("SALES", name="Sales France")
    ended = timezone.now() - timedelta(days=1)
    for n, statuses in enumerate([["handled"], ["no_answer", "no_answer", "handled"], ["no_answer"] * 3]):
        callback = Callback.objects.create(
            external_id=f"cb-{n}",
            business_process=sales,
            phone="+33142685300",
            state=CallbackState.COMPLETED,
            end_state=EndState.REACHED if statuses[-1] == "handled" else EndState.FAILED,
            created=ended - timedelta(hours=3),
            completed_at=ended,
        )
        for number, status in enumerate(statuses, start=1):
            at = ended - timedelta(hours=3 - number)
            Attempt.objects.create(
                callback=callback, business_process=sales, number=number, offered_at=at, completed_at=at,
                completion_status=CompletionStatus(status),
            )  # fmt: skip
    alice = monitor_page("administrators", "alice")
    alice.goto(alice.url.rstrip("/") + "/business-processes/SALES/timing/")

    alice.fill("#id_attempts_before_failure", "2")
    alice.get_by_role("button", name="What if? Estimate from the last 14 days").click()

    result = alice.locator("[data-what-if-result]")
    expect(result).to_contain_text("an estimate")
    # Reached 2 → 1 (the one reached on its 3rd try would have failed with 2 tries), failed 1 → 2.
    expect(result.locator('tr[data-row="reached"] td')).to_have_text(["2", "1.0", "-1.0"])
    expect(result.locator('tr[data-row="failed"] td')).to_have_text(["1", "2.0", "+1.0"])
    assert BusinessProcess.objects.get(code="SALES").attempts_before_failure == 3, "nothing saved"
