"""Read the monitor's columns as numbers; stop and resume callbacks of a business process.

Both a logged-in browser (session, with its CSRF token on POST) and an integration (API token) may call
these views. Reading needs the monitor permission (every role) or a token; Stop / Resume needs the
stop_business_process permission (supervisors, administrators) — a token never has it.
"""

from django.http import Http404
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import parsers, permissions, status
from rest_framework.authentication import SessionAuthentication
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from callbacks import engine
from callbacks.api.authentication import ApiTokenAuthentication, Integration
from callbacks.models import BusinessProcess

from ..columns import compute_rows
from .serializers import MonitorRowSerializer, MonitorSerializer, RefusalSerializer

CODE = OpenApiParameter("code", str, OpenApiParameter.PATH, description="The business process's code.")
NOT_ALLOWED = {
    401: OpenApiResponse(description="Neither logged in nor holding a token"),
    403: OpenApiResponse(description="Not allowed (or a session POST without its CSRF token)"),
}


class CanViewMonitor(permissions.BasePermission):
    """A user with the monitor permission, or an integration's token (read only)."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        user = request.user
        if isinstance(user, Integration):
            return request.method in permissions.SAFE_METHODS
        return user is not None and user.has_perm("callbacks.view_monitor")


class CanStopBusinessProcess(permissions.BasePermission):
    """Supervisors and administrators; never a token, whose holder is a machine, not a person to audit."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        user = request.user
        return (
            user is not None and not isinstance(user, Integration) and user.has_perm("callbacks.stop_business_process")
        )


class MonitorApiView(APIView):
    # Token first: an anonymous call then answers 401 with a WWW-Authenticate header rather than 403.
    authentication_classes = [ApiTokenAuthentication, SessionAuthentication]
    permission_classes = [CanViewMonitor]


def active_business_process(code: str) -> BusinessProcess:
    return get_object_or_404(BusinessProcess.objects.only("pk", "code"), code=code, is_active=True)


def row_of(business_process: BusinessProcess) -> dict:
    rows = compute_rows(business_process_ids=[business_process.pk]).rows
    if not rows:  # deactivated in between
        raise Http404
    return rows[0].as_api()


class BusinessProcessListView(MonitorApiView):
    @extend_schema(
        operation_id="list_business_processes",
        summary="The monitor: every active business process's columns, and the totals row",
        responses={200: MonitorSerializer, **NOT_ALLOWED},
        tags=["monitor"],
    )
    def get(self, request: Request) -> Response:
        monitor = compute_rows()
        return Response({"results": [row.as_api() for row in monitor.rows], "totals": monitor.totals.as_api()})


class BusinessProcessDetailView(MonitorApiView):
    @extend_schema(
        operation_id="retrieve_business_process",
        summary="One business process's monitor columns",
        parameters=[CODE],
        responses={
            200: MonitorRowSerializer,
            **NOT_ALLOWED,
            404: OpenApiResponse(description="No active business process has this code"),
        },
        tags=["monitor"],
    )
    def get(self, request: Request, code: str) -> Response:
        return Response(row_of(active_business_process(code)))


class SetStoppedView(MonitorApiView):
    """Stop (nothing is dispatched) or resume callbacks of a business process; audited under the user's name."""

    permission_classes = [CanStopBusinessProcess]
    # The body is ignored, but the CSRF check reads a form's csrfmiddlewaretoken: accept a plain HTML form too.
    parser_classes = [parsers.JSONParser, parsers.FormParser, parsers.MultiPartParser]
    stopped: bool

    def post(self, request: Request, code: str) -> Response:
        business_process = active_business_process(code)
        try:
            engine.set_stopped(business_process.pk, self.stopped, engine.Actor.for_user(request.user))
        except engine.TransitionRefused as refusal:
            return Response({"detail": str(refusal)}, status=status.HTTP_409_CONFLICT)
        return Response(row_of(business_process))


def _set_stopped_schema(verb: str, state: str) -> dict:
    return {
        "operation_id": f"{verb}_business_process",
        "summary": f"{verb.title()} callbacks of a business process (supervisors and administrators)",
        "description": (
            "Stopped: nothing of the business process is dispatched; its callbacks keep their place. "
            "Audited under the user's name. Session callers send their CSRF token in the X-CSRFToken header; "
            "an API token may not stop or resume (403)."
        ),
        "parameters": [CODE],
        "request": None,
        "responses": {
            200: OpenApiResponse(MonitorRowSerializer, description="Done; the business process's row"),
            **NOT_ALLOWED,
            404: OpenApiResponse(description="No active business process has this code"),
            409: OpenApiResponse(RefusalSerializer, description=f"Callbacks are already {state}; nothing changed"),
        },
        "tags": ["monitor"],
    }


class BusinessProcessStopView(SetStoppedView):
    stopped = True

    @extend_schema(**_set_stopped_schema("stop", "stopped"))
    def post(self, request: Request, code: str) -> Response:
        return super().post(request, code)


class BusinessProcessResumeView(SetStoppedView):
    stopped = False

    @extend_schema(**_set_stopped_schema("resume", "running"))
    def post(self, request: Request, code: str) -> Response:
        return super().post(request, code)
