"""Applying ingest events: validate, apply through the engine, remember the event id — all or nothing."""

from dataclasses import dataclass

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.db.models import Prefetch, prefetch_related_objects
from rest_framework import serializers

from .. import engine
from ..models import Agent, Attempt, Callback, IngestedEvent
from .serializers import EVENT_SERIALIZERS, CallbackSerializer, EventSerializer

MAX_BATCH = 1000


@dataclass
class Outcome:
    """What became of one event: its HTTP status (for a single event) and the answer body."""

    status: int
    body: dict

    @property
    def result(self) -> dict:
        return {k: v for k, v in self.body.items() if k in ("event_id", "result", "error")}


def ingest(data: object, actor: engine.Actor, *, with_callback: bool = True) -> Outcome:
    """Apply one event object. Never raises for bad input: the outcome says what was wrong.

    ``with_callback``: the answer shows the callback as the event left it (a single event's answer does; the
    results of an array do not, so the events of an array skip building it).
    """
    if not isinstance(data, dict):
        return Outcome(400, {"result": "rejected", "error": {"non_field_errors": ["An event must be a JSON object."]}})
    event_id = data.get("event_id")
    # Not yet validated: an id holding NUL (which PostgreSQL text refuses) is left for the serializer to reject.
    if isinstance(event_id, str) and "\x00" not in event_id and (first := _first_answer(event_id)) is not None:
        return first

    kind = data.get("type")
    serializer_class = EVENT_SERIALIZERS.get(kind, EventSerializer) if isinstance(kind, str) else EventSerializer
    serializer = serializer_class(data=data)
    valid = serializer.is_valid()
    errors = dict(serializer.errors) if not valid else {}
    if serializer_class is EventSerializer and "type" not in errors:
        errors["type"] = [f"Unknown event type; expected one of: {', '.join(EVENT_SERIALIZERS)}."]
    if errors:
        return Outcome(400, {"event_id": event_id, "result": "rejected", "error": errors})

    event = serializer.validated_data
    try:
        with transaction.atomic():
            callback = _apply(event, actor)
            body = {"event_id": event["event_id"], "result": "applied"}
            if with_callback:
                body["callback"] = _represent(callback)
            IngestedEvent.objects.create(
                event_id=event["event_id"], type=event["type"], callback_ref=callback.external_id, response=body
            )
    except engine.TransitionRefused as refusal:
        # A refusal may be this very event seen again: its id as validated (a number, or with spaces, misses
        # the check above), or a copy applied concurrently. That is a duplicate, not a conflict.
        return _first_answer(event["event_id"]) or Outcome(
            409, {"event_id": event["event_id"], "result": "rejected", "error": str(refusal)}
        )
    except DjangoValidationError as error:
        detail = serializers.as_serializer_error(error)
        return _first_answer(event["event_id"]) or Outcome(
            400, {"event_id": event["event_id"], "result": "rejected", "error": detail}
        )
    except IntegrityError:
        # The same event arrived twice at once and the other copy won: answer as for any duplicate.
        first = _first_answer(event["event_id"])
        if first is None:
            raise
        return first
    return Outcome(201, body)


def _first_answer(event_id: str) -> Outcome | None:
    recorded = IngestedEvent.objects.filter(event_id=event_id).values_list("response", flat=True).first()
    if recorded is None:
        return None
    return Outcome(200, {**recorded, "result": "duplicate"})


def _agent(login_id: str | None) -> Agent | None:
    if not login_id:
        return None
    agent, _ = Agent.objects.get_or_create(login_id=login_id, defaults={"display_name": login_id})
    return agent


def _apply(event: dict, actor: engine.Actor) -> Callback:
    kind, at = event["type"], event["occurred_at"]
    if kind == "callback.requested":
        return engine.request_callback(
            external_id=event["callback"],
            business_process=event["business_process"],
            phone=event["phone"],
            customer_name=event["customer_name"],
            desired_time=event["desired_time"],
            owner_agent=_agent(event["owner_agent"]),
            at=at,
            actor=actor,
        )
    callback_id = event["callback"].pk
    if kind == "callback.cancelled":
        return engine.cancel(callback_id, at, actor, reason=event["reason"])
    agent = _agent(event["agent"])
    if kind == "attempt.offered":
        return engine.offer(callback_id, agent, at, actor)
    if kind == "attempt.accepted":
        return engine.accept(callback_id, agent, at, actor)
    if kind == "attempt.connected":
        return engine.connect(callback_id, agent, event["answered_by"], at, actor)
    if kind == "attempt.completed":
        return engine.complete(
            callback_id,
            agent,
            event["status"],
            at,
            actor,
            reschedule_time=event["reschedule_time"],
            reschedule_agent=_agent(event["reschedule_agent"]),
        )
    if kind == "attempt.wrapup_completed":
        return engine.end_wrapup(callback_id, agent, at, actor)
    raise AssertionError(f"unhandled event type {kind}")


def _represent(callback: Callback) -> dict:
    """The callback as the answer shows it; the engine's instance already holds all but its attempts."""
    prefetch_related_objects([callback], Prefetch("attempt_set", queryset=Attempt.objects.select_related("agent")))
    return CallbackSerializer(callback).data
