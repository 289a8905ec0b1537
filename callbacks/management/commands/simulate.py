"""Play customers and agents against the ingest API: the demo's live traffic, and load for benchmarks.

    python manage.py simulate --rate 2                      # about 2 events a second, until Ctrl-C
    python manage.py simulate --rate 200 --duration 10 --seed 1
    python manage.py simulate --rate 50 --api-url http://127.0.0.1:8000 --token KEY

Customers request callbacks in the active business processes (mostly in those open now); the demo agents are
offered the queued callbacks of dispatchable business processes, accept, dial, reach a person or a voicemail —
or nobody — set the completion status and do After Call Work. Every event goes through
``callbacks.api.ingest.ingest`` (or the HTTP API), so the lifecycle engine decides. A rejected event (409: the
no-answer timer fired first, the customer cancelled meanwhile…) is logged at debug level and the agent moves on.

The Simulator runs on a clock: real time here, virtual time when ``load_demo`` replays a day of history with it.
"""

from __future__ import annotations

import heapq
import itertools
import json
import logging
import random
import signal
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError
from django.db.models import Q
from django.utils import timezone

from callbacks import engine
from callbacks.api.ingest import ingest
from callbacks.choices import AgentPhase, CallbackState, CompletionStatus, EndState
from callbacks.models import Agent, Attempt, BusinessProcess, Callback
from callbacks.schedule import is_dispatchable, is_open

log = logging.getLogger("callbacks.simulate")

DEMO_AGENT_PREFIX = "agent."

# What happens on one attempt, with seed-001 proportions (percent).
PERSON = "person"  # a person answers; the agent handles the call
VOICEMAIL_MESSAGE = "voicemail_message"  # voicemail; the agent leaves a message → Handled
VOICEMAIL_HANGUP = "voicemail_hangup"  # voicemail; the agent hangs up during the greeting → Answering Machine
NO_ANSWER = "no_answer"  # nobody answers: the agent gives up, or the automatic timer tags it
WRONG_NUMBER = "wrong_number"  # whoever answers is not the customer → Wrong Destination
CALLBACK_REQUESTED = "callback_requested"  # the customer asks to be called back later, by this agent
AGENT_CANCEL = "agent_cancel"  # the agent cancels while dialing: back to queue, attempts unchanged
OUTCOMES = {
    PERSON: 55,
    VOICEMAIL_MESSAGE: 8,
    VOICEMAIL_HANGUP: 7,
    NO_ANSWER: 20,
    WRONG_NUMBER: 3,
    CALLBACK_REQUESTED: 4,
    AGENT_CANCEL: 3,
}
CONNECTED_OUTCOMES = {PERSON, VOICEMAIL_MESSAGE, VOICEMAIL_HANGUP, WRONG_NUMBER, CALLBACK_REQUESTED}
STATUS_AT_HANG_UP = {
    PERSON: CompletionStatus.HANDLED,
    VOICEMAIL_MESSAGE: CompletionStatus.HANDLED,
    VOICEMAIL_HANGUP: CompletionStatus.ANSWERING_MACHINE,
    WRONG_NUMBER: CompletionStatus.WRONG_DESTINATION,
    CALLBACK_REQUESTED: CompletionStatus.CALLBACK_REQUESTED,
}

# Durations in seconds of simulated time (low, high). Agent time runs `scale` times faster at high rates.
ACCEPT_SECONDS = (2, 6)
RING_SECONDS = (6, 20)
TALK_SECONDS = {
    PERSON: (30, 150),
    VOICEMAIL_MESSAGE: (15, 40),
    VOICEMAIL_HANGUP: (3, 10),
    WRONG_NUMBER: (5, 20),
    CALLBACK_REQUESTED: (20, 60),
}
ACW_SECONDS = (5, 60)
TIMER_GRACE_SECONDS = 2.0  # how long after the no-answer deadline the agent looks whether the timer fired
TIMER_PATIENCE_CHECKS = 15  # …and how many times it looks again before it gives up on the timer
CUSTOMER_CANCEL_SHARE = 0.04
CUSTOMER_CANCEL_AFTER_SECONDS = (60, 1200)
DESIRED_TIME_SHARE = 0.15

