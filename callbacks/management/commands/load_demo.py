"""Load the demo: business processes in Paris and New York, 40 agents, one user per role, and a day of history.

    python manage.py load_demo            # loads once; when already loaded, says so and prints the logins again
    python manage.py load_demo --reset    # deletes the demo data and loads it afresh

The history is played, not written: the simulator (``simulate.py``) runs on a virtual clock over the last
24 hours and every event goes through ``ingest()`` with its past ``occurred_at``; the timers (no answer,
recall releases, schedule openings and closings) fire through ``engine.apply_due_timers(now=…)`` as the
virtual clock passes them. What is left at the end is what the engine made of it: reached, failed, wrong
destinations, cancels, callbacks pending or queued now and some scheduled for later.

The demo users' passwords are random, made on first load and kept in ``.run/demo-logins.txt`` (mode 600), so
that every later run — ``make run`` calls this command each time — can print them again.
"""

from __future__ import annotations

import hashlib
import os
import random
import secrets
import time
import unicodedata
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group, User
from django.core.management.base import BaseCommand
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from callbacks import engine
from callbacks.choices import CallbackState
from callbacks.models import (
    Agent,
    AuditEntry,
    BusinessProcess,
    Callback,
    IngestedEvent,
    ScheduleException,
    ScheduleRange,
)
from callbacks.schedule import is_dispatchable

from .simulate import (
    AGENT_CANCEL,
    CALLBACK_REQUESTED,
    DEMO_AGENT_PREFIX,
    NO_ANSWER,
    PERSON,
    VOICEMAIL_HANGUP,
    VOICEMAIL_MESSAGE,
    WRONG_NUMBER,
    InProcessSender,
    Simulator,
    VirtualClock,
)

PARIS, NEW_YORK = "Europe/Paris", "America/New_York"
MON_FRI, SATURDAY, SUNDAY, EVERY_DAY = range(5), [5], [6], range(7)


def hours(days, *ranges: tuple[str, str]) -> list[tuple[int, str, str]]:
    """Weekly open ranges: the same (start, end) ranges on each of `days`; an end of 00:00 is midnight."""
    return [(day, start, end) for day in days for start, end in ranges]


@dataclass(frozen=True)
class DatedException:
    """A dated exception, on the next `month`/`day` to come: closed all day, or open `start`–`end` only."""

    month: int
    day: int
    note: str
    start: str | None = None
    end: str | None = None


@dataclass(frozen=True)
class DemoBusinessProcess:
    code: str
    name: str
    time_zone: str
    hours: list[tuple[int, str, str]]
    no_answer_seconds: int = 60
    attempts_before_failure: int = 3
    recall_intervals: list[int] = field(default_factory=lambda: [300, 900, 3600])
    shift_starts: list[str] = field(default_factory=lambda: ["00:00"])
    max_schedule_ahead_days: int = 30
    exceptions: list[DatedException] = field(default_factory=list)
    stopped_hours_ago: float | None = None  # a supervisor stopped it that long ago


