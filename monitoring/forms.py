"""Forms of the monitoring pages: the Callback Timing editor (settings, weekly schedule, dated exceptions)
and the audit log's filter form.

The bounds live on the model (callbacks/models/business_processes.py): the settings form is a ModelForm, so
the model's validators judge every value; the fields here only read what people type ("1h 30m", "08:00–12:00").
"""

from __future__ import annotations

import itertools
import re
import zoneinfo
from datetime import time, timedelta

from django import forms
from django.core.exceptions import ValidationError

from callbacks.models import BusinessProcess, ScheduleRange
from callbacks.models.business_processes import MAX_SCHEDULE_AHEAD_BOUNDS, RECALL_INTERVAL_BOUNDS
from callbacks.schedule import MIDNIGHT
from callbacks.timing import SETTINGS_FIELDS, format_duration, format_range, parse_duration

TIME_ZONES = sorted(zoneinfo.available_timezones())
_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})$")
_RANGE = re.compile(r"^(\d{1,2}:\d{2})\s*(?:-|–|—|to)\s*(\d{1,2}:\d{2})$")


def parse_clock(text: str, *, end: bool = False) -> time:
    """ "8:00" or "08:00"; "24:00" only as an end (midnight, stored as 00:00 like the model does)."""
    match = _CLOCK.match(text.strip())
    if match:
        hour, minute = int(match.group(1)), int(match.group(2))
        if end and (hour, minute) == (24, 0):
            return MIDNIGHT
        if hour < 24 and minute < 60:
            return time(hour, minute)
    raise ValueError(f"“{text.strip()}” is not a time of day (HH:MM{', or 24:00 as an end' if end else ''}).")


def parse_ranges(text: str, where: str) -> list[tuple[time, time]]:
    """ "08:00–12:00, 13:00–18:00" as ranges; empty or "closed" is none. Reversed or overlapping ranges refused."""
    cleaned = text.strip()
    if cleaned.lower() in ("", "closed"):
        return []
    ranges = []
    for part in re.split(r"[,;]", cleaned):
        match = _RANGE.match(part.strip())
        if not match:
            raise ValidationError(f"{where}: “{part.strip()}” is not a range; write it like 08:00–12:00.")
        try:
            start, end = parse_clock(match.group(1)), parse_clock(match.group(2), end=True)
        except ValueError as error:
            raise ValidationError(f"{where}: {error}") from None
        if end != MIDNIGHT and end <= start:
            raise ValidationError(f"{where}: {format_range(start, end)} ends before it starts.")
        ranges.append((start, end))
    ranges.sort()
    for first, second in itertools.pairwise(ranges):
        if first[1] == MIDNIGHT or second[0] < first[1]:
            raise ValidationError(f"{where}: {format_range(*first)} and {format_range(*second)} overlap.")
    return ranges


class TextListWidget(forms.Widget):
    """Several text inputs of one name (the template draws them, with the list editor's buttons)."""

    def value_from_datadict(self, data, files, name):
        return data.getlist(name) if hasattr(data, "getlist") else data.get(name, [])

    def value_omitted_from_data(self, data, files, name):
        return False


class TextListField(forms.Field):
    """An ordered list of short texts, blanks dropped; ``parse_item`` turns each into its value."""

    widget = TextListWidget
    item_name = "Item"

    def to_python(self, value) -> list[str]:
        return [item.strip() for item in (value or []) if item and item.strip()]

    def validate(self, value) -> None:
        if self.required and not value:
            raise ValidationError(f"Give at least one {self.item_name.lower()}.")

    def clean(self, value):
        items = self.to_python(value)
        self.validate(items)
        errors, parsed = [], []
        for number, item in enumerate(items, 1):
            try:
                parsed.append(self.parse_item(item))
            except ValueError as error:
                errors.append(f"{self.item_name} {number}: {error}")
        if errors:
            raise ValidationError(errors)
        return parsed

    def parse_item(self, item: str):
        return item


class RecallIntervalsField(TextListField):
    item_name = "Recall interval"

    def parse_item(self, item: str) -> int:
        seconds = parse_duration(item)
        low, high = RECALL_INTERVAL_BOUNDS
        if not low <= seconds <= high:
            raise ValueError(f"{item} is more than {format_duration(high)} (7 days).")
        return seconds

    def prepare_value(self, value):
        return [format_duration(s) if isinstance(s, int) else s for s in value or []]


class ShiftStartsField(TextListField):
    item_name = "Shift start"

    def parse_item(self, item: str) -> str:
        return f"{parse_clock(item):%H:%M}"


