"""The Callbacks page's table (seed 004 "Callback tab"): every callback, completed ones included."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import django_tables2 as tables
from django.utils import dateformat
from django.utils.html import format_html, format_html_join
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
        clock = "H:i" if self.clock_24h else "g:i A"
        if self.in_utc:
            return dateformat.format(value.astimezone(UTC), f"Y-m-d {clock}")
        return dateformat.format(value.astimezone(time_zone), f"Y-m-d {clock} T")


def is_late(callback: Callback, now: datetime) -> bool:
    """Still Scheduled although its desired time (a 2-minute window) is over."""
    return (
        callback.state == CallbackState.SCHEDULED
        and callback.desired_time is not None
        and now > callback.desired_time + DESIRED_TIME_WINDOW
    )


class TimeColumn(tables.Column):
    """A moment, shown as the table's TimeDisplay says, in the row's business process zone or UTC."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("empty_values", ())
        super().__init__(*args, **kwargs)

    def render(self, value, record, table):
        return table.time_display.format(value, record.business_process.tz)


class CallbackTable(tables.Table):
    """Every callback with its state, attempts and times; a row expands to its attempts and audit trail."""

    select = tables.CheckBoxColumn(
        accessor="pk",
        attrs={
            "th__input": {"class": "cbp-select-page", "aria-label": "Select all on this page"},
            "td__input": {"class": "cbp-select", "aria-label": "Select this callback"},
        },
    )
    expand = tables.Column("", empty_values=(), orderable=False, attrs={"td": {"class": "cbp-expand-cell"}})
    external_id = tables.Column("Callback ID")
    business_process = tables.Column("Business process", accessor="business_process__code")
    phone = tables.Column("Phone", empty_values=())
    customer_name = tables.Column("Customer", default="—")
    state = tables.Column("State", empty_values=(), order_by=("state", "end_state"))
    attempts = tables.Column("Attempts", empty_values=(), attrs={"td": {"class": "num"}})
    desired_time = TimeColumn("Desired time")
    created = TimeColumn("Created")
    last_attempt_at = TimeColumn("Last attempt")
    owner_agent = tables.Column(
        "Owner agent", default="—", order_by=("owner_agent__display_name", "owner_agent__login_id")
    )
    completed_at = TimeColumn("Completed at")
    actions = tables.Column("", empty_values=(), orderable=False, attrs={"td": {"class": "cbp-actions-cell"}})

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
        row_attrs = {
            "data-callback": lambda record: record.external_id,
            "data-id": lambda record: record.pk,
            "data-state": lambda record: record.state,
            "data-bp": lambda record: record.business_process_id,
            "data-bp-code": lambda record: record.business_process.code,
        }
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
        zone = "UTC" if time_display.in_utc else "the business process's time zone"
        for name in ("desired_time", "created", "last_attempt_at", "completed_at"):
            self.columns[name].column.attrs = {"th": {"title": f"In {zone}"}}

    def render_expand(self, record: Callback) -> SafeString:
        return format_html(
            '<button type="button" class="cbp-expand" aria-expanded="false" '
            'title="Show attempts and audit trail" aria-label="Show attempts and audit trail of {}">▸</button>',
            record.external_id,
        )

    def render_phone(self, record: Callback) -> SafeString:
        codes = self.also_waiting.get(record.pk)
        if not codes:
            return format_html("{}", record.phone)
        return format_html(
            '{} <span class="cbp-icon cbp-duplicate" title="Also waiting in {}">{}</span>',
            record.phone,
            ", ".join(codes),
            DUPLICATE_ICON,
        )

    def render_state(self, record: Callback) -> SafeString:
        parts = [
            format_html(
                '<span class="badge end-{}">{}</span>', STATE_COLOURS[record.state], record.get_state_display().upper()
            )
        ]
        if record.end_state:
            parts.append(
                format_html(
                    '<span class="badge end-{}">{}</span>',
                    END_STATE_COLOURS[record.end_state],
                    record.get_end_state_display(),
                )
            )
        elif record.location:
            parts.append(format_html('<span class="cbp-location">{}</span>', record.location))
        if is_late(record, self.now):
            parts.append(
                format_html(
                    '<span class="cbp-icon cbp-late" title="Still Scheduled although its desired time ({}) '
                    'passed more than 2 minutes ago">⚠</span>',
                    self.time_display.format(record.desired_time, record.business_process.tz),
                )
            )
        if record.was_scheduled:
            parts.append(
                format_html(
                    '<span class="cbp-icon cbp-scheduled" title="{}">{}</span>',
                    "Began as a scheduled callback (desired time given)",
                    CALENDAR_ICON,
                )
            )
        return format_html_join(" ", "{}", ((part,) for part in parts))

    def render_attempts(self, record: Callback) -> str:
        return f"{record.attempts} of {record.business_process.attempts_before_failure}"

    def render_actions(self, record: Callback) -> SafeString:
        return format_html(
            '<button type="button" class="row-menu-button cbp-menu-button" aria-haspopup="menu" '
            'aria-expanded="false" aria-label="Actions on {}" title="Actions">⋯</button>',
            record.external_id,
        )
