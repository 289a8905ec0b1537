"""The ingest API's contract: one serializer per event type, and the callback as the API shows it."""

from datetime import timedelta

from django.utils import timezone
from django.utils.dateparse import parse_datetime
from rest_framework import serializers

from ..choices import AnsweredBy, CompletionStatus, EndState
from ..models import Attempt, BusinessProcess, Callback
from ..phones import InvalidPhoneNumber, normalize_phone

MAX_CLOCK_SKEW = timedelta(minutes=5)


class OffsetDateTimeField(serializers.DateTimeField):
    """An ISO 8601 date-time that must carry its UTC offset (a bare local time is ambiguous)."""

    def to_internal_value(self, value):
        if isinstance(value, str):
            try:
                parsed = parse_datetime(value.strip())
            except ValueError:  # well formed but out of range, e.g. month 13: the parent says "invalid"
                parsed = None
            if parsed is not None and parsed.tzinfo is None:
                self.fail("naive")
        return super().to_internal_value(value)

    default_error_messages = {"naive": "Include the UTC offset, e.g. 2026-11-25T14:30:00+01:00."}


class PhoneField(serializers.CharField):
    def to_internal_value(self, data):
        try:
            return normalize_phone(super().to_internal_value(data))
        except InvalidPhoneNumber as error:
            raise serializers.ValidationError(str(error)) from None


class LookupField(serializers.SlugRelatedField):
    """An object named by a text field.

    Text holding NUL, which PostgreSQL cannot even compare, is a field error (as for a CharField) instead of a
    database error. The serializer's context is looked in first (``known[field name]``: slug → object), so that
    the events of an array resolve their references in one query rather than one each."""

    default_error_messages = {"null_characters": "Null characters are not allowed."}

    def to_internal_value(self, data):
        if isinstance(data, str) and "\x00" in data:
            self.fail("null_characters")
        known = self.context.get("known", {}).get(self.field_name)
        if known is not None and isinstance(data, str) and data in known:
            return known[data]
        return super().to_internal_value(data)


class EventSerializer(serializers.Serializer):
    """Fields every event carries."""

    event_id = serializers.CharField(max_length=200, help_text="Unique forever; the same id again is a no-op.")
    type = serializers.CharField()
    occurred_at = OffsetDateTimeField()
    callback = serializers.CharField(max_length=100, help_text="The callback's external id.")

    def validate_occurred_at(self, value):
        if value > timezone.now() + MAX_CLOCK_SKEW:
            raise serializers.ValidationError("Lies more than 5 minutes in the future.")
        return value


class ExistingCallbackEventSerializer(EventSerializer):
    """An event about a callback that must already exist (validated to its primary key)."""

    callback = LookupField(
        slug_field="external_id",
        queryset=Callback.objects.only("pk", "external_id"),
        help_text="The callback's external id.",
        error_messages={"does_not_exist": "No callback with id “{value}”."},
    )


class AgentEventSerializer(ExistingCallbackEventSerializer):
    agent = serializers.CharField(max_length=100, help_text="Agent login id; unknown agents are created.")


class CallbackRequestedSerializer(EventSerializer):
    business_process = LookupField(
        slug_field="code",
        queryset=BusinessProcess.objects.filter(is_active=True),
        error_messages={"does_not_exist": "No business process with code “{value}”."},
    )
    phone = PhoneField(max_length=40)
    customer_name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    desired_time = OffsetDateTimeField(required=False, allow_null=True, default=None)
    owner_agent = serializers.CharField(max_length=100, required=False, allow_null=True, default=None)


class AttemptOfferedSerializer(AgentEventSerializer):
    pass


class AttemptAcceptedSerializer(AgentEventSerializer):
    pass


class AttemptConnectedSerializer(AgentEventSerializer):
    answered_by = serializers.ChoiceField(choices=AnsweredBy.choices)


class AttemptCompletedSerializer(AgentEventSerializer):
    status = serializers.ChoiceField(
        choices=[c for c in CompletionStatus.choices if c[0] in CompletionStatus.agent_statuses()]
    )
    reschedule_time = OffsetDateTimeField(required=False, allow_null=True, default=None)
    reschedule_agent = serializers.CharField(max_length=100, required=False, allow_null=True, default=None)

    def validate(self, attrs):
        if attrs["status"] == CompletionStatus.CALLBACK_REQUESTED and attrs["reschedule_time"] is None:
            raise serializers.ValidationError({"reschedule_time": "Required when status is callback_requested."})
        return attrs


class WrapupCompletedSerializer(AgentEventSerializer):
    pass


class CallbackCancelledSerializer(ExistingCallbackEventSerializer):
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


EVENT_SERIALIZERS: dict[str, type[EventSerializer]] = {
    "callback.requested": CallbackRequestedSerializer,
    "attempt.offered": AttemptOfferedSerializer,
    "attempt.accepted": AttemptAcceptedSerializer,
    "attempt.connected": AttemptConnectedSerializer,
    "attempt.completed": AttemptCompletedSerializer,
    "attempt.wrapup_completed": WrapupCompletedSerializer,
    "callback.cancelled": CallbackCancelledSerializer,
}


class AttemptSerializer(serializers.ModelSerializer):
    # Declared rather than derived: read-only model fields lose null / blank, and the schema must say "" and null.
    agent = serializers.SlugRelatedField(slug_field="login_id", read_only=True, allow_null=True)
    answered_by = serializers.ChoiceField(choices=AnsweredBy.choices, allow_blank=True, read_only=True)
    completion_status = serializers.ChoiceField(choices=CompletionStatus.choices, allow_blank=True, read_only=True)

    class Meta:
        model = Attempt
        fields = [
            "number",
            "agent",
            "offered_at",
            "accepted_at",
            "connected_at",
            "answered_by",
            "completed_at",
            "completion_status",
            "completed_by_timer",
            "acw_ended_at",
        ]


class CallbackSerializer(serializers.ModelSerializer):
    callback = serializers.CharField(source="external_id")
    business_process = serializers.SlugRelatedField(slug_field="code", read_only=True)
    location = serializers.CharField()
    interaction_state = serializers.CharField(source="agent_phase")
    end_state = serializers.ChoiceField(choices=EndState.choices, allow_blank=True, read_only=True)
    owner_agent = serializers.SlugRelatedField(slug_field="login_id", read_only=True, allow_null=True)
    current_agent = serializers.SlugRelatedField(slug_field="login_id", read_only=True, allow_null=True)
    attempts_before_failure = serializers.IntegerField(source="business_process.attempts_before_failure")
    attempt_history = AttemptSerializer(source="attempt_set", many=True, read_only=True)

    class Meta:
        model = Callback
        fields = [
            "id",
            "callback",
            "business_process",
            "phone",
            "customer_name",
            "state",
            "location",
            "interaction_state",
            "end_state",
            "attempts",
            "attempts_before_failure",
            "desired_time",
            "owner_agent",
            "current_agent",
            "created",
            "last_attempt_at",
            "completed_at",
            "attempt_history",
        ]
        read_only_fields = fields


class EventResultSerializer(serializers.Serializer):
    # A rejected event's id is echoed as sent, whatever its JSON type; absent when the event was not an object.
    event_id = serializers.JSONField(required=False, help_text="The event's event_id, as sent.")
    result = serializers.ChoiceField(choices=["applied", "duplicate", "rejected"])
    error = serializers.JSONField(required=False)
    callback = CallbackSerializer(required=False)


class BatchResultSerializer(serializers.Serializer):
    results = EventResultSerializer(many=True)
