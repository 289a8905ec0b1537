"""The Callbacks page's table (seed 004 "Callback tab"): every callback, completed ones included."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html import escape as esc

import django_tables2 as tables
from django.utils.safestring import SafeString, mark_safe

from .choices import END_STATE_COLOURS, CallbackState
from .models import Callback

# The desired time is a window, not an instant (seed 004): a Scheduled callback is late only after it.
DESIRED_TIME_WINDOW = timedelta(minutes=2)

# Badge colours of the states, drawn with the end states' badge classes (static/css/app.css).
STATE_COLOURS = {
    CallbackState.SCHEDULED: "purple",
    CallbackState.QUEUED: "orange",
    CallbackState.ROUTING: "green",
    CallbackState.PROCESSING: "green",
    CallbackState.COMPLETED: "grey",
}

# Drawn inline rather than as emoji, which not every system font has.
CALENDAR_ICON = mark_safe(
    '<svg class="cbp-svg" viewBox="0 0 16 16" aria-hidden="true"><rect x="1.5" y="3" width="13" height="11.5" rx="1.5" '
    'fill="none" stroke="currentColor" stroke-width="1.5"/><path d="M1.5 6.5h13M5 1v4M11 1v4" stroke="currentColor" '
    'stroke-width="1.5"/></svg>'
)
DUPLICATE_ICON = mark_safe(
    '<svg class="cbp-svg" viewBox="0 0 16 16" aria-hidden="true"><rect x="1.5" y="1.5" width="9" height="9" rx="1" '
    'fill="none" stroke="currentColor" stroke-width="1.5"/><rect x="5.5" y="5.5" width="9" height="9" rx="1" '
    'fill="currentColor" fill-opacity=".25" stroke="currentColor" stroke-width="1.5"/></svg>'
)


@dataclass(frozen=True)
class TimeDisplay:
    """How a user wants times shown (their preferences): in UTC or in each business process's zone, 24 h or AM/PM."""

    in_utc: bool = False
    clock_24h: bool = True

    @property
    def zone_note(self) -> str:
        if self.in_utc:
            return "Times in UTC."
        return "Times in each callback's business process time zone (abbreviation shown)."

    def format(self, value: datetime | None, time_zone) -> str:
        if value is None:
            return "—"
        local = value.astimezone(UTC if self.in_utc else time_zone)
        clock = f"{local:%H:%M}" if self.clock_24h else f"{local.hour % 12 or 12}:{local:%M %p}"
        return f"{local:%Y-%m-%d} {clock}" if self.in_utc else f"{local:%Y-%m-%d} {clock} {local.tzname()}"


def is_late(callback: Callback, now: datetime) -> bool:
    """Still Scheduled although its desired time (a 2-minute window) is over."""
    return (
        callback.state == CallbackState.SCHEDULED
        and callback.desired_time is not None
        and now > callback.desired_time + DESIRED_TIME_WINDOW
    )


SELECT_PAGE = mark_safe('<input type="checkbox" class="cbp-select-page" aria-label="Select all on this page">')