OFFICE_HOURS = hours(MON_FRI, ("08:00", "18:00"))
BUSINESS_PROCESSES = [
    DemoBusinessProcess(
        "SALES_FR", "Ventes France", PARIS, OFFICE_HOURS + hours(SATURDAY, ("09:00", "12:00")),
        no_answer_seconds=45, shift_starts=["08:00"], max_schedule_ahead_days=14,
    ),
    DemoBusinessProcess(
        "SUPPORT_FR", "Support technique France", PARIS, hours(MON_FRI, ("08:00", "12:30"), ("13:30", "18:00")),
        attempts_before_failure=4, recall_intervals=[120, 600, 1800], shift_starts=["08:00"],
        max_schedule_ahead_days=7,
    ),
    DemoBusinessProcess(
        "BILLING_FR", "Facturation France", PARIS, hours(MON_FRI, ("09:00", "17:00")),
        exceptions=[DatedException(12, 25, "Noël : fermé")],
    ),
    DemoBusinessProcess(
        "RETENTION_FR", "Fidélisation France", PARIS, OFFICE_HOURS,
        no_answer_seconds=90, attempts_before_failure=5, recall_intervals=[600, 3600, 14400], stopped_hours_ago=3,
    ),
    DemoBusinessProcess(
        "CLAIMS_FR", "Sinistres auto", PARIS,
        hours(MON_FRI, ("08:30", "12:30"), ("14:00", "18:00")) + hours(SATURDAY, ("09:00", "12:00")),
        no_answer_seconds=40, recall_intervals=[900, 3600], max_schedule_ahead_days=7,
    ),
    DemoBusinessProcess(
        "ASSIST_24_7", "Assistance 24/7", PARIS, hours(EVERY_DAY, ("00:00", "00:00")),
        no_answer_seconds=30, attempts_before_failure=2, recall_intervals=[300, 600],
        shift_starts=["06:00", "14:00", "22:00"], max_schedule_ahead_days=2,
    ),
    DemoBusinessProcess(
        "SALES_US", "Sales US", NEW_YORK, OFFICE_HOURS + hours(SATURDAY, ("09:00", "13:00")),
        no_answer_seconds=45, shift_starts=["08:00"], max_schedule_ahead_days=14,
    ),
    DemoBusinessProcess(
        "SUPPORT_US", "Customer Support US", NEW_YORK, hours(MON_FRI, ("08:00", "20:00")),
        attempts_before_failure=4, recall_intervals=[300, 1800, 7200], shift_starts=["08:00", "14:00"],
        exceptions=[DatedException(12, 24, "Christmas Eve: closes at 1 pm", "08:00", "13:00")],
    ),
    DemoBusinessProcess(
        "BILLING_US", "Billing US", NEW_YORK, hours(MON_FRI, ("09:00", "12:00"), ("13:00", "17:00")),
        recall_intervals=[900, 3600],
    ),
    DemoBusinessProcess(
        "COLLECTIONS_US", "Collections US", NEW_YORK, OFFICE_HOURS,
        no_answer_seconds=30, attempts_before_failure=6, recall_intervals=[1800, 7200, 86400],
        max_schedule_ahead_days=7,
    ),
    DemoBusinessProcess(
        "ONBOARDING_US", "New Customer Onboarding", NEW_YORK, hours(MON_FRI, ("10:00", "16:00")),
        no_answer_seconds=90, attempts_before_failure=2, recall_intervals=[3600],
    ),
    DemoBusinessProcess(
        "CONCIERGE_US", "Premium Concierge", NEW_YORK,
        hours([0, 1, 2, 3, 4, 5], ("07:00", "21:00")) + hours(SUNDAY, ("10:00", "16:00")),
        no_answer_seconds=120, attempts_before_failure=5, recall_intervals=[60, 300, 900], max_schedule_ahead_days=1,
    ),
]  # fmt: skip
DEMO_CODES = [bp.code for bp in BUSINESS_PROCESSES]

AGENT_NAMES = [
    # Paris
    "Jeanne Dupont", "Marc Lefèvre", "Sophie Martin", "Thomas Bernard", "Camille Durand", "Nicolas Moreau",
    "Isabelle Laurent", "Julien Simon", "Aurélie Michel", "Romain Garcia", "Élodie Roux", "Sébastien Fournier",
    "Nathalie Girard", "Maxime Bonnet", "Céline Lambert", "Guillaume Fontaine", "Amélie Chevalier",
    "Florian Rousseau", "Pauline Blanc", "Alexandre Guérin",
    # New York
    "John Miller", "Emily Carter", "Michael Brooks", "Sarah Johnson", "David Kim", "Jessica Nguyen",
    "Robert Hayes", "Ashley Turner", "Daniel Rivera", "Lauren Mitchell", "Kevin O'Brien", "Megan Foster",
    "Brian Cooper", "Rachel Evans", "Jason Patel", "Amanda Reed", "Tyler Morgan", "Nicole Bennett",
    "Eric Sullivan", "Heather Price",
]  # fmt: skip

