"""The Business Process monitor as a django-tables2 table over ``monitoring.columns.Row``.

Each cell shows the text the WebSocket pushes for it (``Row.cells()``), so a patched cell and a freshly rendered
one read the same; sorting goes by the raw numbers behind the text (``?sort=pct_failed`` orders 9.5 % before
10.0 %). The page's script finds cells by ``<tr data-bp="CODE">`` and ``<td data-col="KEY">``.
"""

from __future__ import annotations

import django_tables2 as tables
from django.urls import reverse
from django.utils.html import format_html

from .columns import COLUMNS_BY_KEY, Row

# Columns whose number opens the list of callbacks it counts.
EXPLAINED = {"proc", "to_be_processed", "purged", "pct_reached", "pct_failed"}
# Threshold flags of Row (and of the pushed row's "over") by the column they mark.
THRESHOLDS = {"to_be_processed": "over_to_be_processed_threshold", "pct_failed": "over_failed_threshold"}
ROW_CLASSES = {"over_to_be_processed_threshold": "over-to-be-processed", "over_failed_threshold": "over-failed"}


def status_class(label: str) -> str:
    """The badge class of a CLBK Stat label ("Off Schedule HRS" → status-off-schedule-hrs), as the script makes it."""
    return "status-" + "-".join(label.lower().split())


class LiveColumn(tables.Column):
    """One of the seed's columns: its label from monitoring.columns, its text from ``Row.cells()``."""

    def __init__(self, key: str, *, order_by: str | None = None, numeric: bool = True, **kwargs):
        self.key = key
        threshold = THRESHOLDS.get(key)

        def td_class(record: Row | None = None) -> str:
            over = threshold is not None and record is not None and getattr(record, threshold)
            return " ".join(filter(None, ["num" if numeric else "", "over" if over else ""])) or None

        aligned = {"class": "num"} if numeric else {}
        super().__init__(
            verbose_name=COLUMNS_BY_KEY[key].label,
            accessor=tables.A(order_by or key),
            order_by=order_by or key,
            empty_values=(),
            attrs={"th": aligned, "td": {"data-col": key, "class": td_class}, "tf": {"data-col": key, **aligned}},
            **kwargs,
        )

    def render(self, record: Row) -> str:
        return self.render_cell(record, record.cells()[self.key])

    def render_footer(self, table: MonitorTable) -> str:
        return self.render_cell(table.totals, table.totals.cells()[self.key])

    def render_cell(self, record: Row, text: str) -> str:
        if self.key not in EXPLAINED:
            return text
        if record.code:
            url = reverse("explain-column", args=[record.code, self.key])
        else:
            url = reverse("explain-totals", args=[self.key])
        return format_html('<a class="explain" href="{}">{}</a>', url, text)


class StatusColumn(LiveColumn):
    """CLBK Stat as a coloured badge."""

    def __init__(self):
        super().__init__("status", numeric=False)

    def render_cell(self, record: Row, text: str) -> str:
        if not record.code:
            return ""
        return format_html('<span class="badge {}">{}</span>', status_class(text), text)


class BusinessProcessColumn(tables.Column):
    """Name and code, linking to the business process's page, with the keyboard-reachable row menu button."""

    def __init__(self):
        super().__init__(
            verbose_name="Business process",
            accessor=tables.A("name"),
            order_by=("name", "code"),
            empty_values=(),
            footer="Total",
            attrs={"td": {"class": "bp"}, "tf": {"class": "bp"}},
        )

    def render(self, record: Row) -> str:
        return format_html(
            '<div class="bp-cell"><a class="bp-link" href="{}"><span class="bp-name">{}</span>'
            ' <span class="bp-code">{}</span></a><button type="button" class="row-menu-button" aria-haspopup="menu"'
            ' aria-expanded="false" aria-label="Actions for {}" title="Actions">⋮</button></div>',
            reverse("business-process", args=[record.code]),
            record.name,
            record.code,
            record.name,
        )


def row_class(record: Row) -> str:
    return " ".join(css for flag, css in ROW_CLASSES.items() if getattr(record, flag))


class MonitorTable(tables.Table):
    """Every active business process with the seed's columns; the totals row is the footer."""

    business_process = BusinessProcessColumn()
    status = StatusColumn()
    proc = LiveColumn("proc")
    to_be_processed = LiveColumn("to_be_processed")
    avg_time = LiveColumn("avg_time", order_by="avg_time_seconds")
    purged = LiveColumn("purged")
    pct_reached = LiveColumn("pct_reached")
    pct_failed = LiveColumn("pct_failed")

    class Meta:
        attrs = {"class": "grid monitor", "id": "monitor-table"}
        row_attrs = {
            "data-bp": lambda record: record.code,
            "data-status": lambda record: record.status,
            "class": row_class,
        }
        empty_text = "No business processes yet."

    def __init__(self, *args, totals: Row, **kwargs):
        self.totals = totals
        super().__init__(*args, **kwargs)
