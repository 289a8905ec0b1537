"""Filters of the Callbacks page (seed 004 "Callback tab"); the page's filter form is this FilterSet's form."""

from __future__ import annotations

import contextlib
import re
import uuid
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import django_filters
import phonenumbers
from django import forms
from django.conf import settings
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from .choices import AgentPhase, CallbackState
from .models import BusinessProcess, Callback
from .phones import InvalidPhoneNumber, normalize_phone

# A partial phone number needs this many digits: fewer would match nearly everything, and the trigram index
# only helps from three characters on.
MIN_PARTIAL_DIGITS = 3

LAST_24_HOURS, LAST_7_DAYS, LAST_14_DAYS, NEXT_7_DAYS, CUSTOM = "24h", "7d", "14d", "next7d", "custom"
RANGE_CHOICES = [
    (LAST_24_HOURS, "Last 24 hours"),
    (LAST_7_DAYS, "Last 7 days"),
    (LAST_14_DAYS, "Last 14 days"),
    (NEXT_7_DAYS, "Next 7 days"),
    (CUSTOM, "Custom range"),
]
PAST_RANGES = {LAST_24_HOURS: timedelta(hours=24), LAST_7_DAYS: timedelta(days=7), LAST_14_DAYS: timedelta(days=14)}
DEFAULT_RANGE = LAST_24_HOURS
RANGE_HELP = (
    "Past ranges and custom dates select callbacks by when they were created; “Next 7 days” selects the "
    "Scheduled callbacks due in the next 7 days (their desired time, or the end of a recall wait), soonest first. "
    "Custom dates are days in each callback's business process time zone (in UTC when you show times in UTC)."
)


def phone_query(text: str) -> Q | None:
    """The callbacks whose phone matches what a person typed, or None when it holds too few digits.

    A number that reads as a whole valid one (in E.164 or in the national format of PHONE_DEFAULT_REGION)
    is matched exactly (btree index); otherwise the digits are matched anywhere in the number (trigram
    index on PostgreSQL), with the national trunk prefix (0 in France, 1 in the US) also tried without it.
    """
    digits = re.sub(r"\D", "", text)
    if len(digits) < MIN_PARTIAL_DIGITS:
        return None
    try:
        return Q(phone=normalize_phone(text))
    except InvalidPhoneNumber:
        pass
    candidates = {digits}
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(settings.PHONE_DEFAULT_REGION)
    trunk = metadata.national_prefix if metadata else None
    if not text.strip().startswith("+") and trunk and digits.startswith(trunk):
        without_trunk = digits[len(trunk) :]
        if len(without_trunk) >= MIN_PARTIAL_DIGITS:
            candidates.add(without_trunk)
    query = Q()
    for candidate in sorted(candidates):
        query |= Q(phone__contains=candidate)
    return query


def open_callbacks() -> QuerySet:
    """The callbacks not COMPLETED, read as "no end state" (the model's check constraint makes them the same):
    the index callback_open_phone (migration 0006) is kept on exactly that condition."""
    return Callback.objects.filter(end_state="")


def open_duplicate_phones() -> QuerySet:
    """Phones with more than one open callback (in several business processes, or twice in one)."""
    return open_callbacks().values("phone").annotate(n=Count("pk")).filter(n__gt=1).values("phone")


class CallbackFilterForm(forms.Form):
    def clean(self):
        cleaned = super().clean()
        first, last = cleaned.get("date_from"), cleaned.get("date_to")
        if first and last and first > last:
            self.add_error("date_to", "The last day comes before the first one.")
        return cleaned


class CallbackFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(
        label="Phone or callback ID",
        method="search",
        widget=forms.TextInput(attrs={"placeholder": "+33 1 42 68 53 00, 42 68 53, cb-1234…", "type": "search"}),
    )
    range = django_filters.ChoiceFilter(
        label="Time range", choices=RANGE_CHOICES, method="filter_range", empty_label=None, help_text=RANGE_HELP
    )
    date_from = django_filters.DateFilter(
        label="From", method="filter_noop", widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = django_filters.DateFilter(
        label="To (included)", method="filter_noop", widget=forms.DateInput(attrs={"type": "date"})
    )
    state = django_filters.MultipleChoiceFilter(
        label="States", choices=CallbackState.choices, widget=forms.CheckboxSelectMultiple, distinct=False
    )
    business_process = django_filters.ModelMultipleChoiceFilter(
        label="Business processes",
        field_name="business_process__code",
        queryset=BusinessProcess.objects.filter(is_active=True).order_by("code"),
        to_field_name="code",
        widget=forms.SelectMultiple(attrs={"size": 4}),
        # One business process per callback: no duplicate rows to remove (DISTINCT would cost a sort).
        distinct=False,
    )
    duplicates = django_filters.BooleanFilter(
        label="Duplicates only",
        method="filter_duplicates",
        widget=forms.CheckboxInput,
        help_text="Open callbacks whose phone also waits in another business process, or twice in the same one.",
    )

    class Meta:
        model = Callback
        fields = ["q", "range", "date_from", "date_to", "state", "business_process", "duplicates"]
        form = CallbackFilterForm

    def __init__(self, data=None, *args, now: datetime | None = None, times_in_utc: bool = False, **kwargs):
        # Without a range the page shows the default one, never every callback.
        data = data.copy() if data is not None else {}
        if not data.get("range"):
            data["range"] = DEFAULT_RANGE
        super().__init__(data, *args, **kwargs)
        self.now = now or timezone.now()
        self.times_in_utc = times_in_utc

    def search(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        """Phone number in any format, the callback's external id, or its UUID."""
        text = value.strip()
        if not text:
            return queryset
        query = Q(external_id=text)
        with contextlib.suppress(ValueError):
            query |= Q(pk=uuid.UUID(text))
        phone = phone_query(text)
        if phone is not None:
            query |= phone
        return queryset.filter(query)

    def filter_noop(self, queryset: QuerySet, name: str, value) -> QuerySet:
        return queryset  # read by filter_range

    def filter_range(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        now = self.now
        if value in PAST_RANGES:
            return queryset.filter(created__gte=now - PAST_RANGES[value], created__lte=now)
        if value == NEXT_7_DAYS:
            until = now + timedelta(days=7)
            # A Pending (SCHEDULED) callback's due_at is the end of its wait: its desired time, or the end of a
            # recall interval. The engine sets due_at on Pending and Dialing callbacks only (the no-answer
            # deadline), so "not Dialing" says "Pending" in a way the planner does not take for rare (as it
            # does state = 'scheduled'): it then reads the due_at index in order and stops after a page
            # (5 ms instead of 70 ms at 1M callbacks).
            return queryset.filter(due_at__gte=now, due_at__lt=until).exclude(agent_phase=AgentPhase.DIALING)
        return self.filter_custom_range(queryset)

    def filter_custom_range(self, queryset: QuerySet) -> QuerySet:
        """Created on the days from `date_from` to `date_to` (both included), each day read in the callback's
        business process time zone — or in UTC. Days are wall-clock days: a DST day lasts 23 or 25 hours."""
        first: date | None = self.form.cleaned_data.get("date_from")
        last: date | None = self.form.cleaned_data.get("date_to")
        if first is None and last is None:
            return queryset
        zones = ["UTC"] if self.times_in_utc else self._time_zones()
        query = Q()
        for zone in zones:
            tz = ZoneInfo(zone)
            bounds = Q()
            if first is not None:
                bounds &= Q(created__gte=datetime.combine(first, datetime.min.time(), tzinfo=tz))
            if last is not None:
                bounds &= Q(created__lt=datetime.combine(last + timedelta(days=1), datetime.min.time(), tzinfo=tz))
            query |= bounds if self.times_in_utc else Q(bounds, business_process__time_zone=zone)
        return queryset.filter(query)

    def _time_zones(self) -> list[str]:
        return list(BusinessProcess.objects.values_list("time_zone", flat=True).distinct().order_by("time_zone"))

    def filter_duplicates(self, queryset: QuerySet, name: str, value: bool) -> QuerySet:
        if not value:
            return queryset
        return queryset.filter(end_state="", phone__in=open_duplicate_phones())
