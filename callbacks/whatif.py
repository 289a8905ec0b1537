"""What if Attempts Before Failure or the Recall Intervals had been different? An estimate from history.

The last 14 days of a business process are replayed from its recorded attempts. Only the callbacks that
ended Reached or Failed are concerned: the others ended for reasons these settings do not touch.

A *try* is an attempt that counts towards failure or reaches the customer: Handled (reached), No Answer or
Answering Machine. For Attempts Before Failure:

- lowered to N: a callback reached on a try after the N-th would have failed instead — counted exactly;
- raised to N: a callback that failed after t tries would have had tries t+1 … N, each reaching the customer
  with the reach rate observed at that try number (the rate of the last try number observed, when history
  never went that far) — an expected value, so fractional.

For the Recall Intervals, tries are grouped by how long the customer had waited since the previous try
(buckets of ``WAIT_BUCKETS``) and each bucket's reach rate is observed. Every retry of the history is moved
to the wait the new intervals give it (its queue time kept), and the change in expected reached callbacks is
the sum of the changes of its bucket's rate. A retry whose new wait falls in a bucket never observed keeps
its old rate. Knock-on effects (a retry reached earlier needs no later one) are ignored: this is an estimate,
and the page says so.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.utils import timezone

from .choices import CompletionStatus, EndState
from .models import Attempt, BusinessProcess

HISTORY_DAYS = 14
TRIES = (CompletionStatus.HANDLED, CompletionStatus.NO_ANSWER, CompletionStatus.ANSWERING_MACHINE)
# Upper bounds (seconds) of the waits between tries: < 5 min, < 15 min, < 1 h, < 4 h, < 1 day, longer.
WAIT_BUCKETS = [5 * 60, 15 * 60, 3600, 4 * 3600, 24 * 3600]
WAIT_LABELS = ["under 5 min", "5–15 min", "15 min–1 h", "1–4 h", "4 h–1 day", "over a day"]


@dataclass
class History:
    """Per callback that ended Reached or Failed: its tries in order, each (reached, wait before it in s)."""

    callbacks: dict[object, list[tuple[bool, float | None]]] = field(default_factory=dict)

    @property
    def reached(self) -> int:
        return sum(1 for tries in self.callbacks.values() if tries and tries[-1][0])

    @property
    def failed(self) -> int:
        return len(self.callbacks) - self.reached

    def reach_rate_by_try(self) -> dict[int, tuple[int, int]]:
        """Try number → (reached on it, callbacks that had it)."""
        rates: dict[int, list[int]] = defaultdict(lambda: [0, 0])
        for tries in self.callbacks.values():
            for number, (reached, _) in enumerate(tries, start=1):
                rates[number][1] += 1
                rates[number][0] += reached
        return {number: (reached, tried) for number, (reached, tried) in sorted(rates.items())}

    def reach_rate_by_wait(self) -> dict[int, tuple[int, int]]:
        """Wait bucket → (retries that reached the customer, retries), over tries 2, 3…"""
        rates: dict[int, list[int]] = defaultdict(lambda: [0, 0])
        for tries in self.callbacks.values():
            for reached, wait in tries[1:]:
                if wait is not None:
                    bucket = bisect.bisect_right(WAIT_BUCKETS, wait)
                    rates[bucket][1] += 1
                    rates[bucket][0] += reached
        return {bucket: (reached, tried) for bucket, (reached, tried) in sorted(rates.items())}


@dataclass
class Estimate:
    """The history as it was, and as it would have been with the changed settings."""

    since: datetime
    reached: int
    failed: int
    reached_then: float
    failed_then: float
    reach_rate_by_try: dict[int, tuple[int, int]]
    reach_rate_by_wait: dict[int, tuple[int, int]]

    @property
    def reached_change(self) -> float:
        return self.reached_then - self.reached

    @property
    def failed_change(self) -> float:
        return self.failed_then - self.failed


def load_history(business_process: BusinessProcess, since: datetime, until: datetime) -> History:
    """The tries of the callbacks that ended Reached or Failed in [since, until), in one query."""
    tries = (
        Attempt.objects.filter(
            callback__business_process=business_process,
            callback__end_state__in=[EndState.REACHED, EndState.FAILED],
            callback__completed_at__gte=since,
            callback__completed_at__lt=until,
            completion_status__in=TRIES,
        )
        .order_by("callback_id", "number")
        .values_list("callback_id", "completion_status", "offered_at", "completed_at", named=True)
    )
    history = History()
    previous_end: dict[object, datetime | None] = {}
    for attempt in tries:
        ended_before = previous_end.get(attempt.callback_id)
        wait = (attempt.offered_at - ended_before).total_seconds() if ended_before and attempt.offered_at else None
        history.callbacks.setdefault(attempt.callback_id, []).append(
            (attempt.completion_status == CompletionStatus.HANDLED, wait)
        )
        previous_end[attempt.callback_id] = attempt.completed_at
    return history


def estimate(
    business_process: BusinessProcess,
    *,
    attempts_before_failure: int | None = None,
    recall_intervals: list[int] | None = None,
    now: datetime | None = None,
) -> Estimate:
    """What the last 14 days would have looked like with these settings (None: the current one)."""
    now = now or timezone.now()
    since = now - timedelta(days=HISTORY_DAYS)
    history = load_history(business_process, since, now)
    by_try, by_wait = history.reach_rate_by_try(), history.reach_rate_by_wait()
    reached_change = 0.0
    if attempts_before_failure is not None:
        reached_change += _attempts_change(history, by_try, attempts_before_failure)
    if recall_intervals is not None:
        reached_change += _recall_change(history, by_wait, business_process.recall_intervals, recall_intervals)
    return Estimate(
        since=since,
        reached=history.reached,
        failed=history.failed,
        reached_then=history.reached + reached_change,
        failed_then=history.failed - reached_change,
        reach_rate_by_try=by_try,
        reach_rate_by_wait=by_wait,
    )


def _attempts_change(history: History, by_try: dict[int, tuple[int, int]], limit: int) -> float:
    change = 0.0
    for tries in history.callbacks.values():
        reached = tries[-1][0]
        if reached and len(tries) > limit:
            change -= 1  # its reaching try would never have come
        elif not reached and len(tries) < limit:
            missed = 1.0
            for number in range(len(tries) + 1, limit + 1):
                missed *= 1 - _rate_at(by_try, number)
            change += 1 - missed
    return change


def _rate_at(by_try: dict[int, tuple[int, int]], number: int) -> float:
    """The reach rate observed at a try number, or at the last try number history went to."""
    known = [n for n, (_, tried) in by_try.items() if tried and n <= number]
    if not known:
        return 0.0
    reached, tried = by_try[max(known)]
    return reached / tried


def _recall_change(
    history: History, by_wait: dict[int, tuple[int, int]], old_intervals: list[int], new_intervals: list[int]
) -> float:
    def rate(bucket: int) -> float | None:
        reached, tried = by_wait.get(bucket, (0, 0))
        return reached / tried if tried else None

    def interval(intervals: list[int], after_try: int) -> int:
        return intervals[min(after_try, len(intervals)) - 1]

    change = 0.0
    for tries in history.callbacks.values():
        for number, (_, wait) in enumerate(tries[1:], start=2):
            if wait is None:
                continue
            queue_time = max(wait - interval(old_intervals, number - 1), 0)
            new_wait = queue_time + interval(new_intervals, number - 1)
            old_rate = rate(bisect.bisect_right(WAIT_BUCKETS, wait))
            new_rate = rate(bisect.bisect_right(WAIT_BUCKETS, new_wait))
            if old_rate is not None and new_rate is not None:
                change += new_rate - old_rate
    return change