# For the rate: a callback costs its request plus ~1.4 attempts of ~4.7 events (measured), and keeps an agent
# busy ~100 s per attempt; agents should be busy at most BUSY_TARGET of the time.
EVENTS_PER_CALLBACK = 7.0
ATTEMPTS_PER_CALLBACK = 1.4
BUSY_SECONDS_PER_ATTEMPT = 100
BUSY_TARGET = 0.7

REGION_OF_TIME_ZONE = {"Europe/Paris": "FR", "America/New_York": "US"}
# Numbers reserved for fiction: ARCEP's blocks in France, 555-0100…0199 in North America.
FICTIONAL_PREFIXES = {
    "FR": ["+33 1 99 00", "+33 2 61 91", "+33 3 53 01", "+33 4 65 71", "+33 5 36 49"],
    "US": [f"+1 {area}-555-01" for area in (201, 212, 332, 347, 516, 631, 646, 718, 845, 914, 917, 929)],
}
FIRST_NAMES = {
    "FR": ["Camille", "Léa", "Manon", "Chloé", "Inès", "Sarah", "Julie", "Emma", "Louise", "Claire", "Lucas", "Hugo",
           "Louis", "Thomas", "Nicolas", "Julien", "Antoine", "Pierre", "Mathieu", "Olivier"],
    "US": ["Emily", "Olivia", "Madison", "Ashley", "Jessica", "Sarah", "Megan", "Hannah", "Rachel", "Lauren",
           "Michael", "James", "David", "Robert", "Christopher", "Daniel", "Matthew", "Andrew", "Joshua", "Tyler"],
}  # fmt: skip
LAST_NAMES = {
    "FR": ["Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy", "Moreau",
           "Simon", "Laurent", "Lefebvre", "Michel", "Garcia", "Fournier", "Girard", "Bonnet", "Mercier", "Rousseau"],
    "US": ["Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis", "Wilson", "Anderson", "Taylor",
           "Moore", "Jackson", "White", "Harris", "Thompson", "Clark", "Lewis", "Walker", "Young", "Allen"],
}  # fmt: skip


# ---------------------------------------------------------------------------------------------------------
# Clocks and senders: what differs between a live run, an HTTP run and load_demo's replay of the past


class RealClock:
    def now(self) -> datetime:
        return timezone.now()

    def wait_until(self, when: datetime) -> None:
        delay = (when - timezone.now()).total_seconds()
        if delay > 0:
            time.sleep(delay)


class VirtualClock:
    """Time that jumps to the next step at once: load_demo replays yesterday in a few seconds."""

    def __init__(self, start: datetime):
        self.current = start

    def now(self) -> datetime:
        return self.current

    def wait_until(self, when: datetime) -> None:
        self.current = max(self.current, when)


class InProcessSender:
    """Applies an event in this process, exactly as POST /api/v1/events/ would."""

    def __init__(self, actor: engine.Actor):
        self.actor = actor

    def __call__(self, event: dict) -> tuple[int, dict]:
        outcome = ingest(event, self.actor)
        return outcome.status, outcome.body


