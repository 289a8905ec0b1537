"""The Callbacks page (seed 004 "Callback tab"): every callback across business processes, its details on
expand, creating a callback, bulk cancel with its summary download, and the user's display preferences.

Single-callback actions (reschedule, cancel, purge, send to queue, recreate) go through the JSON API
(callbacks/api/); this page's script calls it. Every change goes through callbacks.engine.
"""

from __future__ import annotations

import csv
import uuid
from collections import defaultdict
from datetime import datetime
from functools import cached_property
from html import escape as esc
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.mixins import PermissionRequiredMixin
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.views import View
from django.views.generic import FormView, TemplateView
from django_filters.views import FilterView
from django_tables2 import SingleTableMixin

from . import engine
from .choices import CallbackState
from .filtersets import NEXT_7_DAYS, RANGE_HELP, CallbackFilterSet, open_callbacks
from .forms import CreateCallbackForm, PreferencesForm, available_slots, bookable_days, slot_label
from .models import Attempt, AuditEntry, BusinessProcess, Callback, CancellationSummary, UserPreferences
from .tables import CALENDAR_ICON, DUPLICATE_ICON, CallbackTable, TimeDisplay

PAGE_SIZES = (50, 100, 250, 500)
DEFAULT_PAGE_SIZE = 250
# Bulk cancel runs in the request, one transaction per callback: beyond this many it would take too long.
BULK_CANCEL_MAX = 2000
# How many PROCESSING callbacks the bulk-cancel confirmation names one by one.
LISTED_PROCESSING = 50
# Counting every match of a wide filter (14 days of a million callbacks) would cost more than the page itself;
# beyond this many the page says "more than".
COUNT_CAP = 5_000
SUMMARY_SESSION_KEY = "callbacks_cancellation_summary"
CSV_COLUMNS = ["external_id", "business_process", "phone", "customer_name", "previous_state", "cancelled_at", "result"]


def preferences_of(user) -> UserPreferences:
    """The user's display preferences; the defaults (unsaved) until they first save them."""
    return UserPreferences.objects.filter(user=user).first() or UserPreferences(user=user)


def time_display_of(preferences: UserPreferences) -> TimeDisplay:
    return TimeDisplay(in_utc=preferences.times_in_utc, clock_24h=preferences.clock_24h)


def also_waiting(callbacks: list[Callback]) -> dict:
    """{callback pk: codes of the business processes where its phone also waits}, for the open callbacks of a
    page, in one aggregate query over the page's phones (a callback's own business process is named when the
    phone waits twice there)."""
    waiting = [c for c in callbacks if c.state != CallbackState.COMPLETED]
    if not waiting:
        return {}
    counts: dict[str, dict[str, int]] = defaultdict(dict)
    for phone, code, n in (
        open_callbacks()
        .filter(phone__in={c.phone for c in waiting})
        .values_list("phone", "business_process__code")
        .annotate(n=Count("pk"))
        .order_by()
    ):
        counts[phone][code] = n
    marks = {}
    for callback in waiting:
        others = dict(counts[callback.phone])
        others[callback.business_process.code] = others.get(callback.business_process.code, 1) - 1
        codes = sorted(code for code, n in others.items() if n > 0)
        if codes:
            marks[callback.pk] = codes
    return marks


class CappedCountPaginator(Paginator):
    """Counts at most COUNT_CAP + 1 rows (a LIMITed subquery), so that a wide filter costs no full count."""

    @cached_property
    def count(self) -> int:
        return self.object_list.data.data[: COUNT_CAP + 1].count()


class CallbacksPageMixin(PermissionRequiredMixin):
    permission_required = "callbacks.view_callback"

    @cached_property
    def now(self) -> datetime:
        return timezone.now()

    @cached_property
    def preferences(self) -> UserPreferences:
        return preferences_of(self.request.user)

    @property
    def may_act(self) -> bool:
        return self.request.user.has_perm("callbacks.manage_callbacks")


