"""The monitor page as the server renders it: the seed's columns, totals, thresholds, sorting, the row menu."""

import itertools

import pytest
from django.test.html import Element, parse_html
from django.utils import timezone

from callbacks import engine
from callbacks.choices import CompletionStatus
from callbacks.models import Agent

ACTOR = engine.Actor("tests")
SEED_COLUMNS = [
    "Business process",
    "CLBK Stat",
    "Proc",
    "Clbk To Be Proc",
    "Clbk Avg Time",
    "Clbk Purged",
    "% Clbk Reached",
    "% Clbk Fail",
]
# Session, user, user and group permissions; business processes, their schedule ranges and exceptions;
# the open callback counts, the ended callback counts and the handle-time sums (monitoring.columns).
MONITOR_QUERIES = 10
_phones = itertools.count(5550100)


def waiting(business_process, count: int) -> None:
    """`count` callbacks waiting in queue."""
    for _ in range(count):
        number = next(_phones)
        engine.request_callback(
            external_id=f"{business_process.code}-{number}",
            business_process=business_process,
            phone=f"+1212{number:07d}",
            at=timezone.now(),
            actor=ACTOR,
        )


def wrong_destination(business_process) -> None:
    """One callback processed and failed (Wrong Destination)."""
    agent, _ = Agent.objects.get_or_create(login_id="agent-1")
    number = next(_phones)
    now = timezone.now()
    callback = engine.request_callback(
        external_id=f"wd-{number}", business_process=business_process, phone=f"+1212{number:07d}", at=now, actor=ACTOR
    )
    engine.offer(callback.pk, agent, now, ACTOR)
    engine.accept(callback.pk, agent, now, ACTOR)
    engine.complete(callback.pk, agent, CompletionStatus.WRONG_DESTINATION, now, ACTOR)


def text(node) -> str:
    if isinstance(node, str):
        return node
    return " ".join(part for part in (text(child) for child in node.children) if part).strip()


def find(node, name: str) -> list[Element]:
    """Every element called `name` under node, in document order."""
    found = []
    for child in getattr(node, "children", []):
        if isinstance(child, Element):
            if child.name == name:
                found.append(child)
            found.extend(find(child, name))
    return found


def attr(element: Element, name: str) -> str | None:
    return dict(element.attributes).get(name)


def classes(element: Element) -> set[str]:
    return set((attr(element, "class") or "").split())


class MonitorPage:
    """The monitor table of a rendered page: header labels, body rows by code, the footer's cells."""

    def __init__(self, html: str):
        table = next(t for t in find(parse_html(html), "table") if attr(t, "id") == "monitor-table")
        self.headers = [text(th) for th in find(find(table, "thead")[0], "th")]
        self.rows = {attr(tr, "data-bp"): tr for tr in find(find(table, "tbody")[0], "tr")}
        self.codes = list(self.rows)
        self.footer = {attr(td, "data-col"): td for td in find(find(table, "tfoot")[0], "td")}

    def cell(self, code: str, column: str) -> Element:
        return next(td for td in find(self.rows[code], "td") if attr(td, "data-col") == column)

    def cells(self, code: str) -> dict[str, str]:
        return {attr(td, "data-col"): text(td) for td in find(self.rows[code], "td") if attr(td, "data-col")}


@pytest.fixture
def supervisor(client, make_user):
    client.force_login(make_user("supervisors"))
    return client


def get_page(client, url: str = "/") -> MonitorPage:
    response = client.get(url)
    assert response.status_code == 200
    return MonitorPage(response.content.decode())


def test_the_columns_are_the_seeds_with_their_labels(supervisor, make_business_process):
    make_business_process("SALES", name="Sales France")

    page = get_page(supervisor)

    assert page.headers == SEED_COLUMNS
    assert list(page.cells("SALES")) == [
        "status",
        "proc",
        "to_be_processed",
        "avg_time",
        "purged",
        "pct_reached",
        "pct_failed",
    ]


def test_each_row_shows_its_business_process_and_cells(supervisor, make_business_process):
    sales = make_business_process("SALES", name="Sales France")
    waiting(sales, 2)
    wrong_destination(sales)

    page = get_page(supervisor)

    assert text(page.cell("SALES", "status")) == "Active"
    assert "status-active" in classes(find(page.cell("SALES", "status"), "span")[0])
    assert page.cells("SALES") == {
        "status": "Active",
        "proc": "1",
        "to_be_processed": "2",
        "avg_time": "—",
        "purged": "0",
        "pct_reached": "0.0 %",
        "pct_failed": "100.0 %",
    }
    name_link = find(page.rows["SALES"], "a")[0]
    assert attr(name_link, "href") == "/business-processes/SALES/"
    assert text(name_link) == "Sales France SALES"
    assert attr(find(page.cell("SALES", "to_be_processed"), "a")[0], "href") == (
        "/business-processes/SALES/explain/to_be_processed/"
    )