class HttpSender:
    """Posts an event to the ingest API (stdlib only)."""

    def __init__(self, api_url: str, token: str, timeout: float = 10.0):
        url = api_url.rstrip("/")
        self.url = url + "/" if url.endswith("/events") else url + "/api/v1/events/"
        self.headers = {"Content-Type": "application/json", "Authorization": f"Token {token}"}
        self.timeout = timeout

    def __call__(self, event: dict) -> tuple[int, dict]:
        request = urllib.request.Request(self.url, json.dumps(event).encode(), self.headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return response.status, json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as error:
            body = error.read()
            try:
                return error.code, json.loads(body or b"{}")
            except ValueError:
                return error.code, {"error": body.decode(errors="replace")[:200]}
        except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
            return 0, {"error": f"{self.url} unreachable: {error}"}


# ---------------------------------------------------------------------------------------------------------
# The simulator


@dataclass
class Call:
    """The callback an agent is busy with, and what is going to happen on this attempt."""

    callback: str
    outcome: str
    business_process: BusinessProcess
    timer_checks: int = 0


class Simulator:
    """Customers and agents as a queue of timed steps; each step sends at most a few events and plans the next."""

    def __init__(
        self,
        *,
        send: Callable[[dict], tuple[int, dict]],
        clock: RealClock | VirtualClock,
        rng: random.Random,
        agents: list[str],
        scale: float = 1.0,
        timer_share: float = 0.5,
        arrivals_per_second: float = 0.0,
        event_prefix: str = "",
        applies_timers: bool = False,
        survives_database_errors: bool = False,
        outcomes: dict[str, float] = OUTCOMES,
        out: Callable[[str], None] = print,
    ):
        self.send_event = send
        self.clock = clock
        self.rng = rng
        self.scale = scale
        self.timer_share = timer_share
        self.arrivals_per_second = arrivals_per_second
        self.event_prefix = event_prefix
        self.applies_timers = applies_timers
        self.survives_database_errors = survives_database_errors
        self.outcomes = outcomes
        self.out = out
        self.calls: dict[str, Call | None] = dict.fromkeys(agents)
        self.dispatching = True
        self.stats = Counter()
        self.steps: list = []
        self._sequence = itertools.count()
        self._dispatch_planned = False
        self._open_at_last_tick: frozenset[int] | None = None
        self._last_report = (time.monotonic(), 0)
        self.business_processes: list[BusinessProcess] = []
        self.refresh_business_processes()

    # -- scheduling ----------------------------------------------------------------------------------------

    def at(self, when: datetime, step: Callable, *args) -> None:
        heapq.heappush(self.steps, (when, next(self._sequence), step, args))

    def every(self, seconds: float, step: Callable, *args) -> None:
        """Run a step now and then every `seconds` (of the clock, not scaled)."""

        def repeat():
            step(*args)
            self.at(self.clock.now() + timedelta(seconds=seconds), repeat)

        self.at(self.clock.now(), repeat)

    def later(self, seconds: tuple[float, float], cap: float | None = None) -> datetime:
        """A moment some agent-time from now: uniform in `seconds`, shortened by the scale, at most `cap` s."""
        delay = self.rng.uniform(*seconds) / self.scale
        if cap is not None:
            delay = min(delay, cap)
        return self.clock.now() + timedelta(seconds=delay)

    def run(self, until: datetime | None = None) -> None:
        """Run the steps in time order until none is left or the next one lies after `until`."""
        while self.steps:
            when = self.steps[0][0]
            if until is not None and when > until:
                self.clock.wait_until(until)
                return
            _, _, step, args = heapq.heappop(self.steps)
            self.clock.wait_until(when)
            if self.survives_database_errors:
                self.run_step_surviving_database_errors(step, args)
            else:
                step(*args)

    def run_step_surviving_database_errors(self, step: Callable, args: tuple) -> None:
        """A live run goes on when the database hiccups (locked, restarted): under `make run`, a simulator that
        exits would make honcho stop the whole demo. An agent whose step failed is freed."""
        try:
            step(*args)
        except DatabaseError as error:
            self.stats["rejected"] += 1
            log.warning("%s failed: %s", getattr(step, "__name__", step), error)
            if args and args[0] in self.calls:
                self.calls[args[0]] = None  # the periodic dispatch gives it work again, in a second

    def start_live(self, *, tick_seconds: float | None) -> None:
        """The recurring steps of a live run: customers, dispatch, timers (if asked), business processes, report."""
        self.resynchronise()
        if self.arrivals_per_second > 0:
            self.at(self.clock.now(), self.next_customer)
        self.every(1, self.dispatch)
        if tick_seconds:
            self.every(tick_seconds, self.tick)
        self.every(30, self.refresh_business_processes)
        self.at(self.clock.now() + timedelta(seconds=10), self.every, 10, self.report)

    # -- sending -------------------------------------------------------------------------------------------

    def send(self, kind: str, callback: str, **fields) -> dict | None:
        """Send one event; the callback as the API shows it when applied, None when rejected."""
        event = {
            "event_id": f"{self.event_prefix}{uuid.uuid4()}",
            "type": kind,
            "occurred_at": self.clock.now().isoformat(),
            "callback": callback,
            **fields,
        }
        status, body = self.send_event(event)
        if status in (200, 201):
            self.stats["applied"] += 1
            return body.get("callback") or {}
        self.stats["rejected"] += 1
        if status == 409:
            log.debug("%s %s rejected: %s", kind, callback, body.get("error"))
        else:
            log.warning("%s %s refused (%s): %s", kind, callback, status, body.get("error", body))
        return None

    def send_for(self, agent: str, kind: str, **fields) -> dict | None:
        """Send an event about the agent's current callback; on rejection the agent finds out what happened."""
        shown = self.send(kind, self.calls[agent].callback, agent=agent, **fields)
        if shown is None:
            self.recover(agent)
        return shown

    # -- customers -----------------------------------------------------------------------------------------

    def next_customer(self) -> None:
        """A live run's arrivals: a Poisson process of `arrivals_per_second`."""
        self.customer_requests_callback()
        gap = self.rng.expovariate(self.arrivals_per_second)
        self.at(self.clock.now() + timedelta(seconds=gap), self.next_customer)

    def customer_requests_callback(self) -> None:
        business_process = self.choose_business_process()
        if business_process is None:
            return
        region = REGION_OF_TIME_ZONE.get(business_process.time_zone, settings.PHONE_DEFAULT_REGION)
        callback = f"CB-{uuid.uuid4().hex[:16].upper()}"
        desired = None
        if self.rng.random() < DESIRED_TIME_SHARE:
            desired = self.desired_time(business_process, (20 * 60, 26 * 3600))
        shown = self.send(
            "callback.requested",
            callback,
            business_process=business_process.code,
            phone=self.phone_number(region),
            customer_name=self.customer_name(region),
            desired_time=desired.isoformat() if desired else None,
        )
        if shown is None:
            return
        self.stats["requested"] += 1
        if self.rng.random() < CUSTOMER_CANCEL_SHARE:
            self.at(self.later(CUSTOMER_CANCEL_AFTER_SECONDS), self.customer_cancels, callback)
        self.request_dispatch()

    def customer_cancels(self, callback: str) -> None:
        """The customer no longer needs the callback (only while it waits: an agent may be on it otherwise)."""
        state = Callback.objects.filter(external_id=callback).values_list("state", flat=True).first()
        if state not in (CallbackState.SCHEDULED, CallbackState.QUEUED):
            return
        if self.send("callback.cancelled", callback, reason="The customer no longer needs a callback.") is not None:
            self.stats["cancelled"] += 1

    def choose_business_process(self) -> BusinessProcess | None:
        """Customers mostly call business processes that are open; a few leave a request while closed."""
        if not self.business_processes:
            return None
        now = self.clock.now()
        weights = [1.0 if is_dispatchable(bp, now) else 0.05 for bp in self.business_processes]
        return self.rng.choices(self.business_processes, weights)[0]

    def desired_time(self, business_process: BusinessProcess, seconds: tuple[float, float]) -> datetime | None:
        """A time `seconds` from now, on a quarter hour, in open hours and in the schedule-ahead window."""
        real_now = timezone.now()  # the engine's window is counted from the wall clock, even in a replay
        earliest = real_now + timedelta(minutes=2)
        latest = real_now + business_process.max_schedule_ahead - timedelta(minutes=1)
        for _ in range(6):
            candidate = self.clock.now() + timedelta(seconds=self.rng.uniform(*seconds))
            candidate += timedelta(minutes=-candidate.minute % 15, seconds=-candidate.second)
            candidate = candidate.replace(microsecond=0)
            if earliest <= candidate <= latest and is_open(business_process, candidate):
                return candidate
        return None

    def phone_number(self, region: str) -> str:
        prefixes = FICTIONAL_PREFIXES.get(region, FICTIONAL_PREFIXES["US"])
        prefix = self.rng.choice(prefixes)
        if prefix.startswith("+33"):
            return f"{prefix} {self.rng.randint(0, 99):02d} {self.rng.randint(0, 99):02d}"
        return f"{prefix}{self.rng.randint(0, 99):02d}"

    def customer_name(self, region: str) -> str:
        region = region if region in FIRST_NAMES else "US"
        return f"{self.rng.choice(FIRST_NAMES[region])} {self.rng.choice(LAST_NAMES[region])}"

    # -- dispatching ---------------------------------------------------------------------------------------

    def refresh_business_processes(self) -> None:
        """Reload the active business processes: a supervisor may stop one, an administrator change its hours."""
        self.business_processes = list(
            BusinessProcess.objects.filter(is_active=True).prefetch_related("schedule_ranges", "schedule_exceptions")
        )

    def request_dispatch(self) -> None:
        """Dispatch right after the current step (once, however many steps ask for it)."""
        if not self._dispatch_planned:
            self._dispatch_planned = True
            self.at(self.clock.now(), self.dispatch)

    def dispatch(self) -> None:
        """Offer the oldest queued callbacks of dispatchable business processes to idle agents."""
        self._dispatch_planned = False
        idle = [agent for agent, call in self.calls.items() if call is None]
        if not idle or not self.dispatching:
            return
        now = self.clock.now()
        open_now = {bp.pk: bp for bp in self.business_processes if is_dispatchable(bp, now)}
        if not open_now:
            return
        queued = (
            Callback.objects.filter(state=CallbackState.QUEUED, business_process_id__in=open_now)
            .order_by("queued_at")
            .values_list("external_id", "business_process_id", "owner_agent__login_id")[: 2 * len(idle) + 10]
        )
        self.rng.shuffle(idle)
        for callback, business_process_id, owner in queued:
            if owner and owner not in idle:
                continue  # an agent-owned callback waits for its agent
            agent = owner or idle[-1]
            idle.remove(agent)
            self.offer(agent, callback, open_now[business_process_id])
            if not idle:
                break

    def choose_outcome(self) -> str:
        return self.rng.choices(list(self.outcomes), list(self.outcomes.values()))[0]

    # -- the agent's steps ---------------------------------------------------------------------------------

    def offer(self, agent: str, callback: str, business_process: BusinessProcess) -> None:
        self.calls[agent] = Call(callback, self.choose_outcome(), business_process)
        if self.send_for(agent, "attempt.offered") is not None:
            self.at(self.later(ACCEPT_SECONDS), self.accept, agent)

    def accept(self, agent: str) -> None:
        call = self.calls[agent]
        if self.send_for(agent, "attempt.accepted") is None:
            return
        no_answer_seconds = call.business_process.no_answer_seconds
        if call.outcome == NO_ANSWER and self.rng.random() < self.timer_share:
            deadline = self.clock.now() + timedelta(seconds=no_answer_seconds + TIMER_GRACE_SECONDS)
            self.at(deadline, self.check_no_answer_timer, agent)
        elif call.outcome == NO_ANSWER:
            self.at(self.later(RING_SECONDS, cap=0.9 * no_answer_seconds), self.give_up_ringing, agent)
        else:
            self.at(self.later(RING_SECONDS, cap=0.8 * no_answer_seconds), self.ring_ends, agent)

    def ring_ends(self, agent: str) -> None:
        """A person or a voicemail answers — or the agent cancels the dial."""
        call = self.calls[agent]
        if call.outcome == AGENT_CANCEL:
            self.complete(agent, CompletionStatus.CANCEL)
            return
        answered_by = "voicemail" if call.outcome in (VOICEMAIL_MESSAGE, VOICEMAIL_HANGUP) else "person"
        if self.send_for(agent, "attempt.connected", answered_by=answered_by) is not None:
            self.at(self.later(TALK_SECONDS[call.outcome]), self.hang_up, agent)

    def give_up_ringing(self, agent: str) -> None:
        self.complete(agent, CompletionStatus.NO_ANSWER)

    def check_no_answer_timer(self, agent: str) -> None:
        """The deadline has passed: the timer (Celery beat, or this simulator's tick) tags No Answer; then wrap up.

        Past the deadline the engine refuses the agent's own No Answer (the timer owes it), so the agent waits.
        """
        if self.applies_timers:
            self.tick()
        call = self.calls[agent]
        row = self.callback_row(call.callback)
        if self.still_dialing(row, agent):
            call.timer_checks += 1
            if call.timer_checks < TIMER_PATIENCE_CHECKS:
                self.at(self.clock.now() + timedelta(seconds=TIMER_GRACE_SECONDS), self.check_no_answer_timer, agent)
            else:
                self.warn_no_timer()
                self.free(agent)  # the callback stays Dialing until a tick expires it
            return
        self.stats["timer_no_answers"] += 1
        if row and row["end_state"] == EndState.FAILED:
            self.stats["failed"] += 1
        self.at(self.later(ACW_SECONDS), self.wrap_up, agent)

    def hang_up(self, agent: str) -> None:
        """The conversation (or the voicemail) is over: the agent sets the completion status."""
        call = self.calls[agent]
        status = STATUS_AT_HANG_UP[call.outcome]
        if status == CompletionStatus.CALLBACK_REQUESTED:
            business_process = call.business_process
            when = self.desired_time(business_process, (30 * 60, 24 * 3600)) or self.soon_in_window(business_process)
            owner = agent if self.rng.random() < 0.7 else None
            self.complete(agent, status, reschedule_time=when.isoformat(), reschedule_agent=owner)
        else:
            self.complete(agent, status)

    def complete(self, agent: str, status: str, **fields) -> None:
        shown = self.send_for(agent, "attempt.completed", status=status, **fields)
        if shown is None:
            return
        end_state = shown.get("end_state")
        if end_state == EndState.REACHED:
            self.stats["reached"] += 1
        elif end_state in (EndState.FAILED, EndState.WRONG_DESTINATION):
            self.stats["failed"] += 1
        self.at(self.later(ACW_SECONDS), self.wrap_up, agent)

    def wrap_up(self, agent: str) -> None:
        """After Call Work ends; the agent is free for the next offer."""
        call = self.calls[agent]
        self.send("attempt.wrapup_completed", call.callback, agent=agent)
        self.free(agent)

    def free(self, agent: str) -> None:
        self.calls[agent] = None
        self.request_dispatch()

    def recover(self, agent: str) -> None:
        """An event was rejected: wait for the timer if it owes a No Answer, wrap up if the attempt did end (e.g. by
        the timer), else drop the callback."""
        call = self.calls[agent]
        row = self.callback_row(call.callback)
        if self.still_dialing(row, agent) and row["due_at"] and row["due_at"] <= self.clock.now():
            self.at(self.clock.now() + timedelta(seconds=TIMER_GRACE_SECONDS), self.check_no_answer_timer, agent)
            return
        attempt = (
            Attempt.objects.filter(callback__external_id=call.callback, agent__login_id=agent)
            .order_by("-number")
            .values("completion_status", "acw_ended_at")
            .first()
        )
        if (
            attempt
            and attempt["completion_status"] not in ("", CompletionStatus.WITHDRAWN)
            and not attempt["acw_ended_at"]
        ):
            self.at(self.later(ACW_SECONDS), self.wrap_up, agent)
        else:
            self.free(agent)

    def callback_row(self, callback: str) -> dict | None:
        return (
            Callback.objects.filter(external_id=callback)
            .values("current_agent__login_id", "agent_phase", "end_state", "due_at")
            .first()
        )

    @staticmethod
    def still_dialing(row: dict | None, agent: str) -> bool:
        return bool(row and row["current_agent__login_id"] == agent and row["agent_phase"] == AgentPhase.DIALING)

    def warn_no_timer(self) -> None:
        if not self.stats["no_timer_warnings"]:
            log.warning(
                "The no-answer timer did not fire: is Celery beat running? (simulate --timers applies the timers.)"
            )
        self.stats["no_timer_warnings"] += 1

    def soon_in_window(self, business_process: BusinessProcess) -> datetime:
        real_now = timezone.now()
        return min(real_now + timedelta(hours=1), real_now + business_process.max_schedule_ahead - timedelta(minutes=1))

    # -- timers, restart, report ---------------------------------------------------------------------------

    def tick(self) -> None:
        """What Celery beat does every second: apply the due timers (no-answer, releases, schedule flips)."""
        engine.apply_due_timers(now=self.clock.now())
        self._open_at_last_tick = self.open_business_processes()
        self.request_dispatch()

    def tick_if_due(self) -> None:
        """A cheaper tick for a replay: only when a schedule opened or closed, or a timer is due."""
        open_now = self.open_business_processes()
        dispatchable = [bp.pk for bp in self.business_processes if bp.pk in open_now and not bp.is_stopped]
        due = Callback.objects.filter(
            Q(state=CallbackState.SCHEDULED, business_process_id__in=dispatchable) | Q(state=CallbackState.PROCESSING),
            due_at__lte=self.clock.now(),
        )
        if open_now != self._open_at_last_tick or due.exists():
            self.tick()

    def open_business_processes(self) -> frozenset[int]:
        now = self.clock.now()
        return frozenset(bp.pk for bp in self.business_processes if is_open(bp, now))

    def resynchronise(self) -> None:
        """Pick up where a previous run left our agents: calls in progress go on, open wrap-ups end now."""
        business_processes = {bp.pk: bp for bp in self.business_processes}
        in_progress = list(
            Callback.objects.filter(
                current_agent__login_id__in=self.calls,
                state__in=[CallbackState.ROUTING, CallbackState.PROCESSING],
                business_process_id__in=business_processes,
            ).values_list("external_id", "current_agent__login_id", "agent_phase", "business_process_id")
        )
        for callback, agent, phase, business_process_id in in_progress:
            call = Call(callback, self.choose_outcome(), business_processes[business_process_id])
            self.resume_call(agent, call, phase)
        open_wrapups = list(
            Attempt.objects.filter(agent__login_id__in=self.calls, acw_ended_at__isnull=True)
            .exclude(completion_status__in=["", CompletionStatus.WITHDRAWN])
            .values_list("callback__external_id", "agent__login_id")
        )
        for callback, agent in open_wrapups:
            if self.calls.get(agent) is None or self.calls[agent].callback != callback:
                self.send("attempt.wrapup_completed", callback, agent=agent)
        if in_progress or open_wrapups:
            self.out(f"Resumed {len(in_progress)} calls in progress and ended {len(open_wrapups)} open wrap-ups.")

    def resume_call(self, agent: str, call: Call, phase: str) -> None:
        self.calls[agent] = call
        if phase == AgentPhase.OFFERED:
            self.at(self.later(ACCEPT_SECONDS), self.accept, agent)
        elif phase == AgentPhase.DIALING:
            call.outcome = PERSON if call.outcome == NO_ANSWER else call.outcome
            self.at(self.later(RING_SECONDS, cap=5), self.ring_ends, agent)
        else:  # Handling: a person or a voicemail is on the line
            call.outcome = call.outcome if call.outcome in CONNECTED_OUTCOMES else PERSON
            self.at(self.later(TALK_SECONDS[call.outcome]), self.hang_up, agent)

    def report(self) -> None:
        """The one-line summary printed every 10 s."""
        now, applied = time.monotonic(), self.stats["applied"]
        since, applied_then = self._last_report
        rate = (applied - applied_then) / max(now - since, 1e-6)
        self._last_report = (now, applied)
        busy = sum(call is not None for call in self.calls.values())
        s = self.stats
        self.out(
            f"{timezone.localtime():%H:%M:%S} events: {s['applied']} applied ({rate:.1f}/s), {s['rejected']} rejected"
            f" | callbacks: {s['requested']} requested, {s['reached']} reached, {s['failed']} failed"
            f" | agents busy: {busy}/{len(self.calls)}"
        )


# ---------------------------------------------------------------------------------------------------------
# The command


def agent_time_scale(rate: float, agents: int) -> float:
    """How much faster agents must work for `agents` of them to keep up with `rate` events a second."""
    busy_needed = rate / EVENTS_PER_CALLBACK * ATTEMPTS_PER_CALLBACK * BUSY_SECONDS_PER_ATTEMPT
    return max(1.0, busy_needed / (BUSY_TARGET * agents))


class Command(BaseCommand):
    help = "Play customers and agents against the ingest API at about N events a second (Ctrl-C stops)."

    def add_arguments(self, parser):
        parser.add_argument("--rate", type=float, default=2.0, help="Events per second, about (default 2).")
        parser.add_argument("--duration", type=float, help="Stop after this many seconds (default: run until Ctrl-C).")
        parser.add_argument("--seed", type=int, help="Random seed, for a reproducible run.")
        parser.add_argument("--api-url", help="Post to this server's ingest API instead of applying in-process.")
        parser.add_argument("--token", help="API token for --api-url (see manage.py create_api_token).")
        parser.add_argument(
            "--timers",
            action="store_true",
            help="Apply due timers every second in-process, for a run without Celery beat.",
        )

    def handle(self, *args, rate, duration, seed, api_url, token, timers, verbosity, **options):
        if rate <= 0:
            raise CommandError("--rate must be positive.")
        if api_url and not token:
            raise CommandError("--api-url needs --token (create one with manage.py create_api_token NAME).")
        if verbosity >= 2:
            log.setLevel(logging.DEBUG)
        agents = list(Agent.objects.filter(login_id__startswith=DEMO_AGENT_PREFIX).values_list("login_id", flat=True))
        if not agents:
            raise CommandError("No demo agents: run `manage.py load_demo` first.")
        scale = agent_time_scale(rate, len(agents))
        simulator = Simulator(
            send=HttpSender(api_url, token) if api_url else InProcessSender(engine.Actor("simulator")),
            clock=RealClock(),
            rng=random.Random(seed),
            agents=agents,
            scale=scale,
            timer_share=0.5 / scale,
            arrivals_per_second=rate / EVENTS_PER_CALLBACK,
            survives_database_errors=True,
            out=self.stdout.write,
        )
        target = api_url or "in-process ingest"
        self.stdout.write(
            f"Simulating {len(agents)} agents and their customers at about {rate:g} events/s ({target}); "
            f"agents work {scale:.1f}× faster than life. Ctrl-C stops."
        )
        in_main_thread = threading.current_thread() is threading.main_thread()
        previous_sigterm = signal.signal(signal.SIGTERM, _interrupt) if in_main_thread else None
        try:
            simulator.start_live(tick_seconds=1.0 if timers else None)
            simulator.run(until=timezone.now() + timedelta(seconds=duration) if duration else None)
        except KeyboardInterrupt:
            self.stdout.write("Stopped.")
        finally:
            if in_main_thread:
                signal.signal(signal.SIGTERM, previous_sigterm)
        simulator.report()


def _interrupt(signum, frame):
    raise KeyboardInterrupt
