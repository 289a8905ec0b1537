"""Fixtures shared by every test: business processes with known schedules, API clients, event builders."""

import itertools
from datetime import datetime, time, timedelta

import pytest
from celery.contrib.testing.worker import start_worker
from celery.signals import task_postrun
from django.contrib.auth.models import Group, User
from django.db import connection
from django.utils import timezone
from kombu.asynchronous import set_event_loop
from rest_framework.test import APIClient

from callbacks.models import ApiToken, BusinessProcess, Callback, ScheduleRange
from callbacks.schedule import current_shift_start
from callbacks.signals import business_process_changed
from config.celery import app as celery_app

_event_ids = itertools.count(1)


def open_all_week(business_process: BusinessProcess) -> None:
    """Open 24 hours a day, every day (an end of 00:00 is midnight)."""
    ScheduleRange.objects.bulk_create(
        ScheduleRange(business_process=business_process, weekday=day, start=time(0), end=time(0)) for day in range(7)
    )


@pytest.fixture
def make_business_process(db):
    """Create a business process; open around the clock unless `open=False` (then it has no open hours).

    Its shift start and whether its schedule is open are recorded as the timers would have recorded them.
    """

    def make(code: str = "SALES", *, open: bool = True, **settings) -> BusinessProcess:
        settings.setdefault("name", code.title())
        settings.setdefault("schedule_open", open)
        business_process = BusinessProcess(code=code, **settings)
        if business_process.shift_started_at is None:
            business_process.shift_started_at = current_shift_start(business_process, timezone.now())
        business_process.save()
        if open:
            open_all_week(business_process)
        return business_process

    return make


@pytest.fixture
def announced():
    """The business process ids announced to the live monitor (business_process_changed) during the test."""
    ids: list[int] = []

    def receiver(sender, business_process_ids, **kwargs):
        ids.extend(business_process_ids)

    business_process_changed.connect(receiver)
    yield ids
    business_process_changed.disconnect(receiver)


@pytest.fixture
def business_process(make_business_process) -> BusinessProcess:
    """An always-open business process with the default Callback Timing settings."""
    return make_business_process()


@pytest.fixture
def api(db) -> APIClient:
    """An API client holding a valid token."""
    _, key = ApiToken.issue("tests")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def event(kind: str, callback: str, at: datetime | None = None, **fields) -> dict:
    """An ingest event with a fresh event_id, occurring now unless told otherwise."""
    body = {
        "event_id": f"evt-{next(_event_ids)}",
        "type": kind,
        "occurred_at": (at or timezone.now()).isoformat(),
        "callback": callback,
    }
    body.update(fields)
    return body


class Events:
    """Posts events through the real API and returns the responses: the way the telephony platform talks to us."""

    def __init__(self, client: APIClient):
        self.client = client

    def post(self, body):
        return self.client.post("/api/v1/events/", body, format="json")

    def request(self, callback: str = "cb-1", business_process: str = "SALES", phone: str = "+12125550134", **fields):
        return self.post(
            event("callback.requested", callback, business_process=business_process, phone=phone, **fields)
        )

    def offer(self, callback: str = "cb-1", agent: str = "agent-1", **fields):
        return self.post(event("attempt.offered", callback, agent=agent, **fields))

    def accept(self, callback: str = "cb-1", agent: str = "agent-1", **fields):
        return self.post(event("attempt.accepted", callback, agent=agent, **fields))

    def connect(self, callback: str = "cb-1", agent: str = "agent-1", answered_by: str = "person", **fields):
        return self.post(event("attempt.connected", callback, agent=agent, answered_by=answered_by, **fields))

    def complete(self, status: str, callback: str = "cb-1", agent: str = "agent-1", **fields):
        return self.post(event("attempt.completed", callback, agent=agent, status=status, **fields))

    def wrapup(self, callback: str = "cb-1", agent: str = "agent-1", **fields):
        return self.post(event("attempt.wrapup_completed", callback, agent=agent, **fields))

    def cancel(self, callback: str = "cb-1", **fields):
        return self.post(event("callback.cancelled", callback, **fields))

    def dial(self, callback: str = "cb-1", agent: str = "agent-1"):
        """Offer and accept: the callback is Dialing."""
        for response in (self.offer(callback, agent), self.accept(callback, agent)):
            assert response.status_code == 201, response.json()

    def callback(self, callback: str = "cb-1") -> dict:
        response = self.client.get(f"/api/v1/callbacks/{callback}/")
        assert response.status_code == 200, response.content
        return response.json()


@pytest.fixture
def events(api) -> Events:
    return Events(api)


def fetch(external_id: str = "cb-1") -> Callback:
    return Callback.objects.get(external_id=external_id)


def in_(seconds: float) -> datetime:
    return timezone.now() + timedelta(seconds=seconds)


@pytest.fixture
def make_user(db):
    """A user in one of the role groups: supervisors, administrators or managers (or none)."""

    def make(role: str | None, username: str | None = None) -> User:
        user = User.objects.create_user(username or f"{role or 'nobody'}-user", password="pw-for-tests-only")
        if role:
            user.groups.add(Group.objects.get(name=role))
        return user

    return make


def _close_worker_connection(**kwargs) -> None:
    connection.close()


@pytest.fixture
def celery_worker(transactional_db):
    """A real Celery worker (solo pool, in a thread) consuming this test run's queue through the real Redis.

    Its database connection is closed after each task, so the test database can be dropped afterwards. A worker
    leaves its kombu hub behind as the process's event loop and the next worker would take that stale hub
    over (its timer never fires: tasks sent with a countdown would never run), hence a fresh hub each time.
    """
    task_postrun.connect(_close_worker_connection)
    set_event_loop(None)
    try:
        with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=10) as worker:
            yield worker
    finally:
        task_postrun.disconnect(_close_worker_connection)
        set_event_loop(None)
