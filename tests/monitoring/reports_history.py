"""A constructed history for the report tests: five completed callbacks whose times straddle midnight in
UTC and in Europe/Paris and the DST change of Sunday 29 March 2026 (01:00 UTC; Paris goes from +01:00 to
+02:00). Written straight to the database to get exact times; the engine's own Aborted / Withdrawn attempts
have the shapes recorded here (an Aborted attempt has no offer and no agent)."""

from datetime import UTC, datetime

from callbacks.choices import CallbackState, CompletionStatus, EndState
from callbacks.models import Agent, Attempt, BusinessProcess, Callback


def utc(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=UTC)


def completed_callback(bp, external_id, *, end_state, created, completed, phone="+12125550134", name="", attempts=()):
    callback = Callback.objects.create(
        external_id=external_id,
        business_process=bp,
        phone=phone,
        customer_name=name,
        state=CallbackState.COMPLETED,
        end_state=end_state,
        created=created,
        completed_at=completed,
        attempts=len(attempts),
    )
    for number, (agent, offered_at, completed_at, status) in enumerate(attempts, start=1):
        Attempt.objects.create(
            callback=callback,
            business_process=bp,
            number=number,
            agent=agent,
            offered_at=offered_at,
            completed_at=completed_at,
            completion_status=status,
        )
    return callback


def build_history() -> dict:
    sales = BusinessProcess.objects.create(code="SALES", name="Sales", time_zone="Europe/Paris")
    support = BusinessProcess.objects.create(code="SUPPORT", name="Support")
    alice = Agent.objects.create(login_id="alice", display_name="Alice Martin")
    bob = Agent.objects.create(login_id="bob-22")  # no display name: the login id stands for it
    # Completed 27 Mar 23:30 UTC = 28 Mar 00:30 in Paris.
    completed_callback(
        sales,
        "cb-late",
        end_state=EndState.REACHED,
        created=utc(27, 22),
        completed=utc(27, 23, 30),
        name="Late Larry",
        attempts=[(alice, utc(27, 23, 10), utc(27, 23, 20), CompletionStatus.HANDLED)],
    )
    # Two agents: No Answer by Alice, then Handled by Bob.
    completed_callback(
        sales,
        "cb-reached",
        end_state=EndState.REACHED,
        created=utc(27, 9),
        completed=utc(28, 10, 7),
        phone="+33142685300",
        name="Marie Curie",
        attempts=[
            (alice, utc(27, 9, 5), utc(27, 9, 6), CompletionStatus.NO_ANSWER),
            (bob, utc(28, 10), utc(28, 10, 5), CompletionStatus.HANDLED),
        ],
    )
    # Removed because the schedule closed before it was tried: the engine's Aborted attempt.
    completed_callback(
        support,
        "cb-aborted",
        end_state=EndState.ABORTED,
        created=utc(28, 16),
        completed=utc(28, 17),
        name="Ada Lovelace",
        attempts=[(None, None, utc(28, 17), CompletionStatus.ABORTED)],
    )
    # Purged without any attempt.
    completed_callback(support, "cb-purged", end_state=EndState.PURGED, created=utc(29, 7), completed=utc(29, 8))
    # Offered, then cancelled: the offer Withdrawn. 29 Mar 23:30 UTC = 30 Mar 01:30 in Paris (after DST).
    completed_callback(
        sales,
        "cb-withdrawn",
        end_state=EndState.CANCELLED,
        created=utc(29, 23),
        completed=utc(29, 23, 30),
        name="Grace Hopper",
        attempts=[(alice, utc(29, 23, 20), utc(29, 23, 30), CompletionStatus.WITHDRAWN)],
    )
    return {"sales": sales, "support": support, "alice": alice, "bob": bob}


# 28–29 March in each zone.
UTC_DAYS = {"date_from": "2026-03-28", "date_to": "2026-03-29", "time_zone": "UTC"}
PARIS_DAYS = {"date_from": "2026-03-28", "date_to": "2026-03-29", "time_zone": "Europe/Paris"}
