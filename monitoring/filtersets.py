"""Filtersets of the monitoring pages (django-filter): the audit log's."""

from __future__ import annotations

import django_filters
from django import forms
from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet

from callbacks.choices import AuditAction
from callbacks.models import AuditEntry, BusinessProcess


class AuditEntryFilterSet(django_filters.FilterSet):
    """Who (a user, or any actor label such as "system" or "api:…"), which business process, which actions,
    when (local dates, both ends included), which callback.

    The multi-value filters need no DISTINCT: each is a column of the entry itself, never a join that could
    repeat it (and DISTINCT over the whole log is slow)."""

    q = django_filters.CharFilter(method="search", label="Search")
    user = django_filters.ModelMultipleChoiceFilter(
        queryset=get_user_model().objects.order_by("username"), label="User", distinct=False
    )
    actor = django_filters.CharFilter(lookup_expr="icontains", label="Actor contains")
    business_process = django_filters.ModelMultipleChoiceFilter(
        queryset=BusinessProcess.objects.order_by("code"), label="Business process", distinct=False
    )
    action = django_filters.MultipleChoiceFilter(choices=AuditAction.choices, label="Action", distinct=False)
    at = django_filters.DateFromToRangeFilter(
        label="Date (from – to)", widget=django_filters.widgets.DateRangeWidget(attrs={"type": "date"})
    )
    callback_ref = django_filters.CharFilter(lookup_expr="iexact", label="Callback")

    class Meta:
        model = AuditEntry
        fields = ["q", "user", "actor", "business_process", "action", "at", "callback_ref"]

    def search(self, queryset: QuerySet[AuditEntry], name: str, value: str) -> QuerySet[AuditEntry]:
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(
            Q(actor__icontains=value)
            | Q(callback_ref__icontains=value)
            | Q(note__icontains=value)
            | Q(business_process__code__icontains=value)
        )

    @property
    def form(self) -> forms.Form:
        form = super().form
        for name in ("user", "business_process", "action"):
            form.fields[name].widget.attrs["size"] = 5
        return form
