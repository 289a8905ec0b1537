"""The reports' filters. Dates are whole days in a time zone the user chooses (UTC unless told otherwise)."""

from __future__ import annotations

import zoneinfo
from datetime import UTC, date, datetime, time, timedelta
from functools import cache

import django_filters
from django import forms
from django.db.models import Exists, OuterRef, QuerySet
from django.http import QueryDict
from django.utils import timezone

from callbacks.choices import EndState
from callbacks.models import Agent, Attempt, BusinessProcess, Callback

DEFAULT_TIME_ZONE = "UTC"
DEFAULT_DAYS = 7


@cache
def time_zone_choices() -> list[tuple[str, str]]:
    return [(DEFAULT_TIME_ZONE, DEFAULT_TIME_ZONE)] + [
        (name, name) for name in sorted(zoneinfo.available_timezones()) if name != DEFAULT_TIME_ZONE
    ]


def local_midnight(day: date, tz: zoneinfo.ZoneInfo) -> datetime:
    """The instant (in UTC) a local day begins. Built in the zone, not shifted from UTC, so a DST day lasts 23 or
    25 hours; returned in UTC because Python subtracts two times of one zone by their wall clocks."""
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


class DateRangeFilterForm(forms.Form):
    """From / to (whole days, both included) in a chosen time zone; the filterset reads ``range_in_zone()``."""

    date_from = forms.DateField(label="From", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label="To", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    time_zone = forms.ChoiceField(label="Time zone", choices=time_zone_choices, required=False)

    def clean_time_zone(self) -> str:
        return self.cleaned_data.get("time_zone") or DEFAULT_TIME_ZONE

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("date_from"), cleaned.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", "The end date must not be before the start date.")
        return cleaned

    def range_in_zone(self) -> tuple[datetime | None, datetime | None]:
        """[start, end) instants of the chosen days in the chosen zone (None where a side is open)."""
        tz = zoneinfo.ZoneInfo(self.cleaned_data["time_zone"])
        start, end = self.cleaned_data.get("date_from"), self.cleaned_data.get("date_to")
        return (
            local_midnight(start, tz) if start else None,
            local_midnight(end + timedelta(days=1), tz) if end else None,
        )


class DaysForm(forms.Form):
    """Whole days, both included, in a chosen time zone, and not too many of them (the reports counting per
    agent or business process and day). ``limit()`` says how many days and what to say above that (None: the
    limit cannot be told, another field being invalid)."""

    first = forms.DateField(label="From", widget=forms.DateInput(attrs={"type": "date"}))
    last = forms.DateField(label="To", widget=forms.DateInput(attrs={"type": "date"}))
    time_zone = forms.ChoiceField(choices=time_zone_choices)

    def limit(self, cleaned: dict) -> tuple[int, str] | None:
        raise NotImplementedError

    def clean(self):
        cleaned = super().clean()
        first, last, limit = cleaned.get("first"), cleaned.get("last"), self.limit(cleaned)
        if first and last and limit:
            if last < first:
                self.add_error("last", "The last day comes before the first.")
            elif (last - first).days >= limit[0]:
                self.add_error("last", limit[1])
        return cleaned


class CompletedCallbackFilterSet(django_filters.FilterSet):
    """Filters of the Completed Callback Interaction report: completion date range (in a time zone), business
    process(es), end state(s), and an agent who had an attempt on the callback.

    Given none of its filters (a first visit), it shows the last seven days in UTC.
    """

    business_process = django_filters.ModelMultipleChoiceFilter(
        label="Business processes",
        field_name="business_process",
        to_field_name="code",
        queryset=BusinessProcess.objects.order_by("name"),
        method="filter_business_processes",
    )
    end_state = django_filters.MultipleChoiceFilter(
        label="End states", choices=EndState.choices, widget=forms.CheckboxSelectMultiple
    )
    agent = django_filters.ModelChoiceFilter(
        label="Agent",
        to_field_name="login_id",
        queryset=Agent.objects.order_by("display_name", "login_id"),
        method="filter_agent",
    )

    class Meta:
        model = Callback
        fields = ["business_process", "end_state", "agent"]
        form = DateRangeFilterForm

    # The query-string names the filters and the form read; anything else (page, sort) is not a filter.
    PARAMETERS = ("date_from", "date_to", "time_zone", "business_process", "end_state", "agent")

    def __init__(self, data=None, *args, **kwargs):
        if not data or not any(name in data for name in self.PARAMETERS):
            data = self.default_data()
        super().__init__(data, *args, **kwargs)

    @classmethod
    def default_data(cls) -> QueryDict:
        today = timezone.now().astimezone(zoneinfo.ZoneInfo(DEFAULT_TIME_ZONE)).date()
        data = QueryDict(mutable=True)
        data.update(
            {
                "date_from": (today - timedelta(days=DEFAULT_DAYS - 1)).isoformat(),
                "date_to": today.isoformat(),
                "time_zone": DEFAULT_TIME_ZONE,
            }
        )
        return data

    def parameters(self) -> dict[str, list[str]]:
        """The filters as given, to carry into a download form or store with an export job."""
        return {name: self.data.getlist(name) for name in self.PARAMETERS if self.data.getlist(name)}

    @property
    def time_zone(self) -> zoneinfo.ZoneInfo:
        """The zone the report's times are shown in (UTC while the form is invalid)."""
        name = self.form.cleaned_data.get("time_zone") if self.form.is_valid() else None
        return zoneinfo.ZoneInfo(name or DEFAULT_TIME_ZONE)

    def filter_queryset(self, queryset: QuerySet[Callback]) -> QuerySet[Callback]:
        # django-filter's own loop would look for a filter behind every form field, the date range's included.
        for name, value in self.form.cleaned_data.items():
            if name in self.filters:
                queryset = self.filters[name].filter(queryset, value)
        start, end = self.form.range_in_zone()
        if start:
            queryset = queryset.filter(completed_at__gte=start)
        if end:
            queryset = queryset.filter(completed_at__lt=end)
        return queryset

    def filter_business_processes(self, queryset: QuerySet[Callback], name: str, chosen) -> QuerySet[Callback]:
        # By id (codes in the URL): the filter's own lookup would compare the codes with the ids.
        return queryset.filter(business_process__in=[bp.pk for bp in chosen]) if chosen else queryset

    def filter_agent(self, queryset: QuerySet[Callback], name: str, agent: Agent | None) -> QuerySet[Callback]:
        if agent is None:
            return queryset
        return queryset.filter(Exists(Attempt.objects.filter(callback=OuterRef("pk"), agent=agent)))
