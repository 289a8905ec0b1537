"""The Callback Timing tab: the settings and the schedule (read only for supervisors and managers, edited by
administrators), the preview of the next opening or closing, and the history of changes."""

from __future__ import annotations

import copy
from itertools import groupby

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.views.generic import TemplateView

from callbacks import timing
from callbacks.engine import Actor
from callbacks.models import AuditEntry, BusinessProcess, ScheduleRange
from callbacks.schedule import MIDNIGHT

from ..forms import ScheduleExceptionFormSet, ScheduleForm, TimingSettingsForm
from ..tables_audit import describe_change, field_label
from .business_processes import BusinessProcessPageMixin, _bar, format_range, format_recall_intervals, format_span

EDIT_PERMISSION = "callbacks.change_callback_timing"
HISTORY_PER_PAGE = 10


def stale_message(stale: timing.StaleChange) -> str:
    """The refusal, what the other person changed, and what saving again would do."""
    changed = ""
    if stale.entry is not None:
        changed = (
            " Their change: "
            + "; ".join(
                f"{field_label(field)} {describe_change(field, before)} → {describe_change(field, after)}"
                for field, (before, after) in stale.entry.changes.items()
            )
            + "."
        )
    return f"{stale}{changed} Save again to replace them with yours."


class BusinessProcessTimingView(BusinessProcessPageMixin, TemplateView):
    """Callback Timing: the settings and the schedule; administrators get the editor."""

    tab = "business-process-timing"
    template_name = "monitoring/business_process_timing.html"
    prefetch = ("schedule_ranges", "schedule_exceptions")

    def can_edit(self) -> bool:
        return self.request.user.has_perm(EDIT_PERMISSION)

    def get_context_data(self, **kwargs):
        bp = self.business_process
        context = {
            "settings": self.settings_rows(bp),
            "hours": range(0, 25, 6),
            "preview": timing.schedule_preview(bp, self.now),
            "history": self.history(),
            "can_edit": self.can_edit(),
            **self.schedule_rows(bp),
        }
        if context["can_edit"]:
            version = timing.timing_version(bp.pk)
            kwargs.setdefault("settings_form", TimingSettingsForm(instance=copy.copy(bp), initial={"version": version}))
            kwargs.setdefault("schedule_form", ScheduleForm(initial=ScheduleForm.initial_for(bp, version)))
            kwargs.setdefault("exception_formset", ScheduleExceptionFormSet(initial=self.exception_initial(bp)))
        return super().get_context_data(**context, **kwargs)

    @staticmethod
    def settings_rows(bp: BusinessProcess) -> list[tuple[str, str, str]]:
        return [
            ("Duration For No Answer", f"{bp.no_answer_seconds} s", "Dialing time allowed before No Answer is set."),
            ("Attempts Before Failure", str(bp.attempts_before_failure), "After this many attempts: Failed."),
            (
                "Recall Intervals",
                format_recall_intervals(bp.recall_intervals),
                "Wait before returning to queue after attempt 1, 2, 3…",
            ),
            ("Time zone", bp.time_zone, "Schedule, shifts and days are read in this zone."),
            ("Shift starts", ", ".join(bp.shift_starts), "Local times at which a shift begins."),
            ("Max schedule-ahead", format_span(bp.max_schedule_ahead.total_seconds()), "Furthest desired time."),
            (
                "Clbk To Be Proc threshold",
                f"{bp.to_be_processed_threshold} callbacks",
                "The monitor marks the business process above this.",
            ),
            (
                "% Clbk Fail threshold",
                f"{bp.failed_pct_threshold} %",
                "The monitor marks the business process above this.",
            ),
        ]

    def schedule_rows(self, bp: BusinessProcess) -> dict:
        today = self.now.astimezone(bp.tz).date()
        ranges = sorted(bp.schedule_ranges.all(), key=lambda r: (r.weekday, r.start))
        by_day = {day: list(group) for day, group in groupby(ranges, key=lambda r: r.weekday)}
        week = [
            {
                "name": name,
                "today": day == today.weekday(),
                "ranges": [_bar(r.start, r.end) for r in by_day.get(day, [])],
            }
            for day, name in ScheduleRange.Weekday.choices
        ]
        upcoming = sorted(
            (e for e in bp.schedule_exceptions.all() if e.date >= today), key=lambda e: (e.date, e.start or MIDNIGHT)
        )
        exceptions = [
            {
                "date": day,
                "closed": any(e.is_closed_all_day for e in group),
                "ranges": [format_range(e.start, e.end) for e in group if not e.is_closed_all_day],
                "note": timing.join_notes(group),
            }
            for day, group in ((d, list(g)) for d, g in groupby(upcoming, key=lambda e: e.date))
        ]
        return {"week": week, "exceptions": exceptions}

    @staticmethod
    def exception_initial(bp: BusinessProcess) -> list[dict]:
        """Every stored exception (past ones too: saving the editor replaces them all), one line per date."""
        exceptions = sorted(bp.schedule_exceptions.all(), key=lambda e: (e.date, e.start or MIDNIGHT))
        return [
            {
                "date": day,
                "hours": ", ".join(format_range(e.start, e.end) for e in group if not e.is_closed_all_day),
                "note": timing.join_notes(group),
            }
            for day, group in ((d, list(g)) for d, g in groupby(exceptions, key=lambda e: e.date))
        ]

    def history(self):
        """The Callback Timing changes of this business process, newest first: two queries per page."""
        entries = AuditEntry.objects.filter(
            business_process=self.business_process, action__in=timing.TIMING_ACTIONS
        ).order_by("-at", "-id")
        page = Paginator(entries, HISTORY_PER_PAGE).get_page(self.request.GET.get("history_page"))
        page.rows = [
            {
                "entry": entry,
                "changes": [
                    (field_label(field), describe_change(field, before), describe_change(field, after))
                    for field, (before, after) in entry.changes.items()
                ],
            }
            for entry in page.object_list
        ]
        return page