class CallbacksView(CallbacksPageMixin, SingleTableMixin, FilterView):
    """All callbacks, filtered, sorted and paged on the server; a constant number of queries per page."""

    template_name = "callbacks/callback_list.html"
    filterset_class = CallbackFilterSet
    table_class = CallbackTable
    queryset = Callback.objects.select_related("business_process", "owner_agent")

    def get_filterset_kwargs(self, filterset_class):
        kwargs = super().get_filterset_kwargs(filterset_class)
        kwargs.update(now=self.now, times_in_utc=self.preferences.times_in_utc)
        return kwargs

    @cached_property
    def page_size(self) -> int:
        try:
            size = int(self.request.GET.get("per_page", DEFAULT_PAGE_SIZE))
        except ValueError:
            return DEFAULT_PAGE_SIZE
        return size if size in PAGE_SIZES else DEFAULT_PAGE_SIZE

    def get_table_pagination(self, table):
        return {"per_page": self.page_size, "paginator_class": CappedCountPaginator}

    @property
    def soonest_first(self) -> bool:
        """ "Next 7 days" without a chosen sort lists the soonest due first (and reads the due_at index in order)."""
        return self.request.GET.get("range") == NEXT_7_DAYS and not self.request.GET.get("sort")

    def get_table_data(self):
        data = super().get_table_data()
        return data.order_by("due_at", "pk") if self.soonest_first else data

    def get_table_kwargs(self):
        # The page size is the view's (one of PAGE_SIZES); django-tables2 would take any number from the URL.
        kwargs = {
            "now": self.now,
            "time_display": time_display_of(self.preferences),
            "may_act": self.may_act,
            "per_page_field": "table_per_page",
        }
        if self.soonest_first:
            kwargs["order_by"] = ()
        return kwargs

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        table = context["table"]
        table.also_waiting = also_waiting([row.record for row in table.page.object_list])
        chosen = set(self.request.GET.getlist("business_process"))
        context.update(
            # Drawn here: Django's widget renders each of a thousand options through a template (~50 ms).
            business_process_options=mark_safe(
                "".join(
                    f'<option value="{esc(code)}"{" selected" if code in chosen else ""}>{esc(name)} ({esc(code)})'
                    "</option>"
                    for code, name in BusinessProcess.objects.filter(is_active=True)
                    .order_by("code")
                    .values_list("code", "name")
                )
            ),
            may_act=self.may_act,
            preferences_form=PreferencesForm(instance=self.preferences),
            time_display=time_display_of(self.preferences),
            page_sizes=PAGE_SIZES,
            page_size=self.page_size,
            current_query=self.request.GET.urlencode(),
            range_help=RANGE_HELP,
            bulk_cancel_max=BULK_CANCEL_MAX,
            count_cap=COUNT_CAP,
            summary=self.last_summary(),
            calendar_icon=CALENDAR_ICON,
            duplicate_icon=DUPLICATE_ICON,
            api_callback_url=reverse("api-callback-detail", kwargs={"external_id": "__id__"}),
        )
        return context

    def last_summary(self) -> CancellationSummary | None:
        summary_id = self.request.session.get(SUMMARY_SESSION_KEY)
        if not summary_id:
            return None
        summaries = CancellationSummary.objects.filter(pk=summary_id, user=self.request.user)
        return summaries.defer("rows").first()  # the rows (up to BULK_CANCEL_MAX) are for the download only


class CallbackDetailsView(CallbacksPageMixin, TemplateView):
    """A row's expansion: its attempts and its audit trail, as an HTML fragment (three queries)."""

    template_name = "callbacks/_details.html"

    def get_context_data(self, **kwargs):
        callback = get_object_or_404(
            Callback.objects.select_related("business_process"), external_id=self.kwargs["external_id"]
        )
        display = time_display_of(self.preferences)
        tz = callback.business_process.tz
        attempts = [
            {
                "number": a.number,
                "agent": str(a.agent) if a.agent else "—",
                "times": [display.format(t, tz) for t in (a.offered_at, a.accepted_at, a.connected_at)]
                + [display.format(a.completed_at, tz), display.format(a.acw_ended_at, tz)],
                "status": a.get_completion_status_display() or "in progress",
                "by_timer": a.completed_by_timer,
                "handle_time": format_duration(a.handle_time),
            }
            for a in Attempt.objects.filter(callback=callback).select_related("agent").order_by("number")
        ]
        audit = [
            {
                "at": display.format(entry.at, tz),
                "actor": entry.actor,
                "action": entry.get_action_display(),
                "changes": [(field, before, after) for field, (before, after) in sorted(entry.changes.items())],
                "note": entry.note,
            }
            for entry in AuditEntry.objects.filter(callback=callback).order_by("at", "id")
        ]
        return super().get_context_data(callback=callback, attempts=attempts, audit=audit, **kwargs)


