from drf_spectacular.utils import OpenApiExample, OpenApiResponse, PolymorphicProxySerializer, extend_schema
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from .. import engine
from ..models import Callback
from .ingest import MAX_BATCH, ingest, ingest_many
from .serializers import EVENT_SERIALIZERS, BatchResultSerializer, CallbackSerializer, EventResultSerializer

EVENT_REQUEST = PolymorphicProxySerializer(
    component_name="Event",
    serializers={kind: serializer for kind, serializer in EVENT_SERIALIZERS.items()},
    resource_type_field_name="type",
)


class EventsView(APIView):
    """Events from the telephony platform and agent desktops."""

    @extend_schema(
        operation_id="post_events",
        summary="Post one event, or an array of up to 1,000 events applied in order",
        description=(
            "A single event answers 201 (applied, with the callback as the event left it), 200 (duplicate: the "
            "same event_id again changes nothing and repeats the first answer), 400 (invalid fields) or 409 (does "
            "not fit the callback's current state). A JSON array of up to 1,000 events answers 200 with one result "
            "per event, in order (event_id, result, error; no callback); a rejected event changes nothing and the "
            "others apply, and every applied event is stored before the answer is sent."
        ),
        request=EVENT_REQUEST,
        responses={
            201: EventResultSerializer,
            200: OpenApiResponse(
                PolymorphicProxySerializer(
                    component_name="DuplicateOrBatchResult",
                    serializers=[EventResultSerializer, BatchResultSerializer],
                    resource_type_field_name=None,
                ),
                description="Duplicate event (the first answer again), or the results of an array",
            ),
            400: OpenApiResponse(description="Invalid fields, body not JSON, or more than 1,000 events"),
            401: OpenApiResponse(description="No or invalid token"),
            409: OpenApiResponse(EventResultSerializer, description="The event does not fit the callback's state"),
            415: OpenApiResponse(description="A body that is not JSON (Content-Type other than application/json)"),
        },
        examples=[
            OpenApiExample(
                "callback.requested",
                request_only=True,
                value={
                    "event_id": "evt-0001",
                    "type": "callback.requested",
                    "occurred_at": "2026-11-25T09:30:00+01:00",
                    "callback": "cb-1234",
                    "business_process": "SALES",
                    "phone": "+33 1 42 68 53 00",
                    "customer_name": "Ada Lovelace",
                },
            )
        ],
    )
    def post(self, request: Request) -> Response:
        actor = engine.Actor(str(request.user))
        data = request.data
        if isinstance(data, list):
            if not data:
                return Response({"non_field_errors": ["Send at least one event."]}, status=400)
            if len(data) > MAX_BATCH:
                return Response(
                    {"non_field_errors": [f"At most {MAX_BATCH} events per request; this one has {len(data)}."]},
                    status=400,
                )
            results = ingest_many(data, actor)
            return Response({"results": results}, status=200)
        if not isinstance(data, dict):
            return Response({"non_field_errors": ["Send an event object or an array of events."]}, status=400)
        outcome = ingest(data, actor)
        if outcome.status == status.HTTP_400_BAD_REQUEST:
            return Response(outcome.body["error"], status=400)
        return Response(outcome.body, status=outcome.status)


class CallbackDetailView(generics.RetrieveAPIView):
    """A callback with its attempts, by the integration's external id."""

    serializer_class = CallbackSerializer
    lookup_field = "external_id"
    lookup_url_kwarg = "external_id"
    queryset = Callback.objects.select_related("business_process", "owner_agent", "current_agent").prefetch_related(
        "attempt_set__agent"
    )

    @extend_schema(
        operation_id="retrieve_callback",
        summary="A callback with its attempts",
        responses={
            200: CallbackSerializer,
            401: OpenApiResponse(description="No or invalid token"),
            404: OpenApiResponse(description="No callback has this external id"),
        },
    )
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)
