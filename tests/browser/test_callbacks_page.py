"""The Callbacks page in a real browser: filter by part of a phone number, expand a row, create a scheduled
callback with the slot picker, bulk cancel with its confirmation; a manager is offered no action."""

from datetime import datetime, timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from callbacks import engine
from callbacks.choices import CallbackState, EndState
from callbacks.models import Agent, Callback

from .conftest import PASSWORD

pytestmark = pytest.mark.browser


def make_callback(external_id, business_process, phone, **kwargs) -> Callback:
    return engine.request_callback(
        external_id=external_id,
        business_process=business_process,
        phone=phone,
        at=timezone.now(),
        actor=engine.SYSTEM,
        **kwargs,
    )


@pytest.fixture
def callbacks_page(browser, asgi_server, transactional_db, make_user):
    """Log a user of a role in through the login page and open the Callbacks page."""
    contexts = []

    def open_as(role: str, username: str):
        make_user(role, username)
        context = browser.new_context(timezone_id="UTC")
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(10_000)
        page.goto(f"{asgi_server.url}/callbacks/")
        page.fill("#id_username", username)
        page.fill("#id_password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_selector("#cbp-page")
        # The page's script comes after the list: until the document has loaded, a click or a key on a row may
        # reach a page without its handlers (seen in CI: Enter on the row menu button opened nothing).
        page.wait_for_load_state("load")
        return page

    yield open_as
    for context in contexts:
        context.close()


@pytest.fixture
def callbacks(make_business_process):
    sales = make_business_process("SALES")
    make_business_process("SUPPORT")
    paris = make_callback("cb-paris", sales, "+33142685300", customer_name="Ada")
    agent = Agent.objects.create(login_id="agent-7", display_name="Grace")
    engine.offer(paris.pk, agent, timezone.now(), engine.SYSTEM)
    engine.complete(paris.pk, agent, "cancel", timezone.now(), engine.SYSTEM)  # declined: back to queue
    make_callback("cb-ny", sales, "+12125550134")
    busy = make_callback("cb-busy", sales, "+12125550177")
    engine.offer(busy.pk, agent, timezone.now(), engine.SYSTEM)
    engine.accept(busy.pk, agent, timezone.now(), engine.SYSTEM)
    return sales


def visible_rows(page) -> list[str]:
    return page.eval_on_selector_all("tbody tr[data-callback]", "rows => rows.map(r => r.dataset.callback)")


def test_a_supervisor_finds_expands_and_creates(callbacks_page, callbacks):
    page = callbacks_page("supervisors", "sophie")
    assert set(visible_rows(page)) == {"cb-paris", "cb-ny", "cb-busy"}

    # Part of the number, as a person types it.
    page.fill("#id_q", "42 68 53")
    page.click(".cbp-filters button[type=submit]")
    page.wait_for_url(lambda url: "q=42+68+53" in url)
    assert visible_rows(page) == ["cb-paris"]

    # Expanding the row fetches its attempts and audit trail.
    page.click('tr[data-callback="cb-paris"] .cbp-expand')
    details = page.wait_for_selector(".cbp-details .cbp-details-body")
    text = details.inner_text()
    assert "Grace" in text and "Cancel" in text
    assert "Callback requested" in text and "Attempt offered" in text
    assert page.get_attribute('tr[data-callback="cb-paris"] .cbp-expand', "aria-expanded") == "true"

    # Create a scheduled callback: the slots come from the business process's schedule.
    page.click("text=+ Create callback")
    page.wait_for_selector("#cbp-create-form")
    page.select_option("#id_business_process", "SALES")
    page.fill("#id_phone", "+1 212 555 0199")
    page.check("input[name=kind][value=scheduled]")
    tomorrow = (timezone.now() + timedelta(days=1)).date().isoformat()
    page.fill("#id_day", tomorrow)
    page.wait_for_function("() => document.querySelectorAll('#id_slot option').length > 10")
    options = page.eval_on_selector_all("#id_slot option", "os => os.map(o => [o.value, o.textContent])")
    assert len(options) == 24 * 4 + 1 and options[0][0] == ""
    chosen, label = options[41]
    assert label == f"{datetime.fromisoformat(chosen):%H:%M} UTC"
    page.select_option("#id_slot", chosen)
    page.click("#cbp-create-form button[type=submit]")
    page.wait_for_url(lambda url: "/callbacks/?q=ui-" in url)
    assert "created (Scheduled)" in page.inner_text(".messages")
    created = Callback.objects.get(external_id__startswith="ui-")
    assert created.phone == "+12125550199" and created.desired_time == datetime.fromisoformat(chosen)
    assert visible_rows(page) == [created.external_id]
    assert page.get_attribute(f'tr[data-callback="{created.external_id}"] .cbp-scheduled', "title")


def test_a_supervisor_bulk_cancels_with_processing_ones_excluded(callbacks_page, callbacks):
    page = callbacks_page("supervisors", "sophie")
    page.check(".cbp-select-page")  # select all on this page
    expect(page.locator("#cbp-selected-count")).to_have_text("3")  # the page's script counts after the change
    page.click("#cbp-cancel-selected")
    dialog = page.wait_for_selector("#cbp-bulk-dialog[open]")
    text = dialog.inner_text()
    assert "3 callbacks selected." in text and "2 callbacks will be cancelled." in text
    assert "in Processing (an agent is on them) will not be cancelled: cb-busy." in text
    page.click("#cbp-bulk-confirm")
    page.wait_for_selector(".cbp-summary a")
    assert "2 callbacks cancelled, 1 skipped." in page.inner_text(".messages")
    ended = dict(Callback.objects.values_list("external_id", "end_state"))
    assert ended == {"cb-paris": EndState.CANCELLED, "cb-ny": EndState.CANCELLED, "cb-busy": ""}
    with page.expect_download() as download:
        page.click(".cbp-summary a")
    assert download.value.suggested_filename.startswith("cancellation-summary-")


def test_the_row_menu_opens_from_the_keyboard_and_offers_what_the_state_allows(callbacks_page, callbacks):
    page = callbacks_page("supervisors", "sophie")
    page.focus('tr[data-callback="cb-ny"] .cbp-menu-button')
    page.keyboard.press("Enter")
    page.wait_for_selector("#cbp-row-menu:not([hidden])")
    offered = page.eval_on_selector_all(
        "#cbp-row-menu [data-action]:not([hidden])", "items => items.map(i => i.dataset.action)"
    )
    assert offered == ["cancel", "purge"]  # Queued: no reschedule, no send to queue, no recreate
    assert page.evaluate("document.activeElement.dataset.action") == "cancel"
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    dialog = page.wait_for_selector("#cbp-action-dialog[open]")
    assert "Purge callback cb-ny?" in dialog.inner_text()
    page.click("#cbp-action-dialog button[value=no]")
    page.keyboard.press("Escape")
    assert Callback.objects.get(external_id="cb-ny").state == CallbackState.QUEUED


def test_a_managers_page_offers_no_action(callbacks_page, callbacks):
    page = callbacks_page("managers", "maria")
    assert set(visible_rows(page)) == {"cb-paris", "cb-ny", "cb-busy"}
    for absent in (".cbp-menu-button", ".cbp-select", "#cbp-row-menu", "#cbp-cancel-selected", "text=Create callback"):
        assert page.query_selector(absent) is None
    page.click('tr[data-callback="cb-ny"]', button="right")
    assert page.query_selector(".row-menu") is None
    page.click('tr[data-callback="cb-paris"] .cbp-expand')  # seeing is allowed
    assert "Grace" in page.wait_for_selector(".cbp-details-body").inner_text()


def test_a_refused_action_says_why_and_shows_the_current_state(callbacks_page, callbacks):
    """The page showed cb-ny queued; an agent took it meanwhile: the purge is refused, and the page says why."""
    page = callbacks_page("supervisors", "sophie")
    sent = []
    page.on("request", lambda request: sent.append(request) if request.url.endswith("/purge/") else None)
    agent = Agent.objects.get(login_id="agent-7")
    engine.offer(Callback.objects.get(external_id="cb-ny").pk, agent, timezone.now(), engine.SYSTEM)
    engine.accept(Callback.objects.get(external_id="cb-ny").pk, agent, timezone.now(), engine.SYSTEM)

    page.click('tr[data-callback="cb-ny"]', button="right")
    page.click("#cbp-row-menu [data-action=purge]")
    page.click("#cbp-action-confirm")

    error = page.wait_for_selector("#cbp-action-error:not([hidden])").inner_text()
    assert "cb-ny is now" in error and "Nothing was changed" in error and error.endswith("Current state: Dialing.")
    [request] = sent
    assert request.method == "POST" and request.post_data_json == {"expected_state": "queued"}
    assert request.headers["x-csrftoken"] and request.headers["content-type"] == "application/json"
    assert page.get_attribute('tr[data-callback="cb-ny"]', "data-state") == "processing"
    assert Callback.objects.get(external_id="cb-ny").state == CallbackState.PROCESSING


def test_a_reschedule_sends_the_chosen_slot(callbacks_page, make_business_process):
    sales = make_business_process("SALES")
    make_callback("cb-later", sales, "+12125550134", desired_time=timezone.now() + timedelta(hours=5))
    page = callbacks_page("supervisors", "sophie")
    sent = []
    page.on("request", lambda request: sent.append(request.post_data_json) if "/reschedule/" in request.url else None)
    page.click('tr[data-callback="cb-later"] .cbp-menu-button')
    offered = page.eval_on_selector_all(
        "#cbp-row-menu [data-action]:not([hidden])", "items => items.map(i => i.dataset.action)"
    )
    assert offered == ["reschedule", "send-to-queue", "cancel", "purge"]
    page.click("#cbp-row-menu [data-action=reschedule]")
    page.fill("#cbp-reschedule-day", (timezone.now() + timedelta(days=2)).date().isoformat())
    page.wait_for_function("() => document.querySelectorAll('#cbp-reschedule-slot option').length > 10")
    slot = page.eval_on_selector_all("#cbp-reschedule-slot option", "os => os.map(o => o.value)")[5]
    page.select_option("#cbp-reschedule-slot", slot)
    with page.expect_navigation():  # the page is drawn again after a success
        page.click("#cbp-action-confirm")
    assert sent == [{"expected_state": "scheduled", "desired_time": slot}]
    rescheduled = Callback.objects.get(external_id="cb-later")
    assert rescheduled.desired_time == datetime.fromisoformat(slot) and rescheduled.state == CallbackState.SCHEDULED