def format_duration(delta) -> str:
    if delta is None:
        return "—"
    minutes, seconds = divmod(int(delta.total_seconds()), 60)
    return f"{minutes} min {seconds:02d} s" if minutes else f"{seconds} s"


class PreferencesView(CallbacksPageMixin, View):
    """Saves "times in UTC" and "24-hour clock" for this user (the row is created on first save)."""

    def post(self, request: HttpRequest) -> HttpResponse:
        form = PreferencesForm(request.POST, instance=self.preferences)
        if form.is_valid():
            form.save()
            messages.success(request, "Display preferences saved.")
        return redirect(safe_next(request, reverse("callbacks")))


def safe_next(request: HttpRequest, default: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return target
    return default


class ManageCallbacksMixin(CallbacksPageMixin):
    """Supervisors and administrators; managers get 403 (they see, they do not act)."""

    permission_required = "callbacks.manage_callbacks"


class CreateCallbackView(ManageCallbacksMixin, FormView):
    """Create an immediate or a scheduled callback through the engine, as the logged-in user."""

    template_name = "callbacks/callback_create.html"
    form_class = CreateCallbackForm

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "now": self.now}

    def form_valid(self, form: CreateCallbackForm) -> HttpResponse:
        data = form.cleaned_data
        external_id = f"ui-{uuid.uuid4().hex[:12]}"
        try:
            callback = engine.request_callback(
                external_id=external_id,
                business_process=data["business_process"],
                phone=data["phone"],
                customer_name=data["customer_name"],
                desired_time=data["desired_time"],
                at=timezone.now(),
                actor=engine.Actor.for_user(self.request.user),
            )
        except ValidationError as error:
            for messages_ in error.message_dict.values():
                for message in messages_:
                    form.add_error("slot" if data["desired_time"] else None, message)
            return self.form_invalid(form)
        except engine.TransitionRefused as refusal:
            form.add_error(None, str(refusal))
            return self.form_invalid(form)
        messages.success(self.request, f"Callback {callback.external_id} created ({callback.get_state_display()}).")
        return redirect(f"{reverse('callbacks')}?{urlencode({'q': callback.external_id})}")

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        form = context["form"]
        context["business_processes"] = {
            bp.code: bookable_days(bp, self.now) for bp in form.fields["business_process"].queryset
        }
        business_process = form.chosen("business_process")
        context["slot_choices"] = [
            (slot.isoformat(), slot_label(slot, business_process, self.preferences.clock_24h)) for slot in form.slots
        ]
        return context


class SlotsView(ManageCallbacksMixin, TemplateView):
    """The `<option>`s of the slot picker for one business process and local day (create and reschedule)."""

    template_name = "callbacks/_slots.html"

    def get_context_data(self, **kwargs):
        business_process = BusinessProcess.objects.filter(
            code=self.request.GET.get("business_process", ""), is_active=True
        ).first()
        day, slots, reason = None, [], ""
        try:
            day = datetime.strptime(self.request.GET.get("day", ""), "%Y-%m-%d").date()
        except ValueError:
            reason = "Choose a day first."
        if business_process is None:
            reason = "Choose a business process first."
        elif day is not None:
            first, last = bookable_days(business_process, self.now)
            if not first <= day <= last:
                reason = f"Out of reach: {business_process.code} takes dates from {first} to {last}."
            else:
                slots = [
                    (slot.isoformat(), slot_label(slot, business_process, self.preferences.clock_24h))
                    for slot in available_slots(business_process, day, self.now)
                ]
                reason = "" if slots else f"No open slot left on {day} ({business_process.code} is closed)."
        return super().get_context_data(slots=slots, reason=reason, **kwargs)


def bulk_cancel_targets(request: HttpRequest, now: datetime, times_in_utc: bool) -> tuple[QuerySet, str]:
    """The callbacks a bulk cancel is about: the ticked rows, or every open one the page's filters select."""
    if request.POST.get("selection") == "all":
        filterset = CallbackFilterSet(QueryDict(request.POST.get("filters", "")), now=now, times_in_utc=times_in_utc)
        if not filterset.is_valid():
            return Callback.objects.none(), "The filters are not valid."
        return filterset.qs.exclude(state=CallbackState.COMPLETED), ""
    ids = request.POST.getlist("id")
    try:
        ids = [str(uuid.UUID(value)) for value in ids]
    except ValueError:
        return Callback.objects.none(), "The selection is not valid."
    if not ids:
        return Callback.objects.none(), "Select at least one callback."
    return Callback.objects.filter(pk__in=ids), ""


