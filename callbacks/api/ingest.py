"""Applying ingest events: validate, apply through the engine, remember the event id — all or nothing per event.

One event (``ingest``) runs in a transaction of its own. An array (``ingest_many``) is applied in order in
transactions of up to ``CHUNK`` events, each event in a savepoint of its own: a refused event changes nothing and
the others apply, as if each had its own transaction, while the array costs far fewer queries and commits —
known event ids, agents, callbacks and business processes are looked up once per chunk, the event ids are
recorded in one insert, and so are the audit entries and the callbacks requested one after the other, and each
business process changed is announced once per chunk.
"""

import contextlib
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, OperationalError, transaction
from django.db.models import Prefetch, prefetch_related_objects
from rest_framework import serializers

from .. import engine
from ..models import Agent, Attempt, BusinessProcess, Callback, IngestedEvent
from ..schedule import load_schedules
from .serializers import EVENT_SERIALIZERS, CallbackSerializer, EventSerializer

MAX_BATCH = 1000
CHUNK = 100  # events of an array per transaction: bounds how long its row locks are held
AGENT_FIELDS = ("agent", "owner_agent", "reschedule_agent")


@dataclass
class Outcome:
    """What became of one event: its HTTP status (for a single event) and the answer body."""

    status: int
    body: dict

    @property
    def result(self) -> dict:
        return {k: v for k, v in self.body.items() if k in ("event_id", "result", "error")}


class Agents:
    """Agents by login id, created on first sight. An array's chunk loads the ones its events name in one query."""

    def __init__(self, login_ids: set[str] | None = None):
        self.by_login_id = {a.login_id: a for a in Agent.objects.filter(login_id__in=login_ids)} if login_ids else {}
        self.created: list[str] = []

    def get(self, login_id: str | None) -> Agent | None:
        if not login_id:
            return None
        agent = self.by_login_id.get(login_id)
        if agent is None:
            agent, created = Agent.objects.get_or_create(login_id=login_id, defaults={"display_name": login_id})
            self.by_login_id[login_id] = agent
            if created:
                self.created.append(login_id)
        return agent

    def forget_created(self) -> None:
        """The event that created them was rolled back, and they with it."""
        for login_id in self.created:
            del self.by_login_id[login_id]
        self.created.clear()


@dataclass
class Known:
    """What the events of one chunk refer to, each looked up in one query: the answers already given to their ids,
    their callbacks and business processes (for the serializers), their agents."""

    answers: dict[str, dict]
    callbacks: dict[str, Callback]
    business_processes: dict[str, BusinessProcess]
    agents: Agents = field(default_factory=Agents)
    # One serializer of each event type validates all the chunk's events of that type: a new one per event would
    # copy all its fields each time (DRF deep-copies them), a good part of the cost of validating an event.
    serializers: dict[type, EventSerializer] = field(default_factory=dict)

    def serializer(self, serializer_class: type[EventSerializer]) -> EventSerializer:
        if serializer_class not in self.serializers:
            self.serializers[serializer_class] = serializer_class(context=self.serializer_context)
        return self.serializers[serializer_class]

    @classmethod
    def for_events(cls, items: list) -> "Known":
        events = [item for item in items if isinstance(item, dict)]
        event_ids, refs, codes, login_ids = set(), set(), set(), set()
        for event in events:
            event_id = event.get("event_id")
            if isinstance(event_id, str) and "\x00" not in event_id:  # NUL: the serializer rejects it
                event_ids |= {event_id, event_id.strip()}  # the serializer strips it
            elif isinstance(event_id, int):
                event_ids.add(str(event_id))
            refs.update(_strings(event, "callback"))
            codes.update(_strings(event, "business_process"))
            login_ids.update(_strings(event, *AGENT_FIELDS))
        answers = dict(IngestedEvent.objects.filter(event_id__in=event_ids).values_list("event_id", "response"))
        callbacks = Callback.objects.only("pk", "external_id").filter(external_id__in=refs) if refs else []
        business_processes = list(BusinessProcess.objects.filter(is_active=True, code__in=codes)) if codes else []
        load_schedules(business_processes)  # a request puts its callback in queue only while the schedule is open
        return cls(
            answers=answers,
            callbacks={callback.external_id: callback for callback in callbacks},
            business_processes={business_process.code: business_process for business_process in business_processes},
            agents=Agents(login_ids),
        )

    @property
    def serializer_context(self) -> dict:
        return {"known": {"callback": self.callbacks, "business_process": self.business_processes}}


def _strings(event: dict, *keys: str) -> list[str]:
    """The event's text values of these keys; text holding NUL (PostgreSQL refuses it) is left to the serializer."""
    return [value for key in keys if isinstance(value := event.get(key), str) and "\x00" not in value]


def ingest(data: object, actor: engine.Actor, *, with_callback: bool = True) -> Outcome:
    """Apply one event object. Never raises for bad input: the outcome says what was wrong.

    ``with_callback``: the answer shows the callback as the event left it (a single event's answer does; the
    results of an array do not, so the events of an array skip building it).
    """
    if not isinstance(data, dict):
        return _not_an_object()
    event_id = data.get("event_id")
    # Not yet validated: an id holding NUL (which PostgreSQL text refuses) is left for the serializer to reject.
    if isinstance(event_id, str) and "\x00" not in event_id and (first := _first_answer(event_id)) is not None:
        return first

    event = _validate(data)
    if isinstance(event, Outcome):
        return event
    try:
        with transaction.atomic():
            callback = _apply(event, actor, Agents())
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