class CallbackTable(tables.Table):
    """Every callback with its state, attempts and times; a row expands to its attempts and audit trail.

    The columns are declared here (headers, sorting); the cells are drawn by the ``cell_<column>`` methods
    through ``html_rows`` (template callbacks/_callback_table.html), not by django-tables2's generic cell path:
    that path inspects each render method's signature and renders a template per cell, about 1 ms per row —
    too much for 250–500 rows within 100 ms.
    """

    select = tables.Column(SELECT_PAGE, empty_values=(), orderable=False)
    expand = tables.Column("", empty_values=(), orderable=False)
    external_id = tables.Column("Callback ID")
    business_process = tables.Column("Business process", accessor="business_process__code")
    phone = tables.Column("Phone")
    customer_name = tables.Column("Customer")
    state = tables.Column("State", order_by=("state", "end_state"))
    attempts = tables.Column("Attempts", attrs={"th": {"class": "num"}})
    desired_time = tables.Column("Desired time")
    created = tables.Column("Created")
    last_attempt_at = tables.Column("Last attempt")
    owner_agent = tables.Column("Owner agent", order_by=("owner_agent__display_name", "owner_agent__login_id"))
    completed_at = tables.Column("Completed at")
    actions = tables.Column("", empty_values=(), orderable=False)

    # The td class of the cells that have one.
    CELL_CLASSES = {"attempts": "num", "expand": "cbp-expand-cell", "actions": "cbp-actions-cell"}
    TIME_COLUMNS = ("desired_time", "created", "last_attempt_at", "completed_at")

    class Meta:
        model = Callback
        fields = ()
        sequence = (
            "select",
            "expand",
            "external_id",
            "business_process",
            "phone",
            "customer_name",
            "state",
            "attempts",
            "desired_time",
            "created",
            "last_attempt_at",
            "owner_agent",
            "completed_at",
            "actions",
        )
        order_by = ("-created",)
        attrs = {"class": "grid callbacks cbp-table"}
        template_name = "callbacks/_callback_table.html"
        empty_text = "No callback matches these filters."

    def __init__(
        self,
        *args,
        now: datetime,
        time_display: TimeDisplay,
        may_act: bool,
        also_waiting: dict | None = None,
        **kwargs,
    ):
        if not may_act:
            kwargs["exclude"] = ("select", "actions")
        super().__init__(*args, **kwargs)
        self.now, self.time_display = now, time_display
        # {callback pk: business process codes where the same phone also waits}: see CallbacksView.
        self.also_waiting = also_waiting or {}
        zone = "UTC" if time_display.in_utc else "each business process's time zone"
        for name in self.TIME_COLUMNS:
            self.columns[name].column.attrs = {"th": {"title": f"In {zone}"}}

    def html_rows(self) -> list[SafeString]:
        """The rows of the current page, as HTML. Every ``cell_`` method returns HTML in which it escaped what it
        shows (with the standard library's html.escape: Django's lazy-aware escape costs several times more)."""
        names = [column.name for column in self.columns]
        cells = [
            (getattr(self, f"cell_{name}"), f' class="{self.CELL_CLASSES[name]}"' if name in self.CELL_CLASSES else "")
            for name in names
        ]
        rows = []
        for row in self.page.object_list:
            record = row.record
            tds = "".join([f"<td{td_class}>{cell(record)}</td>" for cell, td_class in cells])
            rows.append(
                mark_safe(
                    f'<tr data-callback="{esc(record.external_id)}" data-state="{esc(record.state)}" '
                    f'data-bp-code="{esc(record.business_process.code)}">{tds}</tr>'
                )
            )
        return rows

    def cell_select(self, record: Callback) -> str:
        return (
            f'<input type="checkbox" name="select" value="{record.pk}" class="cbp-select" '
            f'aria-label="Select {esc(record.external_id)}">'
        )

    def cell_expand(self, record: Callback) -> str:
        return (
            '<button type="button" class="cbp-expand" aria-expanded="false" title="Show attempts and audit trail" '
            f'aria-label="Show attempts and audit trail of {esc(record.external_id)}">▸</button>'
        )

    def cell_external_id(self, record: Callback) -> str:
        return esc(record.external_id)

    def cell_business_process(self, record: Callback) -> str:
        return esc(record.business_process.code)

    def cell_phone(self, record: Callback) -> str:
        codes = self.also_waiting.get(record.pk)
        if not codes:
            return esc(record.phone)
        return (
            f'{esc(record.phone)} <span class="cbp-icon cbp-duplicate" title="Also waiting in '
            f'{esc(", ".join(codes))}">{DUPLICATE_ICON}</span>'
        )

    def cell_customer_name(self, record: Callback) -> str:
        return esc(record.customer_name) or "—"

    def cell_state(self, record: Callback) -> str:
        parts = [
            f'<span class="badge end-{STATE_COLOURS[record.state]}">{esc(record.get_state_display().upper())}</span>'
        ]
        if record.end_state:
            parts.append(
                f'<span class="badge end-{END_STATE_COLOURS[record.end_state]}">'
                f"{esc(record.get_end_state_display())}</span>"
            )
        elif record.location:
            parts.append(f'<span class="cbp-location">{esc(record.location)}</span>')
        if is_late(record, self.now):
            desired = esc(self.time_display.format(record.desired_time, record.business_process.tz))
            parts.append(
                f'<span class="cbp-icon cbp-late" title="Still Scheduled although its desired time ({desired}) '
                'passed more than 2 minutes ago">⚠</span>'
            )
        if record.was_scheduled:
            parts.append(
                '<span class="cbp-icon cbp-scheduled" title="Began as a scheduled callback (desired time given)">'
                f"{CALENDAR_ICON}</span>"
            )
        return " ".join(parts)

    def cell_attempts(self, record: Callback) -> str:
        return f"{record.attempts} of {record.business_process.attempts_before_failure}"

    def _time(self, value: datetime | None, record: Callback) -> str:
        return esc(self.time_display.format(value, record.business_process.tz))

    def cell_desired_time(self, record: Callback) -> str:
        return self._time(record.desired_time, record)

    def cell_created(self, record: Callback) -> str:
        return self._time(record.created, record)

    def cell_last_attempt_at(self, record: Callback) -> str:
        return self._time(record.last_attempt_at, record)

    def cell_completed_at(self, record: Callback) -> str:
        return self._time(record.completed_at, record)

    def cell_owner_agent(self, record: Callback) -> str:
        return esc(str(record.owner_agent)) if record.owner_agent_id else "—"

    def cell_actions(self, record: Callback) -> str:
        return (
            '<button type="button" class="row-menu-button cbp-menu-button" aria-haspopup="menu" aria-expanded="false" '
            f'aria-label="Actions on {esc(record.external_id)}" title="Actions">⋯</button>'
        )