class BulkCancelPreviewView(ManageCallbacksMixin, View):
    """What a bulk cancel would do: how many callbacks, and which are PROCESSING and therefore excluded."""

    def post(self, request: HttpRequest) -> JsonResponse:
        targets, error = bulk_cancel_targets(request, self.now, self.preferences.times_in_utc)
        if error:
            return JsonResponse({"detail": error}, status=400)
        by_state = dict(targets.order_by().values_list("state").annotate(n=Count("pk")))
        total = sum(by_state.values())
        processing = list(
            targets.filter(state=CallbackState.PROCESSING)
            .order_by("created")
            .values_list("external_id", flat=True)[:LISTED_PROCESSING]
        )
        completed = by_state.get(CallbackState.COMPLETED, 0)
        answer = {
            "count": total,
            "cancellable": total - by_state.get(CallbackState.PROCESSING, 0) - completed,
            "processing_count": by_state.get(CallbackState.PROCESSING, 0),
            "processing": processing,
            "completed_count": completed,
            "max": BULK_CANCEL_MAX,
        }
        if total > BULK_CANCEL_MAX:
            answer["detail"] = (
                f"{total} callbacks are selected; a bulk cancel takes at most {BULK_CANCEL_MAX}. "
                "Narrow the time range or the filters."
            )
        return JsonResponse(answer)


class BulkCancelView(ManageCallbacksMixin, View):
    """Cancel the selected callbacks (each in its own transaction), then offer the cancellation summary."""

    def post(self, request: HttpRequest) -> HttpResponse:
        back = safe_next(request, reverse("callbacks"))
        targets, error = bulk_cancel_targets(request, self.now, self.preferences.times_in_utc)
        if error:
            messages.error(request, error)
            return HttpResponseRedirect(back)
        ids = list(targets.values_list("pk", flat=True)[: BULK_CANCEL_MAX + 1])
        if len(ids) > BULK_CANCEL_MAX:
            messages.error(
                request,
                f"More than {BULK_CANCEL_MAX} callbacks are selected: nothing was cancelled. "
                "Narrow the time range or the filters.",
            )
            return HttpResponseRedirect(back)
        reason = request.POST.get("reason", "").strip()[:500]
        outcomes = engine.cancel_many(ids, timezone.now(), engine.Actor.for_user(request.user), reason)
        summary = CancellationSummary.objects.create(user=request.user, rows=[summary_row(o) for o in outcomes])
        request.session[SUMMARY_SESSION_KEY] = str(summary.pk)
        cancelled = sum(o.cancelled for o in outcomes)
        messages.success(
            request,
            f"{cancelled} callback{'s' if cancelled != 1 else ''} cancelled, {len(outcomes) - cancelled} skipped. "
            "The cancellation summary can be downloaded below.",
        )
        return HttpResponseRedirect(back)


def summary_row(outcome: engine.CancelOutcome) -> dict:
    callback = outcome.callback
    return {
        "external_id": callback.external_id,
        "business_process": callback.business_process.code,
        "phone": callback.phone,
        "customer_name": spreadsheet_safe(callback.customer_name),
        "previous_state": CallbackState(outcome.previous_state).label,
        "cancelled_at": callback.completed_at.isoformat() if outcome.cancelled else "",
        "result": "cancelled" if outcome.cancelled else f"skipped: {outcome.reason}",
    }


def spreadsheet_safe(text: str) -> str:
    """A name a spreadsheet would read as a formula (=, +, -, @) is written with a leading apostrophe."""
    return f"'{text}" if text[:1] in ("=", "+", "-", "@") else text


class CancellationSummaryView(ManageCallbacksMixin, View):
    """The cancellation summary (CSV) of one bulk cancel, for the user who ran it only."""

    def get(self, request: HttpRequest, pk) -> HttpResponse:
        summary = get_object_or_404(CancellationSummary, pk=pk, user=request.user)
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        filename = f"cancellation-summary-{summary.created:%Y%m%d-%H%M%S}.csv"
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        writer = csv.DictWriter(response, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        writer.writerows(summary.rows)
        return response