class TimingEditMixin:
    """POST only, administrators only (others get 403); a refusal re-shows the tab with the messages."""

    permission_required = ("callbacks.view_monitor", EDIT_PERMISSION)
    http_method_names = ["post"]

    def done(self) -> HttpResponseRedirect:
        return HttpResponseRedirect(reverse("business-process-timing", kwargs={"code": self.business_process.code}))

    def refuse(self, status: int, **forms):
        return self.render_to_response(self.get_context_data(**forms), status=status)


class TimingSettingsView(TimingEditMixin, BusinessProcessTimingView):
    """Save the Callback Timing settings: all or nothing."""

    def post(self, request, *args, **kwargs):
        bp = self.business_process
        form = TimingSettingsForm(request.POST, instance=copy.copy(bp))
        if not form.is_valid():
            return self.refuse(400, settings_form=form)
        values = {field: form.cleaned_data[field] for field in timing.SETTINGS_FIELDS}
        try:
            timing.change_settings(bp.pk, values, Actor.for_user(request.user), form.cleaned_data["version"])
        except timing.StaleChange as stale:
            return self.refuse(409, settings_form=self.stale_form(form, stale))
        except ValidationError as error:  # the form checks the same bounds; kept for a race with another writer
            form.add_error(None, error)
            return self.refuse(400, settings_form=form)
        messages.success(request, "Callback Timing saved. It applies to the next decision about every callback.")
        return self.done()

    def stale_form(self, form: TimingSettingsForm, stale: timing.StaleChange) -> TimingSettingsForm:
        """The person's values kept, the version brought up to date: saving again replaces the other change."""
        data = form.data.copy()
        data["version"] = timing.timing_version(self.business_process.pk)
        fresh = TimingSettingsForm(data, instance=copy.copy(self.business_process))
        fresh.is_valid()
        fresh.add_error(None, stale_message(stale))
        return fresh


class TimingScheduleView(TimingEditMixin, BusinessProcessTimingView):
    """Save the weekly schedule and the dated exceptions: all or nothing."""

    def post(self, request, *args, **kwargs):
        bp = self.business_process
        form = ScheduleForm(request.POST)
        formset = ScheduleExceptionFormSet(request.POST)
        if not (form.is_valid() & formset.is_valid()):
            return self.refuse(400, schedule_form=form, exception_formset=formset)
        exceptions = [
            timing.DatedException(f.cleaned_data["date"], tuple(f.cleaned_data["ranges"]), f.cleaned_data["note"])
            for f in formset.forms
            if f.has_changed() and not formset._should_delete_form(f)
        ]
        try:
            actor, version = Actor.for_user(request.user), form.cleaned_data["version"]
            timing.change_schedule(bp.pk, form.cleaned_data["weekly"], exceptions, actor, version)
        except timing.StaleChange as stale:
            data = form.data.copy()
            data["version"] = timing.timing_version(bp.pk)
            fresh = ScheduleForm(data)
            fresh.is_valid()
            fresh.add_error(None, stale_message(stale))
            return self.refuse(409, schedule_form=fresh, exception_formset=formset)
        messages.success(request, f"Schedule saved. {timing.schedule_preview(self.reloaded(), self.now)}.")
        return self.done()

    def reloaded(self) -> BusinessProcess:
        return BusinessProcess.objects.prefetch_related("schedule_ranges", "schedule_exceptions").get(
            pk=self.business_process.pk
        )