def ingest_many(items: list, actor: engine.Actor) -> list[dict]:
    """Apply an array of events in order; one result per event (event_id, result, error), as ``ingest`` answers."""
    results = []
    for start in range(0, len(items), CHUNK):
        chunk = items[start : start + CHUNK]
        try:
            results += _ingest_chunk(chunk, actor)
        except (IntegrityError, OperationalError):
            # A copy of one of these events was applied elsewhere at the same moment, or a deadlock: the chunk's
            # transaction changed nothing. Applied one by one, each event gets the answer of its own case.
            results += [ingest(item, actor, with_callback=False).result for item in chunk]
    return results


def _ingest_chunk(items: list, actor: engine.Actor) -> list[dict]:
    known = Known.for_events(items)
    results, applied = [], []
    with transaction.atomic(), engine.batch() as batch:
        for data in items:
            outcome, record = _ingest_known(data, actor, known, batch)
            results.append(outcome.result)
            if record is not None:
                applied.append(record)
        IngestedEvent.objects.bulk_create(applied)
    return results


def _ingest_known(
    data: object, actor: engine.Actor, known: Known, batch: engine.Batch
) -> tuple[Outcome, IngestedEvent | None]:
    """``ingest`` for one event of a chunk: the same checks and answers, against what the chunk knows. An applied
    event comes with its record, for the chunk to insert with the others."""
    if not isinstance(data, dict):
        return _not_an_object(), None
    if isinstance(raw_id := data.get("event_id"), str) and raw_id in known.answers:
        return _duplicate(known.answers[raw_id]), None
    event = _validate(data, known)
    if isinstance(event, Outcome):
        return event, None
    event_id = event["event_id"]
    if event_id in known.answers:
        return _duplicate(known.answers[event_id]), None
    if event["type"] == "callback.requested" and event["callback"] in known.callbacks:
        refusal = str(engine.already_exists(event["callback"]))  # refused here: in a batch the engine would fail it
        return Outcome(409, {"event_id": event_id, "result": "rejected", "error": refusal}), None
    known.agents.created.clear()
    # The engine's transition is a savepoint of its own; an event that creates an agent needs one around both,
    # which the requests before it must not be inside of (the engine's transitions insert them first, likewise).
    names_new_agent = any(login_id not in known.agents.by_login_id for login_id in _strings(event, *AGENT_FIELDS))
    if names_new_agent:
        batch.insert_requested()
    mark = batch.mark()
    try:
        with transaction.atomic() if names_new_agent else contextlib.nullcontext():
            callback = _apply(event, actor, known.agents)
    except engine.TransitionRefused as refusal:
        known.agents.forget_created()
        batch.forget_since(mark)
        return Outcome(409, {"event_id": event_id, "result": "rejected", "error": str(refusal)}), None
    except DjangoValidationError as error:
        known.agents.forget_created()
        batch.forget_since(mark)
        detail = serializers.as_serializer_error(error)
        return Outcome(400, {"event_id": event_id, "result": "rejected", "error": detail}), None
    known.callbacks.setdefault(callback.external_id, callback)
    body = {"event_id": event_id, "result": "applied"}
    known.answers[event_id] = body
    record = IngestedEvent(event_id=event_id, type=event["type"], callback_ref=callback.external_id, response=body)
    return Outcome(201, body), record


def _validate(data: dict, known: Known | None = None) -> dict | Outcome:
    """The event's validated fields, or the 400 outcome naming what is wrong."""
    kind = data.get("type")
    serializer_class = EVENT_SERIALIZERS.get(kind, EventSerializer) if isinstance(kind, str) else EventSerializer
    serializer = known.serializer(serializer_class) if known is not None else serializer_class()
    try:
        validated, errors = serializer.run_validation(data), {}  # what is_valid() runs, on a serializer reused
    except serializers.ValidationError as error:
        validated, errors = None, dict(error.detail)
    if serializer_class is EventSerializer and "type" not in errors:
        errors["type"] = [f"Unknown event type; expected one of: {', '.join(EVENT_SERIALIZERS)}."]
    if errors:
        return Outcome(400, {"event_id": data.get("event_id"), "result": "rejected", "error": errors})
    return validated


def _not_an_object() -> Outcome:
    return Outcome(400, {"result": "rejected", "error": {"non_field_errors": ["An event must be a JSON object."]}})


def _duplicate(answer: dict) -> Outcome:
    return Outcome(200, {**answer, "result": "duplicate"})


def _first_answer(event_id: str) -> Outcome | None:
    recorded = IngestedEvent.objects.filter(event_id=event_id).values_list("response", flat=True).first()
    return None if recorded is None else _duplicate(recorded)


def _apply(event: dict, actor: engine.Actor, agents: Agents) -> Callback:
    kind, at = event["type"], event["occurred_at"]
    if kind == "callback.requested":
        return engine.request_callback(
            external_id=event["callback"],
            business_process=event["business_process"],
            phone=event["phone"],
            customer_name=event["customer_name"],
            desired_time=event["desired_time"],
            owner_agent=agents.get(event["owner_agent"]),
            at=at,
            actor=actor,
        )
    callback_id = event["callback"].pk
    if kind == "callback.cancelled":
        return engine.cancel(callback_id, at, actor, reason=event["reason"])
    agent = agents.get(event["agent"])
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
            reschedule_agent=agents.get(event["reschedule_agent"]),
        )
    if kind == "attempt.wrapup_completed":
        return engine.end_wrapup(callback_id, agent, at, actor)
    raise AssertionError(f"unhandled event type {kind}")


def _represent(callback: Callback) -> dict:
    """The callback as the answer shows it; the engine's instance already holds all but its attempts."""
    prefetch_related_objects([callback], Prefetch("attempt_set", queryset=Attempt.objects.select_related("agent")))
    return CallbackSerializer(callback).data
