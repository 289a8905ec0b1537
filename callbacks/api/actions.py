"""A supervisor's actions on one callback, by the integration's external id: send to queue, purge, cancel,
reschedule, recreate.

For people, not machines: a logged-in browser (session, with its CSRF token in the X-CSRFToken header) holding
the manage_callbacks permission (supervisors, administrators). Managers get 403; an API token gets 403 too (the
audit log names a person); no credentials at all get 401. Every body may carry ``expected_state``, the state the
user's page showed: if the callback has moved on since, nothing is done and the answer (409) says what it is now.
"""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Prefetch, prefetch_related_objects
from django.http import Http404
from django.utils import timezone
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, parsers, permissions, serializers, status
from rest_framework.authentication import SessionAuthentication
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from .. import engine
from ..choices import AgentPhase, CallbackState, EndState
from ..models import Attempt, Callback
from .authentication import ApiTokenAuthentication, Integration
from .serializers import CallbackSerializer, OffsetDateTimeField

EXTERNAL_ID = OpenApiParameter("external_id", str, OpenApiParameter.PATH, description="The callback's external id.")


class CanManageCallbacks(permissions.BasePermission):
    """Supervisors and administrators; never a token, whose holder is a machine, not a person to audit."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        user = request.user
        return user is not None and not isinstance(user, Integration) and user.has_perm("callbacks.manage_callbacks")


class ActionSerializer(serializers.Serializer):
    expected_state = serializers.ChoiceField(
        choices=CallbackState.choices,
        required=False,
        help_text="The state the page showed; if the callback is in another state now, nothing is done (409).",
    )


class CancelSerializer(ActionSerializer):
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class RescheduleSerializer(ActionSerializer):
    desired_time = OffsetDateTimeField(help_text="Inside the business process's schedule-ahead window.")


class ActionRefusalSerializer(serializers.Serializer):
    detail = serializers.CharField(help_text="Why nothing was changed, in words.")
    state = serializers.ChoiceField(choices=CallbackState.choices, help_text="The callback's state now.")
    state_label = serializers.CharField(help_text="The state now as the pages show it: Scheduled, Dialing, Purged…")
    location = serializers.CharField(help_text="The interaction location now (seed 001); empty once completed.")


def state_label(callback: Callback) -> str:
    """What the pages call the state: Scheduled, Queued, Offered / Dialing / Handling, or the end state."""
    if callback.state == CallbackState.COMPLETED:
        return EndState(callback.end_state).label
    if callback.agent_phase:
        return AgentPhase(callback.agent_phase).label
    return CallbackState(callback.state).label


class CallbackActionView(APIView):
    # Token first: an anonymous call then answers 401 with a WWW-Authenticate header rather than 403.
    authentication_classes = [ApiTokenAuthentication, SessionAuthentication]
    permission_classes = [CanManageCallbacks]
    # The CSRF check also reads a form's csrfmiddlewaretoken: a plain HTML form may post too.
    parser_classes = [parsers.JSONParser, parsers.FormParser, parsers.MultiPartParser]
    body_serializer = ActionSerializer
    created_status = status.HTTP_200_OK

    def act(self, callback_id, data: dict, actor: engine.Actor) -> Callback:
        raise NotImplementedError

    def post(self, request: Request, external_id: str) -> Response:
        try:
            data = request.data
        except exceptions.ParseError as error:
            return Response({"non_field_errors": [str(error.detail)]}, status=status.HTTP_400_BAD_REQUEST)
        if not hasattr(data, "get"):
            return Response({"non_field_errors": ["Send a JSON object."]}, status=status.HTTP_400_BAD_REQUEST)
        callback_id = Callback.objects.filter(external_id=external_id).values_list("pk", flat=True).first()
        if callback_id is None:
            raise Http404(f"No callback with id “{external_id}”.")
        body = self.body_serializer(data=data)
        if not body.is_valid():
            return Response(body.errors, status=status.HTTP_400_BAD_REQUEST)
        try:
            callback = self.act(callback_id, body.validated_data, engine.Actor.for_user(request.user))
        except engine.TransitionRefused as refusal:
            return self.refused(callback_id, str(refusal))
        except DjangoValidationError as error:
            return Response(serializers.as_serializer_error(error), status=status.HTTP_400_BAD_REQUEST)
        prefetch_related_objects([callback], Prefetch("attempt_set", queryset=Attempt.objects.select_related("agent")))
        return Response(CallbackSerializer(callback).data, status=self.created_status)

    def refused(self, callback_id, reason: str) -> Response:
        callback = Callback.objects.filter(pk=callback_id).only("state", "agent_phase", "end_state").first()
        if callback is None:
            raise Http404(reason)
        body = {
            "detail": reason,
            "state": callback.state,
            "state_label": state_label(callback),
            "location": callback.location,
        }
        return Response(body, status=status.HTTP_409_CONFLICT)


def _action_schema(operation: str, summary: str, request, done: str, refused: str, **extra) -> dict:
    return {
        "operation_id": f"{operation}_callback",
        "summary": summary,
        "description": (
            "Supervisors and administrators, logged in: session callers send their CSRF token in the X-CSRFToken "
            "header. Managers and API tokens get 403. Audited under the user's name. Give `expected_state` (the "
            "state your page showed) to be refused with 409 if the callback has moved on since."
        ),
        "parameters": [EXTERNAL_ID],
        "request": request,
        "responses": {
            extra.pop("status", 200): OpenApiResponse(CallbackSerializer, description=done),
            400: OpenApiResponse(description="Invalid body (not JSON, unknown expected_state, bad desired_time)"),
            401: OpenApiResponse(description="Not logged in"),
            403: OpenApiResponse(description="Not allowed (managers, API tokens, or a session POST without CSRF)"),
            404: OpenApiResponse(description="No callback has this external id"),
            409: OpenApiResponse(ActionRefusalSerializer, description=refused),
            415: OpenApiResponse(description="A body neither JSON nor a form (or a malformed multipart form)"),
        },
        "tags": ["callback actions"],
        **extra,
    }


class SendToQueueView(CallbackActionView):
    @extend_schema(
        **_action_schema(
            "send_to_queue",
            "Send a Pending callback to queue now",
            ActionSerializer,
            "Sent; the callback",
            "Not Pending (or not in the expected state); nothing changed",
            examples=[OpenApiExample("From the Callback Search tab", value={"expected_state": "scheduled"})],
        )
    )
    def post(self, request: Request, external_id: str) -> Response:
        return super().post(request, external_id)

    def act(self, callback_id, data: dict, actor: engine.Actor) -> Callback:
        return engine.send_to_queue(callback_id, timezone.now(), actor, data.get("expected_state"))


class PurgeView(CallbackActionView):
    @extend_schema(
        **_action_schema(
            "purge",
            "Purge a callback (end state Purged)",
            ActionSerializer,
            "Purged; the callback",
            "Completed already, with an agent (Processing), or not in the expected state; nothing changed",
        )
    )
    def post(self, request: Request, external_id: str) -> Response:
        return super().post(request, external_id)

    def act(self, callback_id, data: dict, actor: engine.Actor) -> Callback:
        return engine.purge(callback_id, timezone.now(), actor, data.get("expected_state"))


class CancelView(CallbackActionView):
    body_serializer = CancelSerializer

    @extend_schema(
        **_action_schema(
            "cancel",
            "Cancel a callback (end state Cancelled)",
            CancelSerializer,
            "Cancelled; the callback",
            "Completed already, with an agent (Processing), or not in the expected state; nothing changed",
        )
    )
    def post(self, request: Request, external_id: str) -> Response:
        return super().post(request, external_id)

    def act(self, callback_id, data: dict, actor: engine.Actor) -> Callback:
        return engine.cancel(callback_id, timezone.now(), actor, data["reason"], data.get("expected_state"))


class RescheduleView(CallbackActionView):
    body_serializer = RescheduleSerializer

    @extend_schema(
        **_action_schema(
            "reschedule",
            "Give a Pending callback another desired time",
            RescheduleSerializer,
            "Rescheduled; the callback",
            "Not Pending (or not in the expected state); nothing changed",
            examples=[
                OpenApiExample(
                    "Tomorrow morning",
                    value={"desired_time": "2026-11-26T09:00:00+01:00", "expected_state": "scheduled"},
                )
            ],
        )
    )
    def post(self, request: Request, external_id: str) -> Response:
        return super().post(request, external_id)

    def act(self, callback_id, data: dict, actor: engine.Actor) -> Callback:
        return engine.reschedule(callback_id, data["desired_time"], timezone.now(), actor, data.get("expected_state"))


class RecreateView(CallbackActionView):
    created_status = status.HTTP_201_CREATED

    @extend_schema(
        **_action_schema(
            "recreate",
            "Recreate a completed callback as a new immediate one",
            ActionSerializer,
            "Created; the NEW callback (external id <old id>-r<n>)",
            "Not completed, recreated already, or not in the expected state; nothing changed",
            status=201,
        )
    )
    def post(self, request: Request, external_id: str) -> Response:
        return super().post(request, external_id)

    def act(self, callback_id, data: dict, actor: engine.Actor) -> Callback:
        return engine.recreate(callback_id, timezone.now(), actor, data.get("expected_state"))
