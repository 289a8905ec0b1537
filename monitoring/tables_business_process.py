"""Tables of the business process pages: the callbacks to be processed (Callback Search) and the callbacks
behind a monitor number (explain pages). Times are shown in each business process's own time zone."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import django_tables2 as tables
from django.utils import dateformat
from django.utils.html import format_html

from callbacks.choices import END_STATE_COLOURS, AgentPhase, CallbackState, Location
from callbacks.models import BusinessProcess, Callback

LOCAL_TIME = "j M H:i"


def local_time(value: datetime | None, tz: ZoneInfo, fmt: str = LOCAL_TIME) -> str:
    return dateformat.format(value.astimezone(tz), fmt) if value else "—"


def format_wait(delta: timedelta) -> str:
    """A waiting time at the precision a supervisor reads: 45 s, 12 min, 2 h 05 min, 3 d 4 h."""
    seconds = max(int(delta.total_seconds()), 0)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes:02d} min"
    return f"{minutes} min" if minutes else f"{secs} s"


def callback_state(callback: Callback) -> str:
    """Scheduled or Queued; with an agent, the agent-side phase the seed names: Offered, Dialing, Handling."""
    if callback.location == Location.AGENT and callback.agent_phase:
        return AgentPhase(callback.agent_phase).label
    return CallbackState(callback.state).label


class ToBeProcessedTable(tables.Table):
    """The callbacks still to be processed in one business process, newest entrance first (Callback Search)."""

    external_id = tables.Column("Callback")
    phone = tables.Column("Phone")
    customer_name = tables.Column("Customer", default="—")
    location = tables.Column("Interaction location", accessor="location", order_by=("state",))
    state = tables.Column("State", empty_values=(), order_by=("state", "agent_phase"))
    attempts = tables.Column("Attempts", attrs={"td": {"class": "num"}})
    desired_time = tables.Column("Desired time", empty_values=())
    next_return = tables.Column("Next return to queue", accessor="due_at", empty_values=())
    owner_agent = tables.Column("Owner agent", order_by=("owner_agent__display_name", "owner_agent__login_id"))
    current_agent = tables.Column("Current agent", order_by=("current_agent__display_name", "current_agent__login_id"))
    created = tables.Column("Entrance time")
    waiting = tables.Column("Time waiting", accessor="created", order_by=("-created",), attrs={"td": {"class": "num"}})

    class Meta:
        model = Callback
        fields = ()
        sequence = (
            "external_id",
            "phone",
            "customer_name",
            "location",
            "state",
            "attempts",
            "desired_time",
            "next_return",
            "owner_agent",
            "current_agent",
            "created",
            "waiting",
        )
        attrs = {"class": "grid callbacks"}
        row_attrs = {"data-callback": lambda record: record.external_id}
        empty_text = "No callback waits in this business process."

    def __init__(self, *args, business_process: BusinessProcess, now: datetime, **kwargs):
        super().__init__(*args, **kwargs)
        self.business_process, self.now, self.tz = business_process, now, business_process.tz

    def render_state(self, record: Callback) -> str:
        return callback_state(record)

    def render_attempts(self, value: int) -> str:
        return f"{value} of {self.business_process.attempts_before_failure}"

    def render_desired_time(self, value: datetime | None) -> str:
        return local_time(value, self.tz) if value else "As soon as possible"

    def render_next_return(self, record: Callback) -> str:
        # due_at is the end of a Pending wait; while Dialing it is the no-answer deadline, not a return to queue.
        return local_time(record.due_at, self.tz) if record.state == CallbackState.SCHEDULED else "—"

    def render_created(self, value: datetime) -> str:
        return local_time(value, self.tz)

    def render_waiting(self, value: datetime) -> str:
        return format_wait(self.now - value)


class ExplainTable(tables.Table):
    """The callbacks a monitor number counts; on a percentage, the ones in its numerator are marked."""

    external_id = tables.Column("Callback")
    business_process = tables.Column(
        "Business process",
        accessor="business_process__code",
        linkify=("business-process", {"code": tables.A("business_process__code")}),
    )
    phone = tables.Column("Phone")
    customer_name = tables.Column("Customer", default="—")
    outcome = tables.Column("End state / location", empty_values=(), order_by=("end_state", "state"))
    completed_at = tables.Column("Completed at", empty_values=())
    attempts = tables.Column("Attempts", attrs={"td": {"class": "num"}})

    class Meta:
        model = Callback
        fields = ()
        sequence = ("external_id", "business_process", "phone", "customer_name", "outcome", "completed_at", "attempts")
        attrs = {"class": "grid callbacks"}
        row_attrs = {
            "data-callback": lambda record: record.external_id,
            "class": lambda record: "counted" if getattr(record, "counted", False) else "",
        }
        empty_text = "No callback is counted."

    def render_outcome(self, record: Callback) -> str:
        if record.end_state:
            return format_html(
                '<span class="badge end-{}">{}</span>',
                END_STATE_COLOURS[record.end_state],
                record.get_end_state_display(),
            )
        return f"{record.location} · {callback_state(record)}"

    def render_completed_at(self, record: Callback) -> str:
        # Each business process's own time zone, named by its abbreviation (CET, EST…): rows may mix zones.
        return local_time(record.completed_at, record.business_process.tz, LOCAL_TIME + " T")

    def render_attempts(self, record: Callback) -> str:
        return f"{record.attempts} of {record.business_process.attempts_before_failure}"
