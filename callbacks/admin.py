from django.contrib import admin

from .models import (
    Agent,
    ApiToken,
    Attempt,
    AuditEntry,
    BusinessProcess,
    Callback,
    IngestedEvent,
    ScheduleException,
    ScheduleRange,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    """History is written by the lifecycle engine (which audits it), never edited by hand."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class ScheduleRangeInline(ReadOnlyInline):
    model = ScheduleRange


class ScheduleExceptionInline(ReadOnlyInline):
    model = ScheduleException


@admin.register(BusinessProcess)
class BusinessProcessAdmin(ReadOnlyAdmin):
    """Read only here: business processes, their Callback Timing and schedules change through the product's
    pages (Business processes, Callback Timing tab), which validate, audit and announce every change."""

    list_display = [
        "code",
        "name",
        "time_zone",
        "attempts_before_failure",
        "no_answer_seconds",
        "is_stopped",
        "is_active",
    ]
    list_filter = ["is_stopped", "is_active", "time_zone"]
    search_fields = ["code", "name"]
    inlines = [ScheduleRangeInline, ScheduleExceptionInline]


class AttemptInline(admin.TabularInline):
    model = Attempt
    extra = 0
    can_delete = False
    readonly_fields = [f.name for f in Attempt._meta.fields]


@admin.register(Callback)
class CallbackAdmin(ReadOnlyAdmin):
    list_display = ["external_id", "business_process", "phone", "state", "end_state", "attempts", "created"]
    list_filter = ["state", "end_state", "business_process"]
    search_fields = ["external_id", "phone", "customer_name"]
    list_select_related = ["business_process"]
    date_hierarchy = "created"
    inlines = [AttemptInline]


@admin.register(Agent)
class AgentAdmin(admin.ModelAdmin):
    list_display = ["login_id", "display_name"]
    search_fields = ["login_id", "display_name"]


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    list_display = ["at", "actor", "action", "business_process", "callback_ref"]
    list_filter = ["action"]
    search_fields = ["actor", "callback_ref"]
    readonly_fields = [f.name for f in AuditEntry._meta.fields]


@admin.register(IngestedEvent)
class IngestedEventAdmin(ReadOnlyAdmin):
    list_display = ["event_id", "type", "callback_ref", "received_at"]
    search_fields = ["event_id", "callback_ref"]
    readonly_fields = [f.name for f in IngestedEvent._meta.fields]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["name", "prefix", "created", "last_used_at", "revoked_at"]
    readonly_fields = ["prefix", "created", "last_used_at", "revoked_at"]

    def has_add_permission(self, request):
        return False  # keys are issued by `manage.py create_api_token`, which shows the key once