# username, group, first name, last name, staff (Django admin access)
DEMO_USERS = [
    ("supervisor", "supervisors", "Sam", "Supervisor", False),
    ("admin", "administrators", "Alex", "Admin", True),
    ("manager", "managers", "Morgan", "Manager", False),
]

HISTORY = timedelta(hours=24)
# Every event goes through ingest() (~6 ms each on SQLite, ~7 events per callback): 150 keeps the first load
# to a few seconds. Use --callbacks for a busier day.
HISTORY_CALLBACKS = 150
DISPATCH_STOPS_BEFORE_NOW = timedelta(minutes=15)  # the last quarter hour's requests are still queued now
HISTORY_TICK_SECONDS = 60  # how often the replay looks for due timers (and when a no-answer deadline passes)
DEMO_ACTOR = engine.Actor("demo")
# A harder day than the live simulator's: about 60% of yesterday's callbacks end reached, most on the first or
# second attempt, and more of them meet no answers, answering machines and failures.
HISTORY_OUTCOMES = {
    PERSON: 44,
    VOICEMAIL_MESSAGE: 6,
    VOICEMAIL_HANGUP: 10,
    NO_ANSWER: 28,
    WRONG_NUMBER: 4,
    CALLBACK_REQUESTED: 5,
    AGENT_CANCEL: 3,
}


def login_id(display_name: str) -> str:
    """“Élodie Roux” → agent.eroux"""
    ascii_name = unicodedata.normalize("NFKD", display_name).encode("ascii", "ignore").decode().lower()
    first, *rest = ascii_name.split()
    return DEMO_AGENT_PREFIX + first[0] + "".join(c for c in "".join(rest) if c.isalpha())


def logins_file() -> Path:
    return Path(getattr(settings, "DEMO_LOGINS_FILE", settings.BASE_DIR / ".run" / "demo-logins.txt"))


def fingerprint(user: User) -> str:
    """Tells whether the stored password is still the user's, without the cost of checking the password."""
    return hashlib.sha256(user.password.encode()).hexdigest()[:16]


