"""The live monitor under load: column computation cost, and event → browser latency through the real stack.

    DATABASE_URL=$(scripts/postgres.sh start) .venv/bin/python bench/monitor_load.py \\
        [--business-processes 1000] [--callbacks 1000000] [--clients 200] [--rate 200] [--duration 60]

PostgreSQL only. Works in its own database, ``callbacks_bench`` on the DATABASE_URL's server (created and
migrated here; dev and test data are never touched), and its own Redis database (REDIS_URL, default
redis://127.0.0.1:6390/5 on the private Redis of ``scripts/redis.sh start``). Four phases:

1. Load (skipped when the bench database already holds the requested volume; ``--reload`` forces it):
   business processes open 24/7 in a mix of time zones and shift starts, agents, callbacks with 14 days of
   history (end states in realistic proportions, attempts with accept and ACW-end times, ~7 % still pending
   or queued), written with PostgreSQL COPY, then ANALYZE.
2. Column computation, all business processes, on the loaded history (what earlier drives added is deleted and
   vacuumed first), same ``now`` for all three, results checked equal:
     (a) monitoring.columns.compute_rows()  — what the worker runs
     (b) the raw SQL floor: every column of every business process (CLBK Stat from what the timers recorded,
         the counts from each one's recorded shift start), as one hand-written statement run on a cursor
         (LATERAL index ranges per business process, the covering indexes, no JIT): no ORM, no rows built
         in Python — what (a) cannot beat
     (c) a naive recompute: per business process, one ORM query per column — what not to do
   (a) and (b) run in ``--column-runs`` interleaved rounds (medians printed), so that a drift of the machine's
   speed weighs on both alike. The issue's target is (a) ≤ 1.5 × the floor: (a)/(b) is the median of the
   rounds' ratios.
3. The live system for real: ``--web-processes`` web processes (default: two per core, as docs/deploy.md
   advises; ``--server``: uvicorn, as the production Procfile runs, or daphne), one Celery worker (prefork, 2)
   and beat, as subprocesses on the bench database; ``--clients`` WebSockets on /ws/monitor/ (a supervisor's
   session cookie, an allowed Origin) in a child process; ``--rate`` events/s POSTed to /api/v1/events/
   (``--batch-ms``: the events of each interval as one array) for ``--duration`` s, after ``--warm-up`` s of
   the same, not measured: mostly new callback.requested spread over the business processes, the rest full
   offer → accept → connect → complete → wrap-up sequences on the callbacks the drive requested. Each run first
   deletes the callbacks earlier runs' drives requested (and vacuums), so that runs start from the same history
   and compare.
   Event → monitor latency: from the moment the event is queued for sending (its wait for the array's
   departure included) to the moment a client receives a "rows" message whose row for that business process
   shows the change (To Be Proc + Proc up by one for a request, Proc up by one for a completion; see
   bench/monitor_clients.py); also from the moment its answer came back. "first client" counts each event
   once, when the first client sees it; "all clients" counts it once per client (every open monitor).
   Target: p99 ≤ 1 s. Also printed: events applied/s, ingest POST time, compute → client delay of the
   pushes, messages per client, snapshot size, web memory per WebSocket (RSS growth ÷ clients), CPU
   per process group during the drive, in % of one core (the machine has os.cpu_count() of them; the
   benchmark's own processes share them, so the figures are an upper bound of what the server needs), the
   CPU time the hypervisor stole (on a shared virtual machine, time its cores wanted and did not get: when it
   is high, every figure of the run is worse), and the DB time per second (PostgreSQL's active time on the
   bench database, pg_stat_database).
4. The naive baseline (``--baseline-duration``): the same event drive, while the ``--clients`` monitors poll
   a page that recomputes every business process with per-process ORM queries (bench/naive_monitor.py)
   every ``--poll-seconds`` (4, as VICIdial's realtime report does); worker and beat stopped. Prints its DB
   time per second beside the live system's, the polls answered, and the DB time the polling asks for
   (SQL time of one naive page, measured in phase 2, × polls per second). Target: ≥ 10× less DB time live.
5. Clean-up: every subprocess is stopped on exit, Ctrl-C or error. The bench database stays for reuse.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import multiprocessing
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import time
import uuid
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from monitor_history import (  # noqa: E402
    ATTEMPT_COLUMNS,
    CALLBACK_COLUMNS,
    DEPARTMENTS,
    SHIFT_PATTERNS,
    TIME_ZONES,
    History,
)
from naive_monitor import naive_recompute  # noqa: E402
from netclients import HttpConnection, WebSocket  # noqa: E402

DEFAULT_REDIS_URL = "redis://127.0.0.1:6390/5"
BENCH_SECRET_KEY = "monitor-benchmark-only-key-not-secret-" + "x" * 20
RUN_DIR = ROOT / ".run" / "bench"
VENV_BIN = ROOT / ".venv" / "bin"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--business-processes", type=int, default=1000)
    parser.add_argument("--callbacks", type=int, default=1_000_000)
    parser.add_argument("--agents", type=int, default=300)
    parser.add_argument("--open-fraction", type=float, default=0.07, help="share of callbacks still open")
    parser.add_argument("--clients", type=int, default=200, help="WebSocket clients on /ws/monitor/")
    parser.add_argument("--rate", type=float, default=200, help="events per second posted to the ingest API")
    parser.add_argument("--duration", type=float, default=60, help="seconds of driving events")
    parser.add_argument(
        "--warm-up", type=float, default=5, help="seconds of the same drive before, not measured (connections, caches)"
    )
    parser.add_argument("--request-share", type=float, default=0.6, help="share of events that are new callbacks")
    parser.add_argument(
        "--web-processes",
        type=int,
        default=2 * (os.cpu_count() or 1),
        help="web (ASGI server) processes (default: two per core, as docs/deploy.md advises)",
    )
    parser.add_argument(
        "--server",
        choices=["uvicorn", "daphne"],
        default="uvicorn",
        help="the ASGI server of the web processes (uvicorn: what the production Procfile runs)",
    )
    parser.add_argument(
        "--ws-processes",
        type=int,
        default=0,
        help="of the web processes, how many serve only the WebSockets (the others the ingest API); "
        "0: every process serves both",
    )
    parser.add_argument("--connections", type=int, default=8, help="keep-alive HTTP connections per web process")
    parser.add_argument(
        "--batch-ms", type=int, default=0, help="post the events of each N ms as one array (0: one per request)"
    )
    parser.add_argument(
        "--conn-max-age",
        type=int,
        default=None,
        help="override CONN_MAX_AGE in the web and worker processes (default: the project's settings)",
    )
    parser.add_argument(
        "--db-pool",
        type=int,
        default=None,
        metavar="MAX",
        help="web and worker processes use psycopg's connection pool of MAX connections (needs psycopg-pool)",
    )
    parser.add_argument("--database", default="callbacks_bench", help="name of the bench database")
    parser.add_argument("--reload", action="store_true", help="drop the bench database and load it again")
    parser.add_argument("--column-runs", type=int, default=15, help="interleaved rounds of (a) and (b) in phase 2")
    parser.add_argument("--naive-runs", type=int, default=1, help="runs of the naive recompute (slow)")
    parser.add_argument("--explain", action="store_true", help="print EXPLAIN ANALYZE of compute_rows' queries")
    parser.add_argument("--skip-columns", action="store_true", help="skip phase 2")
    parser.add_argument("--skip-live", action="store_true", help="skip phase 3 (and 4)")
    parser.add_argument("--baseline-duration", type=float, default=30, help="seconds of the naive baseline (phase 4)")
    parser.add_argument("--poll-seconds", type=float, default=4, help="the baseline's polling period per monitor")
    parser.add_argument("--skip-baseline", action="store_true", help="skip phase 4")
    return parser.parse_args()


# ---------------------------------------------------------------------------------------------------------
# The bench database


def bench_database_url(server_url: str, name: str, reload: bool) -> str:
    """Create (or with reload: recreate) the bench database on DATABASE_URL's server; return its URL."""
    import psycopg

    if urlsplit(server_url).scheme not in ("postgres", "postgresql", "pgsql"):
        sys.exit(
            "monitor_load needs PostgreSQL: set DATABASE_URL, e.g. DATABASE_URL=$(scripts/postgres.sh start) "
            f"(got {server_url or 'nothing'}; SQLite is refused)."
        )
    parts = urlsplit(server_url)
    if parts.path.lstrip("/") == name:
        sys.exit(f"DATABASE_URL already names {name}; give the dev database's URL, the bench makes its own.")
    with psycopg.connect(server_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if exists and reload:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            exists = None
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')
    return urlunsplit(parts._replace(path=f"/{name}"))


def setup_django(database_url: str, redis_url: str, args: argparse.Namespace) -> dict[str, str]:
    """Configure this process (and return the environment for the subprocesses) to use the bench services."""
    env = {
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "SECRET_KEY": BENCH_SECRET_KEY,
        "DEBUG": "0",
        "LOG_LEVEL": "WARNING",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "PYTHONUNBUFFERED": "1",
    }
    os.environ.update(env)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    subprocess_env = {**os.environ, **env}
    # The subprocesses run bench_settings: the project's settings, its URLs plus the naive baseline's page.
    subprocess_env["DJANGO_SETTINGS_MODULE"] = "bench_settings"
    paths = [str(ROOT), str(ROOT / "bench"), os.environ.get("PYTHONPATH", "")]
    subprocess_env["PYTHONPATH"] = os.pathsep.join(p for p in paths if p)
    overrides = {"BENCH_CONN_MAX_AGE": args.conn_max_age, "BENCH_DB_POOL": args.db_pool}
    if args.db_pool is not None:
        try:
            import psycopg_pool  # noqa: F401
        except ImportError:
            sys.exit("--db-pool needs the psycopg-pool package.")
    subprocess_env.update({name: str(value) for name, value in overrides.items() if value is not None})
    return subprocess_env


def meta(key: str, value: object | None = None) -> object | None:
    """A key/value table of the bench's own (outside Django's models) remembering what was loaded."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE IF NOT EXISTS bench_meta (key text PRIMARY KEY, value jsonb NOT NULL)")
        if value is not None:
            cursor.execute(
                "INSERT INTO bench_meta VALUES (%s, %s) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [key, json.dumps(value)],
            )
            return value
        cursor.execute("SELECT value FROM bench_meta WHERE key = %s", [key])
        row = cursor.fetchone()
        return (json.loads(row[0]) if isinstance(row[0], str) else row[0]) if row else None


# ---------------------------------------------------------------------------------------------------------
# Phase 1: load


def load(args: argparse.Namespace) -> None:
    wanted = {"business_processes": args.business_processes, "callbacks": args.callbacks}
    loaded = meta("volume")
    if loaded and all(loaded.get(k) == v for k, v in wanted.items()):
        age = (datetime.now(UTC) - datetime.fromisoformat(loaded["loaded_at"])).total_seconds() / 3600
        print(
            f"Load: skipped, the bench database holds {loaded['business_processes']:,} business processes and "
            f"{loaded['callbacks']:,} callbacks, loaded {age:.1f} h ago in {loaded['load_seconds']:.1f} s "
            "(--reload to load again)"
        )
        if age > 12:
            print("      (the history ends when it was loaded: today's shift counters are thinner; --reload)")
        return
    if loaded is not None or _has_rows():
        print("Load: the bench database holds another volume; recreating it")
        from django.db import connections

        connections.close_all()
        bench_database_url(args.server_url, args.database, reload=True)
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
    started = time.perf_counter()
    counts = load_history(args)
    elapsed = time.perf_counter() - started
    meta("volume", {**wanted, **counts, "loaded_at": datetime.now(UTC).isoformat(), "load_seconds": elapsed})
    print(
        f"Load: {args.business_processes:,} business processes, {args.agents:,} agents, "
        f"{counts['callbacks']:,} callbacks ({counts['open']:,} open), {counts['attempts']:,} attempts "
        f"in {elapsed:.1f} s (generation + COPY {counts['copy_seconds']:.1f} s, indexes + constraints "
        f"{counts['index_seconds']:.1f} s, ANALYZE {counts['analyze_seconds']:.1f} s)"
    )


DRIVE_PREFIX = "drive-"  # the external ids of the callbacks a drive requests
DRIVEN_TABLES = ("callbacks_callback", "callbacks_attempt", "callbacks_auditentry", "callbacks_ingestedevent")


def undo_earlier_drives() -> None:
    """Delete the callbacks earlier runs' drives requested, with their attempts, audit trail and ingest records,
    so that every run starts from the loaded history and runs compare."""
    from django.db import connection, transaction

    started = time.perf_counter()
    pattern = DRIVE_PREFIX + "%"
    driven = "SELECT id FROM callbacks_callback WHERE external_id LIKE %s"
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM callbacks_auditentry WHERE callback_id IN ({driven})", [pattern])  # noqa: S608
        cursor.execute(f"DELETE FROM callbacks_attempt WHERE callback_id IN ({driven})", [pattern])  # noqa: S608
        cursor.execute("DELETE FROM callbacks_ingestedevent WHERE callback_ref LIKE %s", [pattern])
        cursor.execute("DELETE FROM callbacks_callback WHERE external_id LIKE %s", [pattern])
        deleted = cursor.rowcount
    if deleted:
        print(f"Earlier drives' {deleted:,} callbacks deleted in {time.perf_counter() - started:.1f} s")


def start_from_the_loaded_history() -> None:
    """What earlier drives added deleted and vacuumed: the column computation reads the history as loaded, from
    the covering indexes alone (rows an earlier drive left, not yet vacuumed, each cost a visit to the table)."""
    from django.db import connection

    undo_earlier_drives()
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM ANALYZE {', '.join(DRIVEN_TABLES)}")


def _has_rows() -> bool:
    from callbacks.models import BusinessProcess

    return BusinessProcess.objects.exists()


def load_history(args: argparse.Namespace) -> dict:
    from datetime import time as clock

    from django.db import connection, transaction

    from callbacks.models import Agent, BusinessProcess, ScheduleRange

    rng = random.Random(20261125)
    now = datetime.now(UTC)
    with transaction.atomic():
        business_processes = BusinessProcess.objects.bulk_create(
            _business_process(n, rng, now) for n in range(1, args.business_processes + 1)
        )
        ScheduleRange.objects.bulk_create(
            ScheduleRange(business_process=bp, weekday=day, start=clock(0), end=clock(0))
            for bp in business_processes
            for day in range(7)
        )
        agents = Agent.objects.bulk_create(
            Agent(login_id=f"agent-{n:04d}", display_name=f"Agent {n:04d}") for n in range(1, args.agents + 1)
        )
    generator = History(
        now=now.timestamp(),
        rng=rng,
        business_process_ids=[bp.pk for bp in business_processes],
        agent_ids=[a.pk for a in agents],
        open_fraction=args.open_fraction,
    )
    tables = ["callbacks_callback", "callbacks_attempt"]
    with transaction.atomic(), connection.cursor() as cursor:
        raw = cursor.cursor  # psycopg 3
        dropped = _drop_secondary_indexes_and_foreign_keys(raw, tables)
        started = time.perf_counter()
        attempt_lines: list[str] = []
        with raw.copy(f"COPY callbacks_callback ({', '.join(CALLBACK_COLUMNS)}) FROM STDIN") as copy:
            chunk = []
            for n in range(args.callbacks):
                chunk.append(generator.callback(n, attempt_lines))
                if len(chunk) == 20_000:
                    copy.write("".join(chunk))
                    chunk = []
            copy.write("".join(chunk))
        with raw.copy(f"COPY callbacks_attempt ({', '.join(ATTEMPT_COLUMNS)}) FROM STDIN") as copy:
            for start in range(0, len(attempt_lines), 20_000):
                copy.write("".join(attempt_lines[start : start + 20_000]))
        copy_seconds = time.perf_counter() - started
        started = time.perf_counter()
        for statement in dropped:
            raw.execute(statement)
        index_seconds = time.perf_counter() - started
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    return {
        "callbacks": args.callbacks,
        "open": generator.open,
        "attempts": len(attempt_lines),
        "copy_seconds": copy_seconds,
        "index_seconds": index_seconds,
        "analyze_seconds": time.perf_counter() - started,
    }


def _business_process(n: int, rng: random.Random, now: datetime):
    from callbacks.models import BusinessProcess
    from callbacks.schedule import current_shift_start

    city = rng.choice(list(TIME_ZONES))
    shifts = rng.choices([p for p, _ in SHIFT_PATTERNS], [w for _, w in SHIFT_PATTERNS])[0]
    business_process = BusinessProcess(
        code=f"BP{n:04d}",
        name=f"{rng.choice(DEPARTMENTS)} {city} {n:04d}",
        time_zone=TIME_ZONES[city],
        shift_starts=shifts,
        schedule_open=True,  # open 24/7: the timer tick has no opening to record
        schedule_changed_at=now,
    )
    business_process.shift_started_at = current_shift_start(business_process, now)  # as the timer tick records it
    return business_process


def _drop_secondary_indexes_and_foreign_keys(cursor, tables: list[str]) -> list[str]:
    """Drop what COPY would otherwise maintain row by row; return the statements that put it all back."""
    restore = []
    for table in tables:
        cursor.execute(
            "SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid) FROM pg_index i WHERE indrelid = "
            "%s::regclass AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)",
            [table],
        )
        for name, definition in cursor.fetchall():
            cursor.execute(f"DROP INDEX {name}")
            restore.append(definition)
        cursor.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass "
            "AND contype = 'f'",
            [table],
        )
        for name, definition in cursor.fetchall():
            cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
            restore.append(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
    return restore


# ---------------------------------------------------------------------------------------------------------
# Phase 2: column computation

# The floor: every column, hand-tuned for this schema, in one statement. Each business process's callbacks and
# attempts of its shift (from the start the timers recorded on it) are read by LATERAL subqueries, each one index
# range per business process, from the covering indexes alone: callback_bp_completed for Proc, Reached and Purged,
# attempt_bp_acw_ended for the handle times (summed as intervals: an epoch per row costs a third more). To Be Proc
# reads the partial index callback_open_bp whole, in one pass. CLBK Stat is what the timers recorded.
FLOOR_SQL = """
SELECT bp.code,
       CASE WHEN bp.is_stopped THEN 'stopped' WHEN bp.schedule_open THEN 'active' ELSE 'off_schedule' END,
       bp.name, bp.shift_started_at, bp.to_be_processed_threshold, bp.failed_pct_threshold,
       coalesce(o.to_be_processed, 0), e.proc, e.reached, e.purged, h.n, h.handle_time
FROM callbacks_businessprocess bp
CROSS JOIN LATERAL (
    SELECT count(*) FILTER (WHERE c.end_state = ANY(%(processed)s)) AS proc,
           count(*) FILTER (WHERE c.end_state = 'reached') AS reached,
           count(*) FILTER (WHERE c.end_state = 'purged') AS purged
    FROM callbacks_callback c
    WHERE c.business_process_id = bp.id AND c.completed_at >= bp.shift_started_at
) e
CROSS JOIN LATERAL (
    SELECT count(*) AS n, sum(a.acw_ended_at - a.accepted_at) AS handle_time
    FROM callbacks_attempt a
    WHERE a.business_process_id = bp.id AND a.acw_ended_at >= bp.shift_started_at AND a.accepted_at IS NOT NULL
) h
LEFT JOIN (
    SELECT business_process_id, count(*) AS to_be_processed
    FROM callbacks_callback
    WHERE state = ANY(%(open)s)
    GROUP BY 1
) o ON o.business_process_id = bp.id
WHERE bp.is_active
ORDER BY bp.name
"""


def measure_columns(args: argparse.Namespace) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from callbacks import engine
    from callbacks.models import Attempt, BusinessProcess, Callback
    from monitoring.columns import compute_rows

    now = datetime.now(UTC)
    engine.apply_schedule_changes(now)  # the shifts and schedules of now, as the timer tick records them every second
    print(
        f"\nColumn computation: {BusinessProcess.objects.filter(is_active=True).count():,} business processes, "
        f"{Callback.objects.count():,} callbacks, {Attempt.objects.count():,} attempts"
    )

    compute_rows(now=now), _floor()  # warm: caches, plans, imports
    # As a worker process does once started (config/celery.py): the garbage collector's full passes leave alone
    # what lives as long as the process, and stop landing, a hundred milliseconds at a time, in whichever run is on.
    gc.collect()
    gc.freeze()
    # Interleaved rounds, so that a drift of the machine's speed (shared cores) weighs on both alike.
    a_times, b_times = [], []
    for _ in range(args.column_runs):
        a_times.append(_timed(lambda: compute_rows(now=now)))
        b_times.append(_timed(_floor))
    ratios = [a / b for a, b in zip(a_times, b_times, strict=True)]
    with CaptureQueriesContext(connection) as captured:
        monitor = compute_rows(now=now)
    a_queries = sum(q["sql"].startswith("SELECT") for q in captured.captured_queries)
    a_statements = len(captured.captured_queries)
    a_sql = sum(float(q["time"]) for q in captured.captured_queries)
    floor_rows = _floor()

    with CaptureQueriesContext(connection) as captured:
        c_times = [_timed(lambda: naive_recompute()) for _ in range(max(args.naive_runs, 1))]
    c_queries = len(captured.captured_queries) // max(args.naive_runs, 1)
    c_sql = sum(float(q["time"]) for q in captured.captured_queries) / max(args.naive_runs, 1)
    args.naive_sql_seconds = c_sql  # phase 4 tells what polling it every few seconds would ask of the database
    naive_rows = naive_recompute()

    a, b, c = statistics.median(a_times), statistics.median(b_times), statistics.median(c_times)
    floor_numbers = {
        code: (status, tbp, proc, reached, purged, n, handle_time.total_seconds() if handle_time else 0.0)
        for code, status, _, _, _, _, tbp, proc, reached, purged, n, handle_time in floor_rows
    }
    agree = _same(_numbers(monitor.rows), floor_numbers) and _same(_numbers(naive_rows), floor_numbers)
    runs = f"median of {args.column_runs}"

    def spread(times: list[float]) -> str:
        return f"(min {min(times) * 1000:.1f}, max {max(times) * 1000:.1f})"

    print(
        f"  (a) compute_rows()               {a * 1000:9.1f} ms  {runs} {spread(a_times)}  {a_queries} queries, "
        f"{a_statements} statements ({a_sql * 1000:.1f} ms of it in SQL)"
    )
    print(
        f"  (b) raw SQL aggregate floor      {b * 1000:9.1f} ms  {runs} {spread(b_times)}  1 query: every column, "
        "on a cursor"
    )
    print(
        f"  (c) naive per-process ORM        {c * 1000:9.1f} ms  {'median of ' if len(c_times) > 1 else ''}"
        f"{len(c_times)} run{'s' if len(c_times) > 1 else ''}  {c_queries:,} queries "
        f"({c_sql * 1000:,.0f} ms of it in SQL)"
    )
    print(
        f"  (a)/(b) = {statistics.median(ratios):.2f} (target ≤ 1.5; the median of the rounds' ratios, "
        f"{min(ratios):.2f}–{max(ratios):.2f})   (c)/(a) = {c / a:.0f}×"
        f"   the three agree on every number: {'yes' if agree else 'NO'}"
    )
    if args.explain:
        explain_compute_rows(now)


def _timed(function) -> float:
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def _numbers(rows) -> dict:
    return {
        r.code: (r.status, r.to_be_processed, r.proc, r.reached, r.purged, r.handled_attempts, r.handle_seconds)
        for r in rows
    }


def _same(these: dict, those: dict) -> bool:
    """Equal statuses and counts, and handle-time sums equal to the millisecond (float vs numeric rounding)."""
    return these.keys() == those.keys() and all(
        these[k][:6] == those[k][:6] and abs(these[k][6] - those[k][6]) < 1e-3 for k in these
    )


def _floor() -> list[tuple]:
    from django.db import connection, transaction

    from callbacks.choices import CallbackState, EndState

    params = {
        "open": [str(s) for s in CallbackState.open_states()],
        "processed": [str(s) for s in EndState.processed()],
    }
    # The LATERAL parts' cost estimate is high enough to make PostgreSQL JIT-compile the query, which costs more
    # than it saves here (as compute_rows does for its queries).
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL jit = off")
        cursor.execute(FLOOR_SQL, params)
        return cursor.fetchall()


def explain_compute_rows(now: datetime) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from monitoring.columns import compute_rows

    with CaptureQueriesContext(connection) as captured:
        compute_rows(now=now)
    for query in captured.captured_queries:
        if "GROUP BY" not in query["sql"]:
            continue
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + query["sql"])
            print("\n".join(line for (line,) in cursor.fetchall()))


# ---------------------------------------------------------------------------------------------------------
# Phase 3: the live system


class Services:
    """The web processes, a Celery worker and beat as subprocesses; stopped (whole process groups) however we leave."""

    def __init__(self, env: dict[str, str], web_processes: int, server: str):
        self.env, self.web_processes, self.server = env, web_processes, server
        self.processes: dict[str, subprocess.Popen] = {}
        self.stopped: set[str] = set()
        self.ports: list[int] = []

    def start(self) -> None:
        RUN_DIR.mkdir(parents=True, exist_ok=True)
        for n in range(self.web_processes):
            port = _free_port()
            self.ports.append(port)
            self._spawn(f"web{n + 1}", self._web_command(port))
        self._spawn(
            "worker",
            [
                VENV_BIN / "celery",
                "-A",
                "config",
                "worker",
                "--pool=prefork",
                "-c",
                "2",
                "-l",
                "warning",
                "-n",
                f"bench-{os.getpid()}@%h",
            ],
        )
        schedule = RUN_DIR / "celerybeat-schedule"
        self._spawn("beat", [VENV_BIN / "celery", "-A", "config", "beat", "-l", "warning", "--schedule", schedule])

    def _web_command(self, port: int) -> list:
        if self.server == "daphne":
            return [VENV_BIN / "daphne", "-b", "127.0.0.1", "-p", str(port), "config.asgi:application"]
        # The production Procfile's command line, less what only matters behind a proxy.
        return [
            VENV_BIN / "uvicorn",
            "config.asgi:application",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--lifespan",
            "off",
            "--no-access-log",
            "--ws-max-size",
            "65536",
        ]

    def _spawn(self, name: str, command: list) -> None:
        log = open(RUN_DIR / f"{name}.log", "w")  # noqa: SIM115 — closed with the process
        self.processes[name] = subprocess.Popen(
            [str(part) for part in command],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stopped as a whole (celery's pool children too)
        )

    def check_alive(self) -> None:
        for name, process in self.processes.items():
            if name not in self.stopped and process.poll() is not None:
                tail = (RUN_DIR / f"{name}.log").read_text()[-2000:]
                raise RuntimeError(f"{name} exited with {process.returncode}:\n{tail}")

    def pids(self, prefix: str, ports: list[int] | None = None) -> list[int]:
        """The processes (with their children) whose name starts with prefix; web processes: of these ports."""
        names = [name for name in self.processes if name.startswith(prefix)]
        if ports is not None:
            names = [f"web{self.ports.index(port) + 1}" for port in ports]
        return [pid for name in names for pid in _tree(self.processes[name].pid)]

    def stop(self, *names: str) -> None:
        """Stop these processes (all when no name is given)."""
        processes = [process for name, process in self.processes.items() if not names or name in names]
        self.stopped.update(names or self.processes)
        for process in processes:
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        for process in processes:
            try:
                process.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_ready(services: Services, business_processes: int) -> None:
    """Web processes accept connections, and the worker has pushed a first full snapshot."""
    from monitoring import live

    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        services.check_alive()
        ports_ok = all(_port_open(port) for port in services.ports)
        if ports_ok and live.redis_client().hlen(live.SNAPSHOT) >= business_processes:
            return
        time.sleep(0.25)
    raise RuntimeError("services not ready after 90 s (see .run/bench/*.log)")


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def supervisor_credentials() -> tuple[str, str]:
    """A supervisor's session cookie (for the WebSockets) and an API token key (for the ingest API)."""
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.auth.models import Group, User
    from django.contrib.sessions.backends.db import SessionStore

    from callbacks.models import ApiToken

    user, created = User.objects.get_or_create(username="bench-supervisor")
    if created:
        user.set_unusable_password()
        user.save()
    user.groups.add(Group.objects.get(name="supervisors"))
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    ApiToken.objects.filter(name__startswith="monitor-bench-").delete()
    _, key = ApiToken.issue(f"monitor-bench-{uuid.uuid4().hex[:8]}")
    return f"{settings.SESSION_COOKIE_NAME}={session.session_key}", key


@dataclass
class Sequence:
    """One callback taken through offer → accept → connect → complete → wrap-up by one agent."""

    code: str
    callback: str
    agent: str
    outcome: str
    step: int = 0

    STEPS = (
        "attempt.offered",
        "attempt.accepted",
        "attempt.connected",
        "attempt.completed",
        "attempt.wrapup_completed",
    )

    def event(self) -> dict:
        kind = self.STEPS[self.step]
        body = {"type": kind, "callback": self.callback, "agent": self.agent}
        if kind == "attempt.connected":
            body["answered_by"] = "person"
        elif kind == "attempt.completed":
            body["status"] = self.outcome
        return body


class Driver:
    """Posts ``rate`` events per second for ``duration`` seconds, then finishes the sequences it started.

    One event per request, or with ``--batch-ms`` the events of each such interval as one JSON array (the
    ingest API applies an array in order, one transaction per event): fewer requests for the same events.
    """

    def __init__(
        self, args, ports: list[int], token: str, codes: list[str], queued: list[tuple[str, str]], agents: list[str]
    ):
        self.args, self.ports, self.token = args, ports, token
        self.rng = random.Random(7)
        self.codes, self.agents = codes, deque(agents)
        self.queued = deque(queued)
        self.rng.shuffle(self.queued)
        self.ready: deque[Sequence] = deque()
        self.events: list[tuple[str, int, float, float, bool]] = []  # (code, counter, sent, answered, ok)
        self.posted = self.applied = self.requests = self.skipped = 0
        self.in_window = 0  # applied events sent within the drive window
        self.statuses: dict[str, int] = {}
        self.errors: list[str] = []
        self.post_times: list[float] = []
        self.behind = 0.0  # how late the last scheduled event was sent (the driver's own lag)
        self.window_end = 0.0
        self.batch: list[tuple[dict, asyncio.Future]] = []

    async def run(self) -> tuple[float, float]:
        headers = {"Authorization": f"Token {self.token}"}
        self.connections = asyncio.Queue()
        for n in range(self.args.connections * len(self.ports)):
            self.connections.put_nowait(HttpConnection("127.0.0.1", self.ports[n % len(self.ports)], headers))
        loop = asyncio.get_running_loop()
        flusher = asyncio.create_task(self.flush_batches()) if self.args.batch_ms else None
        tasks = set()
        started = time.time()
        start = loop.time()
        self.window_end = started + self.args.duration
        n = 0
        while (target := start + n / self.args.rate) < start + self.args.duration:
            delay = target - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            self.behind = max(self.behind, loop.time() - target)
            n += 1
            if len(tasks) >= max(self.args.rate, 10):  # a second's worth of events unanswered: the server is
                self.skipped += 1  # saturated; skip rather than pile up a backlog that outlasts the drive
                continue
            task = asyncio.create_task(self.one_event())
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        ended = time.time()
        await asyncio.gather(*tasks)
        while self.ready:  # finish the sequences under way, so that no callback is left with an agent
            await asyncio.gather(*(self.advance(self.ready.popleft()) for _ in range(len(self.ready))))
        if flusher is not None:
            flusher.cancel()
        while not self.connections.empty():
            self.connections.get_nowait().close()
        return started, ended

    async def one_event(self) -> None:
        if self.rng.random() < self.args.request_share or not (self.ready or (self.queued and self.agents)):
            await self.request()
        elif self.ready:
            await self.advance(self.ready.popleft())
        else:
            code, callback = self.queued.popleft()
            outcome = "handled" if self.rng.random() < 0.85 else "wrong_destination"
            await self.advance(Sequence(code, callback, self.agents.popleft(), outcome))

    async def request(self) -> None:
        code = self.rng.choice(self.codes)
        body = {
            "type": "callback.requested",
            "callback": f"{DRIVE_PREFIX}{uuid.uuid4()}",
            "business_process": code,
            "phone": f"+1212555{self.rng.randrange(10_000):04d}",
            "customer_name": "Load test",
        }
        if await self.post(body, measure=(code, 0)):
            self.queued.append((code, body["callback"]))  # open 24/7 and not stopped: it went to queue

    async def advance(self, sequence: Sequence) -> None:
        measure = (sequence.code, 1) if sequence.STEPS[sequence.step] == "attempt.completed" else None
        applied = await self.post(sequence.event(), measure=measure)
        sequence.step += 1
        if applied and sequence.step < len(sequence.STEPS):
            self.ready.append(sequence)
        else:
            self.agents.append(sequence.agent)

    async def post(self, body: dict, measure: tuple[str, int] | None) -> bool:
        """Post one event (alone, or in the next batch); record it; True when it was applied."""
        body = {"event_id": str(uuid.uuid4()), "occurred_at": datetime.now(UTC).isoformat(), **body}
        if self.args.batch_ms:
            # Latency counts from the event's occurrence, its wait for the array's departure included.
            occurred = time.time()
            future = asyncio.get_running_loop().create_future()
            self.batch.append((body, future))
            result, error, _, returned = await future
            sent = occurred
        else:
            try:
                status, answer, sent, returned = await self.send(json.dumps(body).encode())
                result = {201: "applied", 200: "duplicate"}.get(status, str(status))
                error = "" if status == 201 else _short(answer)
            except Exception as exception:  # noqa: BLE001 — counted as this event's result
                sent = returned = time.time()
                result, error = type(exception).__name__, str(exception)
        applied = result == "applied"
        self.posted += 1
        self.statuses[result] = self.statuses.get(result, 0) + 1
        if applied:
            self.applied += 1
            self.in_window += sent < self.window_end
        elif len(self.errors) < 5:
            self.errors.append(f"{result} {body['type']}: {error}")
        if measure is not None:
            self.events.append((*measure, sent, returned, applied))
        return applied

    async def flush_batches(self) -> None:
        while True:
            await asyncio.sleep(self.args.batch_ms / 1000)
            if self.batch:
                batch, self.batch = self.batch, []
                asyncio.create_task(self.post_batch(batch))

    async def post_batch(self, batch: list[tuple[dict, asyncio.Future]]) -> None:
        sent = returned = time.time()
        try:
            status, answer, sent, returned = await self.send(json.dumps([body for body, _ in batch]).encode())
            if status == 200:
                results = [(r["result"], json.dumps(r.get("error", ""))[:300]) for r in json.loads(answer)["results"]]
            else:
                results = [(str(status), _short(answer))] * len(batch)
        except Exception as error:  # noqa: BLE001 — reported as the result of every event of the batch
            results = [(type(error).__name__, str(error))] * len(batch)
        for (_, future), (result, error) in zip(batch, results, strict=True):
            future.set_result((result, error, sent, returned))

    async def send(self, payload: bytes) -> tuple[int, bytes, float, float]:
        connection = await self.connections.get()
        try:
            sent = time.time()
            status, answer = await asyncio.wait_for(connection.post_json("/api/v1/events/", payload), 60)
            returned = time.time()
        except BaseException:
            connection.close()  # whatever was half read on it is lost
            raise
        finally:
            self.connections.put_nowait(connection)
        self.requests += 1
        self.post_times.append(returned - sent)
        return status, answer, sent, returned


def _short(answer: bytes) -> str:
    """An error answer in one line: the JSON error, or the title of an HTML error page."""
    text = answer.decode(errors="replace")
    if "<title>" in text:
        return text.split("<title>", 1)[1].split("</title>", 1)[0].strip() + " (see .run/bench/web*.log)"
    return " ".join(text.split())[:300]


def run_live(args: argparse.Namespace, env: dict[str, str]) -> None:
    from django.db import connection, connections

    from callbacks.models import Agent, BusinessProcess

    cookie, token = supervisor_credentials()
    codes = list(BusinessProcess.objects.filter(is_active=True).values_list("code", flat=True))
    agents = list(Agent.objects.values_list("login_id", flat=True))
    connections.close_all()

    from monitoring import live
    from monitoring.reports import agent_hours, summary_hours

    # The bench's own Redis database holds only derived data and the task queue: tasks a previous run left queued
    # (a report refresh cut short) must not run during this one; nor may a beat schedule file that says every
    # periodic task is overdue. "ready" below then means pushed by this run.
    undo_earlier_drives()
    live.redis_client().flushdb()
    for path in RUN_DIR.glob("celerybeat-schedule*"):
        path.unlink()
    # The reports' hourly aggregates, refreshed as a deployment's beat does every 10 minutes: their first build
    # (minutes on a fresh bench database) is done here, not by the worker during the drive.
    started = time.perf_counter()
    summary_hours.refresh()
    agent_hours.refresh()
    print(f"\nReports' hourly aggregates refreshed in {time.perf_counter() - started:.1f} s (before the live system)")
    # What the deletions and the refresh left for autovacuum is done now, rather than by autovacuum during the drive.
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM ANALYZE {', '.join(DRIVEN_TABLES)}, monitoring_summaryhour, monitoring_agenthour")
    connections.close_all()
    print(f"Vacuumed in {time.perf_counter() - started:.1f} s")
    services = Services(env, args.web_processes, args.server)
    swarm = None
    try:
        print(
            f"\nLive: starting {args.web_processes} {args.server}, a Celery worker (prefork, 2) and beat "
            "(logs in .run/bench/)"
        )
        services.start()
        started = time.perf_counter()
        wait_until_ready(services, len(codes))
        print(f"  ready in {time.perf_counter() - started:.1f} s (first full snapshot pushed)")
        split = 0 < args.ws_processes < args.web_processes
        ws_ports = services.ports[: args.ws_processes] if split else services.ports
        http_ports = services.ports[args.ws_processes :] if split else services.ports
        if split:
            print(f"  WebSockets on {len(ws_ports)} of them, the ingest API on the {len(http_ports)} others")
        asyncio.run(_warm_up(ws_ports, cookie))
        time.sleep(1)
        rss_before = sum(_rss(pid) for pid in services.pids("web", ws_ports))

        context = multiprocessing.get_context("spawn")
        parent_end, child_end = context.Pipe()
        from monitor_clients import run_swarm

        targets = [("127.0.0.1", port) for port in ws_ports]
        headers = {"Cookie": cookie, "Origin": f"http://127.0.0.1:{ws_ports[0]}"}
        swarm = context.Process(target=run_swarm, args=(child_end, targets, args.clients, headers), daemon=True)
        swarm.start()
        if not parent_end.poll(180):
            raise RuntimeError("WebSocket clients did not connect within 180 s")
        connected = parent_end.recv()
        if connected["connected"] < args.clients:
            raise RuntimeError(f"only {connected['connected']} of {args.clients} clients connected: {connected}")
        time.sleep(2)
        rss_after = sum(_rss(pid) for pid in services.pids("web", ws_ports))
        print(
            f"  {connected['connected']} WebSocket clients connected in {connected['connect_seconds']:.1f} s, "
            f"each got a snapshot of {connected['snapshot_bytes'] / 1024:.0f} KiB"
        )

        connections.close_all()
        warm_up_start = datetime.now(UTC)
        # The drive works only its own callbacks (offered once requested): the loaded history stays as loaded.
        queued = []
        if args.warm_up:
            warm_up = Driver(
                argparse.Namespace(**{**vars(args), "duration": args.warm_up}), http_ports, token, codes, [], agents
            )
            asyncio.run(warm_up.run())
            time.sleep(2)  # its last pushes reach the clients before the measured drive begins
            print(f"  warmed up: {warm_up.applied:,} events in {args.warm_up:g} s at the same rate (not measured)")
            queued = list(warm_up.queued)  # the measured drive starts with the same mix of events as it goes on
        driver = Driver(args, http_ports, token, codes, queued, agents)
        gc.collect()
        gc.freeze()  # as the server's processes do: no full collector pass over Django while timing events
        cpu_before, db_before = CpuSample(), db_active_seconds()
        print(f"  driving {args.rate:g} events/s for {args.duration:g} s …")
        layer_delays: list[float] = []
        drive_start, drive_end = asyncio.run(_drive_and_probe(driver, layer_delays))
        cpu = CpuSample().since(cpu_before, _process_groups(services, swarm.pid))
        window = drive_end - drive_start
        cpu["db_seconds"] = db_active_seconds() - db_before
        time.sleep(3)  # the last pushes
        services.check_alive()
        shift_began = _shifts_begun_since(warm_up_start)
        parent_end.send(
            {"drive_start": drive_start, "drive_end": drive_end, "events": driver.events, "shift_began": shift_began}
        )
        if not parent_end.poll(300):
            raise RuntimeError("WebSocket clients did not report within 300 s")
        result = parent_end.recv()
        swarm.join(10)
        result["layer_delay"] = _percentiles(layer_delays)
        report_live(args, driver, result, window, rss_before, rss_after, cpu)
        if not args.skip_baseline:
            swarm.terminate()
            # The live drive's callbacks still queued are the ones the baseline's drive works on.
            queued = list(driver.queued)
            run_baseline(
                args, services, http_ports, cookie, token, codes, agents, queued, cpu["db_seconds"] / cpu["wall"]
            )
    finally:
        if swarm is not None and swarm.is_alive():
            swarm.terminate()
        services.stop()


def _shifts_begun_since(since: datetime) -> list[str]:
    """The business processes whose new shift began since ``since`` (the timers recorded it): their Proc started
    again from 0 in the middle of the drive, so the clients cannot tell which of their events a row shows."""
    from django.db import connections

    from callbacks.models import BusinessProcess

    codes = list(BusinessProcess.objects.filter(shift_started_at__gte=since).values_list("code", flat=True))
    connections.close_all()
    return codes


async def _drive_and_probe(driver: Driver, delays: list[float]) -> tuple[float, float]:
    """Run the driver, with a probe on the channel layer: how long after computed_at a push reaches Redis's
    side of the group (what the web processes add on top of that shows in the clients' figures)."""
    from channels.layers import get_channel_layer

    from monitoring import live

    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(live.GROUP, channel)

    async def probe() -> None:
        while True:
            message = json.loads((await layer.receive(channel))["text"])
            if message["type"] == "rows":
                delays.append(time.time() - datetime.fromisoformat(message["computed_at"]).timestamp())

    task = asyncio.create_task(probe())
    try:
        return await driver.run()
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await layer.group_discard(live.GROUP, channel)


def _percentiles(values: list[float]) -> dict:
    if not values:
        return {"n": 0}
    values = sorted(values)
    return {q: values[min(int(f * len(values)), len(values) - 1)] for q, f in (("p50", 0.5), ("p99", 0.99))} | {
        "n": len(values)
    }


async def _warm_up(ports: list[int], cookie: str) -> None:
    """One WebSocket per web process first, so that its baseline memory includes everything imported."""
    for port in ports:
        ws = await WebSocket.connect(
            "127.0.0.1", port, "/ws/monitor/", {"Cookie": cookie, "Origin": f"http://127.0.0.1:{port}"}
        )
        await ws.recv()
        await ws.close()


def report_live(args, driver: Driver, result: dict, window: float, rss_before: int, rss_after: int, cpu: dict):
    def ms(p: dict, key: str) -> str:
        return f"{p[key] * 1000:,.0f} ms" if p.get("n") else "—"

    post = sorted(driver.post_times)
    print(
        f"  events posted {driver.posted:,} in {driver.requests:,} requests, applied {driver.applied:,}; "
        f"results {driver.statuses}"
        + (f"; {driver.skipped:,} not sent (a second's worth already waiting for an answer)" if driver.skipped else "")
    )
    for error in driver.errors:
        print(f"    e.g. {error}")
    print(
        f"  events applied/s: {driver.in_window / window:,.1f} (target {args.rate:g}; the driver's worst lag "
        f"behind schedule {driver.behind * 1000:,.0f} ms)"
    )
    print(
        f"  ingest POST time{' (per array)' if args.batch_ms else ''}: p50 {post[len(post) // 2] * 1000:,.0f} ms, "
        f"p99 {post[min(int(len(post) * 0.99), len(post) - 1)] * 1000:,.0f} ms"
    )

    def latency(label: str, p: dict) -> str:
        return f"  {label}p50 {ms(p, 'p50')}, p90 {ms(p, 'p90')}, p99 {ms(p, 'p99')}, max {ms(p, 'max')}"

    start_label = "from event queued, " if args.batch_ms else "from POST sent,    "
    print("  event → monitor latency (target p99 ≤ 1,000 ms):")
    print(
        latency(f"{start_label} first client: ", result["first"])
        + f"   ({result['events_seen']:,} of {result['events_measured']:,} events seen)"
    )
    print(
        latency(f"{start_label} all clients:  ", result["all"])
        + f"   ({result['pairs_seen']:,} of {result['pairs_expected']:,} event × client pairs)"
    )
    print(latency("from 201 answered,  first client: ", result["first_after_answer"]))
    print(latency("from 201 answered,  all clients:  ", result["all_after_answer"]))
    print(
        f"  each push, from compute start (computed_at) to the channel layer (a probe in the group): "
        f"p50 {ms(result['layer_delay'], 'p50')}, p99 {ms(result['layer_delay'], 'p99')}; to the clients: "
        f"p50 {ms(result['push_delay'], 'p50')}, p99 {ms(result['push_delay'], 'p99')} "
        f"(clients' event-loop lag p99 {ms(result['loop_lag'], 'p99')})"
    )
    m = result["messages_per_client"]
    print(
        f"  messages per client: {m['rows']['mean']:,.0f} rows ({result['rows_messages_per_second']:.1f}/s), "
        f"{m['heartbeat']['mean']:,.0f} heartbeats, {m['snapshot']['mean']:,.1f} snapshots; "
        f"{result['bytes_per_client'] / 1024:,.0f} KiB received per client; sequence gaps {result['gaps']}, "
        f"reconnects {result['reconnects']}"
    )
    if result["out_of_order"]:
        print(
            f"  pushes received OUT OF ORDER (computed before the message received just before): "
            f"{result['out_of_order']:,} (all clients together)"
        )
    if result["went_back"]:
        print(
            f"  rows seen going BACKWARDS (a number smaller than in the previous message): {result['went_back']}, "
            f"e.g. {'; '.join(result['went_back_examples'])}"
        )
    if result["early"]:
        print(f"  (not attributable: {result['early']} changes seen before their event was sent)")
    if result["shift_began"]:
        print(
            f"  not measured: {result['shift_began_events']:,} events on the {result['shift_began']} business "
            "processes whose new shift began during the drive (their Proc started again from 0)"
        )
    grown = (rss_after - rss_before) / args.clients
    print(
        f"  memory: web RSS {rss_before / 2**20:,.0f} MiB → {rss_after / 2**20:,.0f} MiB with "
        f"{args.clients} clients = {grown / 1024:,.0f} KiB per WebSocket connection"
    )

    def pct(seconds: float) -> str:
        return f"{100 * seconds / cpu['wall']:.0f} %"

    print(
        f"  CPU during the drive ({cpu['wall']:.0f} s, % of one core): machine {pct(cpu['machine'])} of "
        f"{os.cpu_count() * 100} % (and {pct(cpu['stolen'])} stolen by the hypervisor); "
        + ", ".join(f"{name} {pct(s)}" for name, s in cpu["groups"].items())
    )
    print(
        f"  DB time: {cpu['db_seconds'] / cpu['wall']:.2f} s per second (PostgreSQL's active time on the bench "
        "database: ingest, recomputes, everything)"
    )
    print(
        "    not ours: "
        + ", ".join(f"{name} {pct(s)}" for name, s in cpu["others"].items())
        + f"; processes that ended meanwhile (short-lived PostgreSQL backends…) {pct(cpu['unaccounted'])}"
    )


# ---------------------------------------------------------------------------------------------------------
# Phase 4: the naive baseline


def run_baseline(
    args, services: Services, ports: list[int], cookie: str, token: str, codes, agents, queued, live_db: float
):
    """The same event drive, but the monitors poll a page that recomputes everything with per-process ORM
    queries (bench/naive_monitor.py) every ``--poll-seconds``, as VICIdial's realtime report does; the worker and
    beat are stopped (nothing is pushed). Prints the database time per second beside the live system's."""
    services.stop("worker", "beat")
    driver = Driver(
        argparse.Namespace(**{**vars(args), "duration": args.baseline_duration}), ports, token, codes, queued, agents
    )
    print(
        f"\nBaseline: the same {args.rate:g} events/s for {args.baseline_duration:g} s; {args.clients} monitors poll "
        f"the naive page every {args.poll_seconds:g} s (worker and beat stopped: no pushes)"
    )
    cpu_before, db_before = CpuSample(), db_active_seconds()
    polls = asyncio.run(_drive_and_poll(driver, ports, cookie, args))
    cpu = CpuSample().since(cpu_before, {"web": services.pids("web"), "postgres": _pids_named("postgres")})
    db = (db_active_seconds() - db_before) / cpu["wall"]
    times = sorted(polls["times"])
    asked = args.clients / args.poll_seconds
    # Each web process runs as many naive pages at once as its database pool has connections (10); the other
    # polls wait for one and fail after the pool's timeout (10 s) with a 500.
    print(
        f"  polls answered with the page: {len(times):,} of the {asked * cpu['wall']:,.0f} asked ({asked:,.0f}/s); "
        + (f"page time p50 {times[len(times) // 2]:,.1f} s, max {times[-1]:,.1f} s; " if times else "")
        + f"statuses {polls['statuses']}; events applied/s {driver.in_window / cpu['wall']:,.1f}"
    )
    web, postgres = (100 * cpu["groups"][name] / cpu["wall"] for name in ("web", "postgres"))
    print(
        f"  DB time: {db:.2f} s per second, measured (live system: {live_db:.2f}); CPU: web {web:.0f} %, "
        f"PostgreSQL {postgres:.0f} %"
    )
    naive_sql = getattr(args, "naive_sql_seconds", None)
    if naive_sql:
        demanded = naive_sql * asked
        print(
            f"  DB time the baseline asks for: {naive_sql:,.2f} s of SQL per poll × {asked:,.0f} polls/s = "
            f"{demanded:,.1f} s per second — {demanded / live_db:,.0f}× the live system's {live_db:.2f} "
            "(target ≥ 10×); it cannot be served, hence the polls left unanswered above"
        )
    print(f"  measured DB time, baseline ÷ live: {db / live_db:,.1f}×")


async def _drive_and_poll(driver: Driver, ports: list[int], cookie: str, args) -> dict:
    times: list[float] = []
    statuses: dict[str, int] = {}
    end = time.monotonic() + args.baseline_duration

    async def monitor(n: int) -> None:
        connection = HttpConnection("127.0.0.1", ports[n % len(ports)], {"Cookie": cookie})
        next_poll = time.monotonic() + args.poll_seconds * n / args.clients  # spread over the period
        try:
            while (now := time.monotonic()) < end:
                await asyncio.sleep(max(next_poll - now, 0))
                started = time.monotonic()
                next_poll = started + args.poll_seconds  # a browser's timer: never two polls at once
                try:
                    status, _ = await asyncio.wait_for(connection.get("/bench/naive-monitor/"), end - started + 1)
                except (TimeoutError, OSError) as error:
                    statuses[type(error).__name__] = statuses.get(type(error).__name__, 0) + 1
                    return
                statuses[str(status)] = statuses.get(str(status), 0) + 1
                if status == 200 and time.monotonic() <= end:
                    times.append(time.monotonic() - started)
        finally:
            connection.close()

    monitors = [asyncio.create_task(monitor(n)) for n in range(args.clients)]
    await driver.run()
    await asyncio.gather(*monitors)
    return {"times": times, "statuses": statuses}


def db_active_seconds() -> float:
    """Seconds PostgreSQL's backends have spent executing statements in the bench database so far."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")  # a fresh reading, not this transaction's cached one
        cursor.execute("SELECT active_time FROM pg_stat_database WHERE datname = current_database()")
        (milliseconds,) = cursor.fetchone()
    connection.close()
    return milliseconds / 1000


def _process_groups(services: Services, swarm_pid: int) -> dict[str, list[int]]:
    return {
        "web": services.pids("web"),
        "worker": services.pids("worker"),
        "beat": services.pids("beat"),
        "postgres": _pids_named("postgres"),
        "redis": _pids_named("redis-server"),
        "bench driver": [os.getpid()],
        "bench clients": [swarm_pid],
    }


def _proc_stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()  # fields from the 3rd on (the name may hold spaces)


def _tree(pid: int) -> list[int]:
    """A process and its descendants."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (stat := _proc_stat(int(entry.name))):
            children.setdefault(int(stat[1]), []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def _pids_named(name: str) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if (entry / "comm").read_text().strip() == name:
                    pids.append(int(entry.name))
    return pids


class CpuSample:
    """CPU seconds used so far by every process (/proc/<pid>/stat), and by the whole machine (/proc/stat)."""

    def __init__(self) -> None:
        ticks = os.sysconf("SC_CLK_TCK")
        self.wall = time.monotonic()
        self.processes: dict[int, tuple[str, float]] = {}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit() and (stat := _proc_stat(int(entry.name))):
                with contextlib.suppress(OSError):
                    name = (entry / "comm").read_text().strip()
                    self.processes[int(entry.name)] = (name, (int(stat[11]) + int(stat[12])) / ticks)
        # user nice system idle iowait irq softirq steal (guest time is counted in user already)
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
        self.machine = (sum(fields) - fields[3] - fields[4] - fields[7]) / ticks  # all but idle, iowait and steal
        self.stolen = fields[7] / ticks  # the hypervisor ran someone else while this machine wanted its cores

    def since(self, before: CpuSample, groups: dict[str, list[int]]) -> dict:
        """Seconds used in between, per group, and by the busiest other processes (by name).

        A process that ended in between is missed (only the machine's total has it): "unaccounted"."""
        group_of = {pid: name for name, pids in groups.items() for pid in pids}
        used = {name: 0.0 for name in groups}
        others: dict[str, float] = {}
        for pid, (name, seconds) in self.processes.items():
            previous = before.processes.get(pid)
            delta = seconds - (previous[1] if previous and previous[0] == name else 0.0)
            if pid in group_of:
                used[group_of[pid]] += delta
            elif delta > 0:
                others[name] = others.get(name, 0.0) + delta
        machine = self.machine - before.machine
        return {
            "wall": self.wall - before.wall,
            "machine": machine,
            "stolen": self.stolen - before.stolen,
            "groups": used,
            "others": dict(sorted(others.items(), key=lambda item: -item[1])[:3]),
            "unaccounted": machine - sum(used.values()) - sum(others.values()),
        }


def _rss(pid: int) -> int:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


# ---------------------------------------------------------------------------------------------------------


def main() -> None:
    args = parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the clean-up on a plain kill too
    args.server_url = os.environ.get("DATABASE_URL", "")
    database_url = bench_database_url(args.server_url, args.database, args.reload)
    redis_url = os.environ.get("REDIS_URL", DEFAULT_REDIS_URL)
    env = setup_django(database_url, redis_url, args)
    print(
        f"Bench database: {args.database} on {urlsplit(database_url).hostname}:{urlsplit(database_url).port}; "
        f"Redis {redis_url}"
    )
    load(args)
    if not args.skip_columns:
        start_from_the_loaded_history()
        measure_columns(args)
    if not args.skip_live:
        run_live(args, env)


if __name__ == "__main__":
    main()
