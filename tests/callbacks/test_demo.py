"""The demo: load_demo's business processes, agents, users and day of history; the simulator's live traffic."""

import io
import random
import re
import stat
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.db import OperationalError
from django.utils import timezone

from callbacks.choices import CallbackState, EndState
from callbacks.management.commands.simulate import InProcessSender, RealClock, Simulator
from callbacks.models import (
    Agent,
    Attempt,
    AuditEntry,
    BusinessProcess,
    Callback,
    IngestedEvent,
    ScheduleException,
    ScheduleRange,
)
from callbacks.phones import normalize_phone
from callbacks.schedule import is_dispatchable

pytestmark = pytest.mark.slow

ROLES = {"supervisor": "supervisors", "admin": "administrators", "manager": "managers"}


@pytest.fixture
def logins_file(db, settings, tmp_path):
    """Keep the tests' demo logins away from the checkout's .run/demo-logins.txt."""
    settings.DEMO_LOGINS_FILE = tmp_path / "run" / "demo-logins.txt"
    return settings.DEMO_LOGINS_FILE


def load_demo(*args: str) -> str:
    out = io.StringIO()
    call_command("load_demo", "--seed", "7", *args, stdout=out)
    return out.getvalue()


def printed_logins(output: str) -> dict[str, str]:
    return dict(re.findall(r"^  (supervisor|admin|manager)\s+(\S+)", output, re.MULTILINE))


def counts() -> dict[str, int]:
    models = [BusinessProcess, ScheduleRange, ScheduleException, Agent, User, Callback, Attempt, AuditEntry]
    return {model.__name__: model.objects.count() for model in models + [IngestedEvent]}


def test_load_demo_creates_business_processes_agents_users_and_a_day_of_history(logins_file):
    output = load_demo()

    business_processes = BusinessProcess.objects.prefetch_related("schedule_ranges", "schedule_exceptions")
    assert len(business_processes) == 12
    assert {bp.time_zone for bp in business_processes} == {"Europe/Paris", "America/New_York"}
    for business_process in business_processes:
        business_process.full_clean()  # Callback Timing settings within bounds
    assert sum(bp.is_stopped for bp in business_processes) == 1
    assert any(is_dispatchable(bp, timezone.now()) for bp in business_processes), "the 24/7 one is always Active"
    assert ScheduleRange.objects.filter(weekday=5).exists(), "some open on Saturday mornings"
    lunch_breaks = [bp for bp in business_processes if sum(r.weekday == 0 for r in bp.schedule_ranges.all()) == 2]
    assert lunch_breaks
    assert ScheduleException.objects.filter(start__isnull=True).exists(), "a holiday, closed"
    assert ScheduleException.objects.filter(start__isnull=False).exists(), "a day of special hours"

    assert Agent.objects.filter(login_id__regex=r"^agent\.[a-z]+$").exclude(display_name="").count() == 40

    logins = printed_logins(output)
    assert set(logins) == set(ROLES)
    for username, group in ROLES.items():
        user = User.objects.get(username=username)
        assert list(user.groups.values_list("name", flat=True)) == [group]
        assert user.check_password(logins[username])
        assert user.is_staff == (username == "admin")
    assert stat.S_IMODE(logins_file.stat().st_mode) == 0o600
    assert all(password in logins_file.read_text() for password in logins.values())

    callbacks = Callback.objects.all()
    assert callbacks.count() >= 100
    end_states = set(callbacks.exclude(end_state="").values_list("end_state", flat=True))
    assert EndState.REACHED in end_states
    assert len(end_states & {EndState.FAILED, EndState.WRONG_DESTINATION, EndState.CANCELLED}) >= 2
    assert 0.4 < callbacks.filter(end_state=EndState.REACHED).count() / callbacks.count() < 0.9
    assert callbacks.filter(state=CallbackState.SCHEDULED).exists(), "some still pending or scheduled for later"
    now = timezone.now()
    offered = Attempt.objects.exclude(offered_at=None).values_list("offered_at", flat=True)
    assert min(offered) > now - timedelta(hours=24) and max(offered) < now
    assert "Demo logins:" in output


def test_load_demo_again_changes_nothing_and_prints_the_same_logins(logins_file):
    first = load_demo("--callbacks", "40")
    before = counts()

    second = load_demo("--callbacks", "40")

    assert counts() == before
    assert "already loaded" in second
    assert printed_logins(second) == printed_logins(first)


def test_without_the_logins_file_the_demo_users_get_new_passwords(logins_file):
    first = printed_logins(load_demo("--callbacks", "20"))
    logins_file.unlink()

    second = printed_logins(load_demo("--callbacks", "20"))

    assert second.keys() == first.keys() and second != first
    for username, password in second.items():
        assert User.objects.get(username=username).check_password(password)
    assert logins_file.exists()


def test_reset_deletes_the_demo_data_and_loads_it_again(logins_file):
    load_demo("--callbacks", "20")
    old_callbacks = set(Callback.objects.values_list("external_id", flat=True))

    output = load_demo("--reset", "--callbacks", "20")

    assert "Deleted the demo data." in output
    assert BusinessProcess.objects.count() == 12 and Agent.objects.count() == 40
    assert not old_callbacks & set(Callback.objects.values_list("external_id", flat=True))
    assert not IngestedEvent.objects.filter(callback_ref__in=old_callbacks).exists()
    assert User.objects.filter(username__in=ROLES).count() == 3


def test_simulate_applies_events_and_creates_callbacks(logins_file):
    load_demo("--callbacks", "30")
    callbacks_before, events_before = Callback.objects.count(), IngestedEvent.objects.count()
    out = io.StringIO()

    call_command("simulate", "--duration", "3", "--rate", "50", "--seed", "1", stdout=out)

    assert Callback.objects.count() > callbacks_before
    assert IngestedEvent.objects.count() > events_before + 20
    assert Attempt.objects.filter(
        agent__login_id__startswith="agent.", offered_at__gt=timezone.now() - timedelta(seconds=10)
    )
    assert re.search(r"events: \d+ applied", out.getvalue())


def test_simulated_customers_have_valid_phone_numbers_of_their_country(db):
    simulator = Simulator(send=InProcessSender(None), clock=RealClock(), rng=random.Random(1), agents=[])
    for _ in range(50):
        assert normalize_phone(simulator.phone_number("FR")).startswith("+33")
        assert normalize_phone(simulator.phone_number("US")).startswith("+1")


def test_a_live_run_survives_database_errors_and_frees_the_agent(logins_file):
    load_demo("--callbacks", "10")

    def locked(event):
        raise OperationalError("database is locked")

    simulator = Simulator(
        send=locked,
        clock=RealClock(),
        rng=random.Random(1),
        agents=["agent.jdupont"],
        survives_database_errors=True,
    )
    now = timezone.now()
    simulator.at(now, simulator.customer_requests_callback)
    simulator.at(now, simulator.offer, "agent.jdupont", "CB-1", BusinessProcess.objects.get(code="ASSIST_24_7"))

    simulator.run(until=now + timedelta(milliseconds=100))

    assert simulator.stats["rejected"] >= 2
    assert simulator.calls == {"agent.jdupont": None}
