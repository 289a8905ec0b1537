"""The monitor benchmark's history: business processes, and callbacks with attempts as PostgreSQL COPY text.

Realistic enough for the monitor's queries: 14 days of callbacks spread unevenly over the business processes,
most completed (end states in the proportions of END_STATES, their attempts with offer, accept, answer,
completion and ACW-end times, recall intervals between attempts), about 7 % still open (pending with a future
due time, or queued). Times are generated backwards from each callback's end so that nothing lies in the
future. Pure Python, no Django: bench/monitor_load.py writes the lines with COPY.
"""

from __future__ import annotations

import bisect
import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

TIME_ZONES = {
    "Paris": "Europe/Paris",
    "London": "Europe/London",
    "New York": "America/New_York",
    "Chicago": "America/Chicago",
    "Los Angeles": "America/Los_Angeles",
    "São Paulo": "America/Sao_Paulo",
    "Johannesburg": "Africa/Johannesburg",
    "Mumbai": "Asia/Kolkata",
    "Tokyo": "Asia/Tokyo",
    "Sydney": "Australia/Sydney",
    "Remote": "UTC",
}
DEPARTMENTS = ["Sales", "Support", "Billing", "Claims", "Renewals", "Technical", "Retention", "Bookings"]
SHIFT_PATTERNS = [(["00:00"], 0.7), (["06:00", "14:00", "22:00"], 0.2), (["08:00", "20:00"], 0.1)]
# How completed callbacks ended (share of the completed ones).
END_STATES = [
    ("reached", 0.62),
    ("failed", 0.14),
    ("cancelled", 0.12),
    ("wrong_destination", 0.05),
    ("purged", 0.04),
    ("aborted", 0.03),
]
HISTORY_DAYS = 14
RECALL = [300, 900, 3600]  # the default Recall Intervals


CALLBACK_COLUMNS = [
    "id",
    "external_id",
    "business_process_id",
    "phone",
    "customer_name",
    "desired_time",
    "owner_agent_id",
    "current_agent_id",
    "state",
    "agent_phase",
    "end_state",
    "attempts",
    "was_scheduled",
    "created",
    "queued_at",
    "due_at",
    "last_attempt_at",
    "completed_at",
    "updated",
]
ATTEMPT_COLUMNS = [
    "callback_id",
    "number",
    "agent_id",
    "offered_at",
    "accepted_at",
    "connected_at",
    "answered_by",
    "completed_at",
    "completion_status",
    "completed_by_timer",
    "acw_ended_at",
    "business_process_id",
]
NULL = "\\N"


