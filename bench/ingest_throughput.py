"""How fast the ingest API applies events: full callback lifecycles posted through the real HTTP stack.

    .venv/bin/python bench/ingest_throughput.py [--callbacks 500] [--batch 0]

Uses DATABASE_URL if set (e.g. PostgreSQL), else a throw-away SQLite file. Prints events/s and latency per
request (p50 / p99). --batch N posts arrays of N events instead of one event per request.
"""

import argparse
import os
import statistics
import sys
import time
import uuid
from datetime import time as clock
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
os.environ.setdefault("DATABASE_URL", "sqlite:////tmp/callback-supervisor-bench.sqlite3")
os.environ.setdefault("ALLOWED_HOSTS", "testserver")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.utils import timezone  # noqa: E402

from callbacks.models import ApiToken, BusinessProcess, ScheduleRange  # noqa: E402


def lifecycle(code: str, n: int) -> list[dict]:
    """The six events of one callback reached on its first attempt."""
    callback, agent, now = f"bench-{uuid.uuid4()}", f"agent-{n % 40}", timezone.now().isoformat()

    def event(kind: str, **fields) -> dict:
        return {"event_id": str(uuid.uuid4()), "type": kind, "occurred_at": now, "callback": callback, **fields}

    return [
        event("callback.requested", business_process=code, phone=f"+1212555{n % 10000:04d}"),
        event("attempt.offered", agent=agent),
        event("attempt.accepted", agent=agent),
        event("attempt.connected", agent=agent, answered_by="person"),
        event("attempt.completed", agent=agent, status="handled"),
        event("attempt.wrapup_completed", agent=agent),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--callbacks", type=int, default=500)
    parser.add_argument("--batch", type=int, default=0, help="events per request (0: one event per request)")
    args = parser.parse_args()

    call_command("migrate", verbosity=0)
    code = f"BENCH_{uuid.uuid4().hex[:8]}"
    business_process = BusinessProcess.objects.create(code=code, name="Benchmark")
    ScheduleRange.objects.bulk_create(
        ScheduleRange(business_process=business_process, weekday=d, start=clock(0), end=clock(0)) for d in range(7)
    )
    token, key = ApiToken.issue(f"bench-{code}")
    client = Client(HTTP_AUTHORIZATION=f"Token {key}")

    # Lifecycles interleave as they would in a contact center: all requests, then offers, and so on.
    lifecycles = [lifecycle(code, n) for n in range(args.callbacks)]
    events = [lc[step] for step in range(6) for lc in lifecycles]
    if args.batch:
        requests = [events[i : i + args.batch] for i in range(0, len(events), args.batch)]
    else:
        requests = events

    latencies = []
    cpu_started = time.process_time()
    started = time.perf_counter()
    for body in requests:
        before = time.perf_counter()
        response = client.post("/api/v1/events/", body, content_type="application/json")
        latencies.append(time.perf_counter() - before)
        assert response.status_code in (200, 201), response.content
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu_started

    latencies.sort()
    print(f"database: {connection.vendor}; {len(events)} events in {len(requests)} requests")
    print(f"events applied/s: {len(events) / elapsed:,.0f}")
    print(f"CPU of this process (client + server) per event: {cpu / len(events) * 1000:.2f} ms")
    p99 = latencies[max(int(len(latencies) * 0.99) - 1, 0)]
    print(f"per request: p50 {statistics.median(latencies) * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms")

    business_process.callbacks.all().delete()
    business_process.audit_entries.all().delete()
    business_process.delete()
    token.delete()


if __name__ == "__main__":
    main()
