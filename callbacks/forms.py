"""Forms of the Callbacks page: display preferences, and creating a callback with a slot picker."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

from django import forms
from django.utils import timezone

from .models import BusinessProcess, UserPreferences
from .phones import InvalidPhoneNumber, normalize_phone
from .schedule import MIDNIGHT, open_ranges_on

SLOT_MINUTES = 15


def available_slots(business_process: BusinessProcess, day: date, now: datetime) -> list[datetime]:
    """The 15-minute slots (UTC instants) of a local day that lie inside the business process's open hours,
    after now and within its schedule-ahead window. Wall-clock times skipped by a DST change are left out;
    a repeated hour is offered once (its first occurrence)."""
    latest = now + business_process.max_schedule_ahead
    tz = business_process.tz
    slots = set()
    for start, end in open_ranges_on(business_process, day):
        minute = -(-(start.hour * 60 + start.minute) // SLOT_MINUTES) * SLOT_MINUTES
        end_minute = 24 * 60 if end == MIDNIGHT else end.hour * 60 + end.minute
        for slot_minute in range(minute, end_minute, SLOT_MINUTES):
            local = datetime.combine(day, time(slot_minute // 60, slot_minute % 60), tzinfo=tz)
            instant = local.astimezone(UTC)
            exists = instant.astimezone(tz).replace(tzinfo=None) == local.replace(tzinfo=None)
            if exists and now < instant <= latest:
                slots.add(instant)
    return sorted(slots)


def bookable_days(business_process: BusinessProcess, now: datetime) -> tuple[date, date]:
    """First and last local day on which a slot may lie (today … end of the schedule-ahead window)."""
    tz = business_process.tz
    return now.astimezone(tz).date(), (now + business_process.max_schedule_ahead).astimezone(tz).date()


class PreferencesForm(forms.ModelForm):
    class Meta:
        model = UserPreferences
        fields = ["times_in_utc", "clock_24h"]


class CreateCallbackForm(forms.Form):
    """Immediate or scheduled; a scheduled one takes a slot of the business process's schedule."""

    IMMEDIATE, SCHEDULED = "immediate", "scheduled"

    business_process = forms.ModelChoiceField(
        queryset=BusinessProcess.objects.filter(is_active=True).order_by("code"), to_field_name="code"
    )
    phone = forms.CharField(
        max_length=40, help_text="Any format: +33 1 42 68 53 00, or a national number of the default region."
    )
    customer_name = forms.CharField(max_length=200, required=False)
    kind = forms.ChoiceField(
        label="Callback type",
        choices=[(IMMEDIATE, "Immediate"), (SCHEDULED, "Scheduled")],
        initial=IMMEDIATE,
        widget=forms.RadioSelect,
    )
    day = forms.DateField(label="Desired date", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    slot = forms.ChoiceField(
        label="Available time slot",
        required=False,
        help_text="Slots of 15 minutes inside the business process's schedule, in its time zone.",
        error_messages={"invalid_choice": "This slot is not available (any more): choose one from the list."},
    )

    def __init__(self, *args, now: datetime | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.now = now or timezone.now()
        self.slots: list[datetime] = []
        # On a re-shown form the slot list of the chosen business process and day is drawn again.
        business_process, day = self.chosen("business_process"), self.chosen("day")
        if business_process is not None and day is not None:
            self.slots = available_slots(business_process, day, self.now)
        self.fields["slot"].choices = [("", "—")] + [(slot.isoformat(), slot.isoformat()) for slot in self.slots]

    def chosen(self, name: str):
        """The cleaned value of one field before the whole form is validated, or None."""
        field = self.fields[name]
        try:
            return field.clean(field.widget.value_from_datadict(self.data, self.files, self.add_prefix(name)))
        except forms.ValidationError:
            return None

    def clean_phone(self) -> str:
        try:
            return normalize_phone(self.cleaned_data["phone"])
        except InvalidPhoneNumber as error:
            raise forms.ValidationError(str(error)) from None

    def clean(self):
        cleaned = super().clean()
        cleaned["desired_time"] = None
        if cleaned.get("kind") != self.SCHEDULED or "business_process" not in cleaned:
            return cleaned
        if cleaned.get("day") is None:
            self.add_error("day", "Choose the day of the scheduled callback.")
        elif not self.slots:
            self.add_error("day", "No slot left that day: the business process is closed or it is out of reach.")
        elif not cleaned.get("slot"):
            self.add_error("slot", "Choose a time slot.")
        else:
            cleaned["desired_time"] = datetime.fromisoformat(cleaned["slot"])
        return cleaned


def slot_label(slot: datetime, business_process: BusinessProcess, clock_24h: bool) -> str:
    local = slot.astimezone(business_process.tz)
    clock = local.strftime("%H:%M") if clock_24h else local.strftime("%I:%M %p").lstrip("0")
    return f"{clock} {local.tzname()}"