class Command(BaseCommand):
    help = "Load the demo data (idempotent): business processes, agents, one user per role, a day of history."

    def add_arguments(self, parser):
        parser.add_argument("--reset", action="store_true", help="Delete the demo data first, then load it afresh.")
        parser.add_argument(
            "--seed", type=int, help="Random seed for the history (default: a different day each time)."
        )
        parser.add_argument(
            "--callbacks",
            type=int,
            default=HISTORY_CALLBACKS,
            help=f"Callbacks requested over the last 24 hours (default {HISTORY_CALLBACKS}; ~40 ms each on SQLite).",
        )

    def handle(self, *args, reset: bool, seed: int | None, callbacks: int, **options):
        started = time.monotonic()
        if reset:
            self.delete_demo()
        if BusinessProcess.objects.filter(code__in=DEMO_CODES).exists():
            self.stdout.write("The demo is already loaded (manage.py load_demo --reset loads it afresh).")
        else:
            with transaction.atomic():
                business_processes = self.create_business_processes(timezone.now())
                self.create_agents()
                self.replay_history(random.Random(seed), callbacks)
            self.stdout.write(self.style.SUCCESS(self.describe(business_processes, time.monotonic() - started)))
        self.print_logins(self.ensure_users())

    # -- business processes and agents ---------------------------------------------------------------------

    def create_business_processes(self, now: datetime) -> list[BusinessProcess]:
        created = []
        for spec in BUSINESS_PROCESSES:
            business_process = BusinessProcess.objects.create(
                code=spec.code,
                name=spec.name,
                time_zone=spec.time_zone,
                no_answer_seconds=spec.no_answer_seconds,
                attempts_before_failure=spec.attempts_before_failure,
                recall_intervals=spec.recall_intervals,
                shift_starts=spec.shift_starts,
                max_schedule_ahead=timedelta(days=spec.max_schedule_ahead_days),
            )
            business_process.full_clean()  # the settings stay within the documented bounds
            ScheduleRange.objects.bulk_create(
                ScheduleRange(business_process=business_process, weekday=day, start=start, end=end)
                for day, start, end in spec.hours
            )
            today = now.astimezone(ZoneInfo(spec.time_zone)).date()
            ScheduleException.objects.bulk_create(
                ScheduleException(
                    business_process=business_process,
                    date=next_date(today, exception.month, exception.day),
                    start=exception.start,
                    end=exception.end,
                    note=exception.note,
                )
                for exception in spec.exceptions
            )
            created.append(business_process)
        return created

    def create_agents(self) -> None:
        for name in AGENT_NAMES:  # an agent kept by --reset (it worked on a non-demo callback) is updated
            Agent.objects.update_or_create(login_id=login_id(name), defaults={"display_name": name})

    # -- history -------------------------------------------------------------------------------------------

    def replay_history(self, rng: random.Random, count: int) -> None:
        """Play the last 24 hours on a virtual clock (see the module docstring)."""
        now = timezone.now()
        start, dispatch_ends = now - HISTORY, now - DISPATCH_STOPS_BEFORE_NOW
        simulator = Simulator(
            send=InProcessSender(DEMO_ACTOR),
            clock=VirtualClock(start),
            rng=rng,
            agents=[login_id(name) for name in AGENT_NAMES],
            event_prefix="demo-",
            applies_timers=True,
            outcomes=HISTORY_OUTCOMES,
        )
        simulator.every(HISTORY_TICK_SECONDS, simulator.tick_if_due)
        for when in arrival_times(simulator.business_processes, start, now, count, rng):
            simulator.at(when, simulator.customer_requests_callback)
        for spec in BUSINESS_PROCESSES:
            if spec.stopped_hours_ago:
                simulator.at(now - timedelta(hours=spec.stopped_hours_ago), self.stop, simulator, spec.code)
        simulator.run(until=dispatch_ends)
        simulator.dispatching = False  # agents finish their calls; what arrives from now on stays in queue
        simulator.run(until=now - timedelta(seconds=1))

    def stop(self, simulator: Simulator, code: str) -> None:
        """A supervisor stops the callbacks of a business process."""
        engine.set_stopped(BusinessProcess.objects.get(code=code).pk, True, DEMO_ACTOR)
        simulator.refresh_business_processes()

    # -- users ---------------------------------------------------------------------------------------------

    def ensure_users(self) -> list[tuple[str, str, str]]:
        """The demo users, with the passwords kept in the logins file; new random ones where that is not known."""
        stored = read_logins()
        logins, to_hash = [], {}
        for username, group, first_name, last_name, staff in DEMO_USERS:
            user, _ = User.objects.get_or_create(
                username=username, defaults={"first_name": first_name, "last_name": last_name, "is_staff": staff}
            )
            user.groups.add(Group.objects.get(name=group))
            if user.is_staff != staff:
                user.is_staff = staff
                user.save(update_fields=["is_staff"])
            known = stored.get(username)
            if known and known[1] == fingerprint(user):
                password = known[0]
            else:
                password = secrets.token_urlsafe(9)
                to_hash[user] = password
            logins.append((username, password, group))
        if to_hash:
            # Hashing is slow on purpose; the three hashes run side by side (hashlib releases the GIL).
            with ThreadPoolExecutor(len(to_hash)) as pool:
                hashes = list(pool.map(make_password, to_hash.values()))
            for user, hashed in zip(to_hash, hashes, strict=True):
                user.password = hashed
                user.save(update_fields=["password"])
            write_logins(
                logins, {u.username: fingerprint(u) for u in User.objects.filter(username__in=demo_usernames())}
            )
        return logins

    def print_logins(self, logins: list[tuple[str, str, str]]) -> None:
        self.stdout.write("")
        self.stdout.write(self.style.MIGRATE_HEADING("Demo logins:"))
        for username, password, group in logins:
            self.stdout.write(f"  {username:<12} {password:<14} ({group})")
        self.stdout.write(f"  (kept in {logins_file()})")

    # -- reset and summary ---------------------------------------------------------------------------------

    def delete_demo(self) -> None:
        with transaction.atomic():
            business_processes = BusinessProcess.objects.filter(code__in=DEMO_CODES)
            callbacks = Callback.objects.filter(business_process__in=business_processes)
            IngestedEvent.objects.filter(callback_ref__in=callbacks.values("external_id")).delete()
            AuditEntry.objects.filter(Q(business_process__in=business_processes) | Q(callback__in=callbacks)).delete()
            AuditEntry.objects.filter(actor=DEMO_ACTOR.label).delete()
            callbacks.delete()
            Agent.objects.filter(login_id__in=[login_id(name) for name in AGENT_NAMES]).exclude(
                Q(attempts__isnull=False) | Q(owned_callbacks__isnull=False) | Q(current_callbacks__isnull=False)
            ).delete()  # agents who also worked on non-demo callbacks stay
            business_processes.delete()
            User.objects.filter(username__in=demo_usernames()).delete()
        self.stdout.write("Deleted the demo data.")

    def describe(self, business_processes: list[BusinessProcess], seconds: float) -> str:
        callbacks = Callback.objects.filter(business_process__in=business_processes)
        by_state = dict(callbacks.values_list("state").annotate(n=Count("pk")))
        by_end = dict(callbacks.exclude(end_state="").values_list("end_state").annotate(n=Count("pk")))
        ended = ", ".join(f"{n} {end_state.replace('_', ' ')}" for end_state, n in sorted(by_end.items()))
        waiting = ", ".join(
            f"{by_state.get(state, 0)} {state}"
            for state in (
                CallbackState.SCHEDULED,
                CallbackState.QUEUED,
                CallbackState.ROUTING,
                CallbackState.PROCESSING,
            )
        )
        zones = len({bp.time_zone for bp in business_processes})
        return (
            f"Loaded the demo in {seconds:.1f} s: {len(business_processes)} business processes in {zones} time zones, "
            f"{len(AGENT_NAMES)} agents, and the last 24 hours: {callbacks.count()} callbacks "
            f"({ended}; {waiting})."
        )