def test_the_totals_row_is_the_footer(supervisor, make_business_process):
    waiting(make_business_process("SALES"), 2)
    waiting(make_business_process("SUPPORT"), 3)
    wrong_destination(make_business_process("BILLING"))

    page = get_page(supervisor)

    assert text(page.footer[None]) == "Total"
    assert {column: text(td) for column, td in page.footer.items() if column} == {
        "status": "",
        "proc": "1",
        "to_be_processed": "5",
        "avg_time": "—",
        "purged": "0",
        "pct_reached": "0.0 %",
        "pct_failed": "100.0 %",
    }
    assert attr(find(page.footer["purged"], "a")[0], "href") == "/explain/purged/"


def test_rows_over_a_threshold_are_marked(supervisor, make_business_process):
    waiting(make_business_process("BUSY", to_be_processed_threshold=2), 3)
    wrong_destination(make_business_process("FAILING", failed_pct_threshold=50))
    waiting(make_business_process("CALM", to_be_processed_threshold=2), 2)

    page = get_page(supervisor)

    assert {"over-to-be-processed"} <= classes(page.rows["BUSY"])
    assert "over" in classes(page.cell("BUSY", "to_be_processed"))
    assert "over" not in classes(page.cell("BUSY", "pct_failed"))
    assert {"over-failed"} <= classes(page.rows["FAILING"])
    assert "over" in classes(page.cell("FAILING", "pct_failed"))
    assert not {"over-to-be-processed", "over-failed"} & classes(page.rows["CALM"])
    assert "over" not in classes(page.cell("CALM", "to_be_processed"))


def test_a_numeric_column_sorts_by_number_not_text(supervisor, make_business_process):
    waiting(make_business_process("NINE", name="A nine"), 9)
    waiting(make_business_process("TEN", name="B ten"), 10)
    waiting(make_business_process("TWO", name="C two"), 2)

    assert get_page(supervisor).codes == ["NINE", "TEN", "TWO"]  # by name
    assert get_page(supervisor, "/?sort=to_be_processed").codes == ["TWO", "NINE", "TEN"]
    assert get_page(supervisor, "/?sort=-to_be_processed").codes == ["TEN", "NINE", "TWO"]


def test_a_percentage_sorts_by_number_with_no_value_first(supervisor, make_business_process):
    failing = make_business_process("FAILING", name="A failing")
    wrong_destination(failing)
    make_business_process("IDLE", name="B idle")  # no Proc: % Clbk Fail shows —

    assert get_page(supervisor, "/?sort=pct_failed").codes == ["IDLE", "FAILING"]
    assert get_page(supervisor, "/?sort=-pct_failed").codes == ["FAILING", "IDLE"]


def test_supervisors_get_stop_and_resume_in_the_row_menu(supervisor, make_business_process):
    make_business_process("SALES")

    response = supervisor.get("/")

    html = response.content.decode()
    actions = [
        attr(button, "data-action") for button in find(parse_html(html), "button") if attr(button, "data-action")
    ]
    assert actions == ["stop", "resume"]
    assert "/api/v1/business-processes/__CODE__/stop/" in html
    assert "confirm-dialog" in html
    # The script posts with the session: the page must hand out the CSRF cookie.
    assert response.cookies["csrftoken"].value


def test_managers_get_no_stop_items_at_all(client, make_user, make_business_process):
    make_business_process("SALES")
    client.force_login(make_user("managers"))

    html = client.get("/").content.decode()

    assert "data-action" not in html
    assert "Stop callbacks" not in html
    assert "/stop/" not in html and "/resume/" not in html
    links = [attr(a, "data-link") for a in find(parse_html(html), "a") if attr(a, "data-link")]
    assert links == ["performance", "timing", "search"]


def test_the_row_template_lets_the_script_add_a_business_process(supervisor, make_business_process):
    make_business_process("SALES")

    html = supervisor.get("/").content.decode()

    template = next(t for t in find(parse_html(html), "template") if attr(t, "id") == "monitor-row-template")
    row = find(template, "tr")[0]
    assert attr(row, "data-bp") == "__CODE__"
    assert [attr(td, "data-col") for td in find(row, "td")][1:] == list(get_page(supervisor).cells("SALES"))


@pytest.mark.parametrize("count", [3, 30])
def test_the_page_runs_a_constant_number_of_queries(
    client, make_user, make_business_process, count, django_assert_max_num_queries
):
    for n in range(count):
        business_process = make_business_process(f"BP{n:02d}")
        waiting(business_process, 1)
        wrong_destination(business_process)
    client.force_login(make_user("supervisors"))

    with django_assert_max_num_queries(MONITOR_QUERIES):
        page = get_page(client)

    assert len(page.codes) == count