class DurationTextField(forms.CharField):
    """A duration typed as people type it ("30d", "1h 30m"), within bounds, as a timedelta."""

    def __init__(self, *, bounds: tuple[timedelta, timedelta], **kwargs):
        self.bounds = bounds
        super().__init__(**kwargs)

    def prepare_value(self, value):
        return format_duration(int(value.total_seconds())) if isinstance(value, timedelta) else value

    def clean(self, value) -> timedelta:
        text = super().clean(value)
        try:
            seconds = parse_duration(text)
        except ValueError as error:
            raise ValidationError(str(error)) from None
        low, high = (int(bound.total_seconds()) for bound in self.bounds)
        if not low <= seconds <= high:
            raise ValidationError(f"Must be from {format_duration(low)} to {format_duration(high)}.")
        return timedelta(seconds=seconds)


class TimingSettingsForm(forms.ModelForm):
    """The Callback Timing settings of one business process. Saved by callbacks.timing.change_settings."""

    version = forms.IntegerField(widget=forms.HiddenInput)
    recall_intervals = RecallIntervalsField(
        label="Recall Intervals", help_text="After attempt 1, 2, 3…; the last one repeats. E.g. 90s, 5m, 1h 30m, 2d."
    )
    time_zone = forms.ChoiceField(choices=[(name, name) for name in TIME_ZONES])
    shift_starts = ShiftStartsField(label="Shift starts", help_text="Local times (HH:MM) at which a shift begins.")
    max_schedule_ahead = DurationTextField(
        label="Max schedule-ahead", bounds=MAX_SCHEDULE_AHEAD_BOUNDS, help_text="From 1h to 30d."
    )

    class Meta:
        model = BusinessProcess
        fields = SETTINGS_FIELDS

    def clean_shift_starts(self) -> list[str]:
        starts = self.cleaned_data["shift_starts"]
        if len(set(starts)) != len(starts):
            raise ValidationError("Shift starts must differ from each other.")
        return starts

    def validate_unique(self) -> None:
        """Only settings are edited here: the code's uniqueness is not this form's business."""


class ScheduleForm(forms.Form):
    """The weekly open hours, one text per day ("08:00–12:00, 13:00–18:00"; empty = closed)."""

    version = forms.IntegerField(widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for day, name in ScheduleRange.Weekday.choices:
            self.fields[f"day_{day}"] = forms.CharField(
                label=name, required=False, widget=forms.TextInput(attrs={"placeholder": "closed"})
            )

    @staticmethod
    def initial_for(business_process: BusinessProcess, version: int) -> dict:
        initial = {"version": version}
        for day, _ in ScheduleRange.Weekday.choices:
            ranges = sorted((r.start, r.end) for r in business_process.schedule_ranges.all() if r.weekday == day)
            initial[f"day_{day}"] = ", ".join(format_range(*r) for r in ranges)
        return initial

    def day_fields(self):
        return [self[f"day_{day}"] for day, _ in ScheduleRange.Weekday.choices]

    def clean(self):
        cleaned = super().clean()
        weekly = {}
        for day, name in ScheduleRange.Weekday.choices:
            try:
                weekly[day] = parse_ranges(cleaned.get(f"day_{day}", ""), str(name))
            except ValidationError as error:
                self.add_error(f"day_{day}", error)
        cleaned["weekly"] = weekly
        return cleaned


class ScheduleExceptionForm(forms.Form):
    """One dated exception: no hours = closed all day (a holiday), else special hours that day."""

    date = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    hours = forms.CharField(
        required=False, widget=forms.TextInput(attrs={"placeholder": "closed all day"}), help_text="e.g. 10:00–14:00"
    )
    note = forms.CharField(required=False, max_length=200)

    def clean(self):
        cleaned = super().clean()
        day = cleaned.get("date")
        if day is not None:
            try:
                cleaned["ranges"] = parse_ranges(cleaned.get("hours", ""), f"{day:%a %d %b %Y}")
            except ValidationError as error:
                self.add_error("hours", error)
        return cleaned


class BaseScheduleExceptionFormSet(forms.BaseFormSet):
    def initial_form_count(self) -> int:
        """Posted lines are all optional: a line emptied by the person is dropped like a removed one."""
        return 0 if self.is_bound else super().initial_form_count()

    def add_fields(self, form, index) -> None:
        super().add_fields(form, index)
        form.fields["DELETE"].label = "Remove"
        form.fields["DELETE"].widget.attrs["aria-label"] = "Remove this exception"

    def clean(self):
        if any(self.errors):
            return
        seen = set()
        for form in self.forms:
            if not form.has_changed() or self._should_delete_form(form):
                continue
            day = form.cleaned_data["date"]
            if day in seen:
                raise ValidationError(f"{day:%a %d %b %Y} appears twice: give each date one line.")
            seen.add(day)


ScheduleExceptionFormSet = forms.formset_factory(
    ScheduleExceptionForm, formset=BaseScheduleExceptionFormSet, extra=1, can_delete=True
)