def demo_usernames() -> list[str]:
    return [username for username, *_ in DEMO_USERS]


def read_logins() -> dict[str, tuple[str, str]]:
    """username → (password, fingerprint of its hash) from the logins file, if there is one."""
    try:
        lines = logins_file().read_text().splitlines()
    except FileNotFoundError:
        return {}
    stored = {}
    for line in lines:
        parts = line.split()
        if len(parts) == 4 and not line.startswith("#"):
            username, password, _group, check = parts
            stored[username] = (password, check)
    return stored


def write_logins(logins: list[tuple[str, str, str]], fingerprints: dict[str, str]) -> None:
    path = logins_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ["# Callback Supervisor demo logins, written by manage.py load_demo", "# username password role check"]
    lines += [f"{username} {password} {group} {fingerprints[username]}" for username, password, group in logins]
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write("\n".join(lines) + "\n")
    path.chmod(0o600)


def next_date(today: date, month: int, day: int) -> date:
    """The next `month`/`day` from today on (today included)."""
    this_year = date(today.year, month, day)
    return this_year if this_year >= today else date(today.year + 1, month, day)


def arrival_times(business_processes, start: datetime, end: datetime, count: int, rng: random.Random) -> list:
    """`count` request times between start and end, busier when more business processes are open."""
    slots = int((end - start).total_seconds() // 600)  # ten-minute slots

    def busy(slot: int) -> float:
        at = start + timedelta(minutes=10 * slot + 5)
        return 0.2 + sum(is_dispatchable(bp, at) for bp in business_processes) / len(business_processes)

    weights = [busy(slot) for slot in range(slots)]
    chosen = rng.choices(range(slots), weights, k=count)
    return sorted(start + timedelta(minutes=10 * slot, seconds=rng.uniform(0, 600)) for slot in chosen)
