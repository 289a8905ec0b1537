"""The what-if estimate on a constructed history with a known answer."""

from datetime import UTC, datetime, timedelta
from itertools import count

import pytest

from callbacks.choices import CallbackState, CompletionStatus, EndState
from callbacks.models import Attempt, Callback
from callbacks.whatif import estimate

pytestmark = pytest.mark.django_db

NOW = datetime.now(UTC).replace(microsecond=0)  # the page estimates from the real clock too
_refs = count(1)
NO_ANSWER, HANDLED = CompletionStatus.NO_ANSWER, CompletionStatus.HANDLED


def history(bp, statuses: list[str], waits: list[float] | None = None, ended_days_ago: float = 2):
    """One callback whose tries ended with these statuses, each retry `waits[i]` seconds after the previous try."""
    waits = waits or [600] * (len(statuses) - 1)
    reached = statuses[-1] == HANDLED
    start = NOW - timedelta(days=ended_days_ago, hours=6)
    callback = Callback.objects.create(
        external_id=f"cb-{next(_refs)}",
        business_process=bp,
        phone="+33142685300",
        state=CallbackState.COMPLETED,
        end_state=EndState.REACHED if reached else EndState.FAILED,
        attempts=sum(s != HANDLED for s in statuses),
        created=start,
        completed_at=NOW - timedelta(days=ended_days_ago),
    )
    at = start
    for number, status in enumerate(statuses, start=1):
        if number > 1:
            at += timedelta(seconds=waits[number - 2])
        Attempt.objects.create(
            callback=callback,
            business_process=bp,
            number=number,
            offered_at=at,
            completed_at=at + timedelta(seconds=30),
            completion_status=status,
        )
        at += timedelta(seconds=30)
    return callback


@pytest.fixture
def known(make_business_process):
    """10 reached on try 1, 6 on try 2, 4 on try 3; 20 failed after 3 tries (Attempts Before Failure 3)."""
    bp = make_business_process("WHATIF", attempts_before_failure=3, recall_intervals=[600])
    for _ in range(10):
        history(bp, [HANDLED])
    for _ in range(6):
        history(bp, [NO_ANSWER, HANDLED])
    for _ in range(4):
        history(bp, [NO_ANSWER, NO_ANSWER, HANDLED])
    for _ in range(20):
        history(bp, [NO_ANSWER] * 3)
    history(bp, [NO_ANSWER, HANDLED], ended_days_ago=15)  # outside the 14 days: ignored
    return bp


def test_the_history_as_it_was(known):
    result = estimate(known, now=NOW)

    assert (result.reached, result.failed) == (20, 20)
    assert result.reach_rate_by_try == {1: (10, 40), 2: (6, 30), 3: (4, 24)}
    assert (result.reached_change, result.failed_change) == (0, 0)


def test_lowering_attempts_before_failure_fails_exactly_the_callbacks_reached_late(known):
    result = estimate(known, attempts_before_failure=2, now=NOW)

    assert (result.reached_then, result.failed_then) == (16, 24)
    assert result.reached_change == -4


def test_raising_attempts_before_failure_gives_the_failed_ones_tries_at_the_observed_rate(known):
    result = estimate(known, attempts_before_failure=4, now=NOW)

    # The 20 failed ones get a 4th try; never observed, it reaches as often as the 3rd did: 4 of 24.
    assert result.reached_change == pytest.approx(20 * 4 / 24)
    assert result.failed_then == pytest.approx(20 - 20 * 4 / 24)

    two_more = estimate(known, attempts_before_failure=5, now=NOW)
    assert two_more.reached_change == pytest.approx(20 * (1 - (1 - 4 / 24) ** 2))


def test_shorter_recall_intervals_move_retries_to_the_wait_that_reaches_more_people(make_business_process):
    """Retries 10 min after a try reach one customer in four; retries after 2 h one in ten."""
    bp = make_business_process("RECALL", attempts_before_failure=3, recall_intervals=[600, 7200])
    for _ in range(5):
        history(bp, [NO_ANSWER, HANDLED], waits=[600])
    for _ in range(5):
        history(bp, [NO_ANSWER, NO_ANSWER], waits=[600])  # failed after 2 tries (an older limit)
    for _ in range(1):
        history(bp, [NO_ANSWER, NO_ANSWER, HANDLED], waits=[600, 7200])
    for _ in range(9):
        history(bp, [NO_ANSWER, NO_ANSWER, NO_ANSWER], waits=[600, 7200])

    result = estimate(bp, recall_intervals=[600, 600], now=NOW)

    # The 10 third tries move from the 1–4 h bucket (1 of 10 reached) to the 5–15 min one (5 of 20).
    assert result.reach_rate_by_wait == {1: (5, 20), 3: (1, 10)}
    assert result.reached_change == pytest.approx(10 * (5 / 20 - 1 / 10))
    assert estimate(bp, recall_intervals=[600, 7200], now=NOW).reached_change == 0


def test_no_history_estimates_nothing(make_business_process):
    bp = make_business_process("EMPTY")

    result = estimate(bp, attempts_before_failure=5, recall_intervals=[60], now=NOW)

    assert (result.reached, result.failed, result.reached_change) == (0, 0, 0)


def test_the_history_is_read_in_one_query(known, django_assert_num_queries):
    with django_assert_num_queries(1):
        estimate(known, attempts_before_failure=4, recall_intervals=[300], now=NOW)


def test_the_estimate_beside_the_timing_form(client, make_user, known):
    from django.urls import reverse

    url = reverse("business-process-what-if", kwargs={"code": known.code})
    client.force_login(make_user("administrators"))

    page = client.get(url, {"attempts_before_failure": 2}).content.decode()

    assert "an estimate" in page and "16.0" in page and "-4.0" in page and "24.0" in page
    assert client.get(url, {"recall_intervals": ["10m", "soon"]}).status_code == 400
    assert client.get(url, {"recall_intervals": ["10m", "10m"]}).status_code == 200
    assert client.get(url, {"attempts_before_failure": 0}).status_code == 400


@pytest.mark.parametrize("role", ["supervisors", "managers"])
def test_only_those_who_edit_the_timing_ask_what_if(client, make_user, known, role):
    from django.urls import reverse

    client.force_login(make_user(role))
    url = reverse("business-process-what-if", kwargs={"code": known.code})
    assert client.get(url, {"attempts_before_failure": 2}).status_code == 403