@dataclass
class History:
    """Callbacks and their attempts as COPY text lines; every time is a POSIX timestamp until formatted."""

    now: float
    rng: random.Random
    business_process_ids: list[int]
    agent_ids: list[int]
    open_fraction: float
    open: int = 0
    _weights: list[float] = field(default_factory=list)
    _minutes: dict[int, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Some business processes are much busier than others.
        weights = [self.rng.lognormvariate(0, 0.8) for _ in self.business_process_ids]
        total = sum(weights)
        self._cumulative = list(_accumulate(w / total for w in weights))
        self._end_states = list(_accumulate(w for _, w in END_STATES))

    def ts(self, t: float | None) -> str:
        """COPY text of a timestamp, fast (formatting is most of the generation time)."""
        if t is None:
            return NULL
        minute, seconds = divmod(t, 60)
        prefix = self._minutes.get(minute)
        if prefix is None:
            prefix = self._minutes[minute] = datetime.fromtimestamp(minute * 60, UTC).strftime("%Y-%m-%d %H:%M:")
        return f"{prefix}{seconds:09.6f}+00"

    def callback(self, n: int, attempt_lines: list[str]) -> str:
        rng = self.rng
        callback_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        bp = self.business_process_ids[_pick(self._cumulative, rng.random())]
        if rng.random() < self.open_fraction:
            self.open += 1
            fields, attempts = self._open_callback(callback_id)
        else:
            end_state = END_STATES[_pick(self._end_states, rng.random() * self._end_states[-1])][0]
            fields, attempts = self._completed_callback(callback_id, end_state)
        attempt_lines.extend(f"{line[:-1]}\t{bp}\n" for line in attempts)  # its business process, last
        ts = self.ts
        return (
            f"{callback_id}\tload-{n:07d}\t{bp}\t+1212{n % 10_000_000:07d}\tCustomer {n}\t{ts(fields['desired'])}\t"
            f"{NULL}\t{NULL}\t{fields['state']}\t\t{fields['end_state']}\t{fields['attempts']}\t"
            f"{'t' if fields['desired'] else 'f'}\t{ts(fields['created'])}\t{ts(fields['queued'])}\t"
            f"{ts(fields['due'])}\t{ts(fields['last_attempt'])}\t{ts(fields['completed'])}\t"
            f"{ts(fields['completed'] or self.now)}\n"
        )

    def _completed_callback(self, callback_id: str, end_state: str) -> tuple[dict, list[str]]:
        rng = self.rng
        end = self.now - rng.random() * HISTORY_DAYS * 86400
        tries = {0: 0.65, 1: 0.22, 2: 0.13}
        prior = rng.choices(list(tries), list(tries.values()))[0]  # unsuccessful attempts before the last
        if end_state == "reached":
            plan = [rng.choice(["no_answer", "answering_machine"]) for _ in range(prior)] + ["handled"]
        elif end_state == "failed":
            plan = [rng.choice(["no_answer", "answering_machine"]) for _ in range(3)]
        elif end_state == "wrong_destination":
            plan = ["no_answer"] * min(prior, 1) + ["wrong_destination"]
        elif end_state == "aborted":
            plan = ["no_answer"] * min(prior, 1) + ["aborted"]
        else:  # purged or cancelled by a person, after at most one attempt
            plan = ["no_answer"] * min(prior, 1)
        # A person purged or cancelled it a while after its last attempt; otherwise the last attempt ended it.
        removed_by_person = end_state in ("purged", "cancelled")
        last_attempt_end = end - rng.uniform(60, 3600) if removed_by_person else end
        attempts, first_offer = self._attempts_ending(plan, last_attempt_end)
        created = (first_offer or end) - rng.uniform(10, 1200)
        offers = [a[1] for a in attempts if a[1] is not None]
        fields = {
            "state": "completed",
            "end_state": end_state,
            "attempts": sum(1 for s in plan if s in ("no_answer", "answering_machine")),
            "desired": None,
            "created": created,
            "queued": (offers[-1] - rng.uniform(5, 600)) if offers else created,
            "due": None,
            "last_attempt": offers[-1] if offers else None,
            "completed": end,
        }
        return fields, [self._attempt_line(callback_id, *a) for a in attempts]

    def _open_callback(self, callback_id: str) -> tuple[dict, list[str]]:
        rng = self.rng
        created = self.now - rng.uniform(0, 6 * 3600)
        prior = rng.choices([0, 1, 2], [0.6, 0.25, 0.15])[0]
        attempts, t = [], created + rng.uniform(10, 900)
        for number in range(1, prior + 1):
            attempt = self._attempt(rng.choice(["no_answer", "answering_machine"]), t)
            if attempt[4] > self.now:  # it would not have ended yet
                break
            attempts.append((number, *attempt))
            t = attempt[4] + RECALL[number - 1] + rng.uniform(0, 600)
        pending = rng.random() < 0.45
        desired = None
        if pending and not attempts and rng.random() < 0.5:
            desired = self.now + rng.uniform(600, 2 * 86400)  # scheduled for later by the customer
        fields = {
            "state": "scheduled" if pending else "queued",
            "end_state": "",
            "attempts": len(attempts),
            "desired": desired,
            "created": created,
            "queued": None if pending else min(t, self.now),
            "due": (desired or self.now + rng.uniform(60, 3600)) if pending else None,
            "last_attempt": attempts[-1][1] if attempts else None,
            "completed": None,
        }
        return fields, [self._attempt_line(callback_id, *a) for a in attempts]

    def _attempts_ending(self, plan: list[str], end: float) -> tuple[list[tuple], float | None]:
        """The attempts of ``plan``, built backwards so that the last one completes at ``end``."""
        rng = self.rng
        attempts = []
        completed = end
        for number in range(len(plan), 0, -1):
            offered, accepted, connected, answered_by, done, status, timer, acw = self._attempt(
                plan[number - 1], None, completed
            )
            attempts.append((number, offered, accepted, connected, answered_by, done, status, timer, acw))
            # The attempt before: it ended, the callback waited out the recall interval, then the queue.
            completed = (offered if offered is not None else done) - RECALL[min(number - 2, 2)] - rng.uniform(5, 600)
        attempts.reverse()
        first_offer = next((a[1] for a in attempts if a[1] is not None), None)
        return attempts, first_offer

    def _attempt(self, status: str, offered: float | None, completed: float | None = None) -> tuple:
        """(offered, accepted, connected, answered_by, completed, status, by_timer, acw_end) of one attempt."""
        rng = self.rng
        if status == "aborted":
            t = completed if completed is not None else offered
            return None, None, None, "", t, "aborted", False, None
        ring = rng.uniform(2, 10)
        if status == "handled":
            talk = min(max(rng.lognormvariate(5.2, 0.6), 30), 1800)  # median ≈ 3 min
            before_answer = rng.uniform(5, 25)
        elif status == "wrong_destination":
            talk, before_answer = rng.uniform(10, 60), rng.uniform(5, 25)
        elif status == "answering_machine":
            talk, before_answer = rng.uniform(10, 40), rng.uniform(10, 30)
        else:  # no_answer: dialing until the agent or the timer gives up
            talk, before_answer = 0, rng.uniform(20, 60)
        duration = ring + before_answer + talk
        if completed is None:
            completed = offered + duration
        offered = completed - duration
        accepted = offered + ring
        answered = status != "no_answer"
        connected = accepted + before_answer if answered else None
        answered_by = (
            ("voicemail" if status == "answering_machine" or rng.random() < 0.1 else "person") if answered else ""
        )
        by_timer = status == "no_answer" and rng.random() < 0.5
        acw = completed + (rng.uniform(10, 120) if status == "handled" else rng.uniform(5, 30))
        return (
            offered,
            accepted,
            connected,
            answered_by,
            completed,
            status,
            by_timer,
            (acw if acw <= self.now else None),
        )

    def _attempt_line(self, callback_id, number, offered, accepted, connected, answered_by, done, status, timer, acw):
        ts = self.ts
        agent = NULL if offered is None else str(self.rng.choice(self.agent_ids))
        return (
            f"{callback_id}\t{number}\t{agent}\t{ts(offered)}\t{ts(accepted)}\t{ts(connected)}\t{answered_by}\t"
            f"{ts(done)}\t{status}\t{'t' if timer else 'f'}\t{ts(acw)}\n"
        )


def _accumulate(values):
    total = 0.0
    for value in values:
        total += value
        yield total


def _pick(cumulative: list[float], x: float) -> int:
    return min(bisect.bisect_right(cumulative, x), len(cumulative) - 1)
