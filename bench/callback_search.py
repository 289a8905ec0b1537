"""How fast the Callback Search tab answers, and what its live push costs, among a million callbacks.

    DATABASE_URL=postgres://…/callbacks_bench .venv/bin/python bench/callback_search.py \
        [--callbacks 1000000] [--business-processes 1000] [--open-every 50] [--big 5000] [--keep]

PostgreSQL only (the rows are generated in SQL with generate_series). Give it a database of its own: it creates
the tables, fills them and empties them again at the end unless --keep. One callback in every --open-every is
still to be processed (the rest completed), spread over the business processes; one more business process,
BIG, holds --big open callbacks, more than the tab shows. Prints the server time of the page (the whole Django
request in process, template included) for a typical business process and for BIG, the time of the push's
list computation, the queries per page, and the query plan of the list.
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
os.environ.setdefault("ALLOWED_HOSTS", "testserver")

import django  # noqa: E402

django.setup()

from django.contrib.auth.models import Group, User  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402

from callbacks.models import BusinessProcess, Callback  # noqa: E402
from monitoring import search_live  # noqa: E402

OPEN_STATES = "ARRAY['scheduled', 'queued', 'queued', 'routing']"


def fill(callbacks: int, business_processes: int, open_every: int, big: int) -> BusinessProcess:
    BusinessProcess.objects.bulk_create(
        BusinessProcess(code=f"BP{n:04d}", name=f"Business process {n}") for n in range(business_processes)
    )
    big_bp = BusinessProcess.objects.create(code="BIG", name="Big")
    first = BusinessProcess.objects.order_by("pk").values_list("pk", flat=True).first()
    table = Callback._meta.db_table
    # (No query parameters: the SQL's own % operators stay as they are.)
    # Completed callbacks reached, open ones in the states of the Callback Search tab; entrance times over 30 days.
    common = f"""
        INSERT INTO {table} (id, external_id, business_process_id, phone, customer_name, state, agent_phase,
                             end_state, attempts, was_scheduled, created, queued_at, due_at, completed_at, updated)
        SELECT gen_random_uuid(), '{{prefix}}' || g, {{bp}}, '+1212' || lpad((g % 10000000)::text, 7, '0'),
               'Customer ' || g, {{state}},
               CASE WHEN {{state}} = 'routing' THEN 'offered' ELSE '' END,
               CASE WHEN {{state}} = 'completed' THEN 'reached' ELSE '' END,
               g % 3, false, now() - (g % 2592000) * interval '1 second',
               CASE WHEN {{state}} = 'queued' THEN now() END,
               CASE WHEN {{state}} = 'scheduled' THEN now() + interval '1 hour' END,
               CASE WHEN {{state}} = 'completed' THEN now() - (g % 86400) * interval '1 second' END,
               now()
        FROM generate_series(1, {{count}}) AS g
    """
    with connection.cursor() as cursor:
        state = f"CASE WHEN g % {open_every} = 0 THEN ({OPEN_STATES})[1 + (g / {open_every}) % 4] ELSE 'completed' END"
        cursor.execute(
            common.format(
                bp=f"{first} + (random() * {business_processes})::int % {business_processes}",
                state=f"({state})",
                prefix="bench-",
                count=callbacks,
            )
        )
        cursor.execute(common.format(bp=str(big_bp.pk), state=f"({OPEN_STATES})[1 + g % 4]", prefix="big-", count=big))
        cursor.execute(f"ANALYZE {table}")
    return big_bp


def timed(client: Client, url: str, runs: int) -> tuple[float, float, int]:
    executed = []
    with connection.execute_wrapper(lambda execute, sql, *args: executed.append(sql) or execute(sql, *args)):
        assert client.get(url).status_code == 200
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        response = client.get(url)
        times.append(time.perf_counter() - started)
        assert response.status_code == 200
    times.sort()
    return statistics.median(times) * 1000, times[int(len(times) * 0.95) - 1] * 1000, len(executed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--callbacks", type=int, default=1_000_000)
    parser.add_argument("--business-processes", type=int, default=1000)
    parser.add_argument("--open-every", type=int, default=50)
    parser.add_argument("--big", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--keep", action="store_true", help="leave the data in the database")
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        sys.exit("Give DATABASE_URL of a PostgreSQL database of its own.")

    call_command("migrate", verbosity=0)
    if BusinessProcess.objects.exists():
        sys.exit("The database already holds business processes: give the benchmark a database of its own.")
    try:
        started = time.perf_counter()
        big = fill(args.callbacks, args.business_processes, args.open_every, args.big)
        print(f"filled {Callback.objects.count():,} callbacks in {time.perf_counter() - started:.0f} s")
        user = User.objects.create_user("bench-supervisor")
        user.groups.add(Group.objects.get(name="supervisors"))
        client = Client()
        client.force_login(user)
        typical = BusinessProcess.objects.get(code="BP0001")
        for business_process in (typical, big):
            opened = Callback.objects.filter(
                business_process=business_process, state__in=["scheduled", "queued", "routing"]
            )
            p50, p95, queries = timed(client, f"/business-processes/{business_process.code}/search/", args.runs)
            print(
                f"search page {business_process.code} ({opened.count():,} open, {min(opened.count(), 500)} rows): "
                f"p50 {p50:.1f} ms, p95 {p95:.1f} ms, {queries} queries"
            )
            times = []
            for _ in range(args.runs):
                before = time.perf_counter()
                search_live.compute(business_process)
                times.append(time.perf_counter() - before)
            print(f"  push list computation: p50 {statistics.median(times) * 1000:.1f} ms")
        with connection.cursor() as cursor:
            queryset = (
                Callback.objects.filter(search_live.TO_BE_PROCESSED, business_process=big)
                .select_related("owner_agent", "current_agent")
                .order_by("-created", "external_id")[: search_live.ROW_LIMIT]
            )
            sql, params = queryset.query.sql_with_params()
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
            print("query plan of the list (BIG):")
            for (line,) in cursor.fetchall():
                print("  " + line)
    finally:
        if not args.keep:
            with connection.cursor() as cursor:
                cursor.execute(f"TRUNCATE {Callback._meta.db_table} CASCADE")
            BusinessProcess.objects.all().delete()
            User.objects.filter(username="bench-supervisor").delete()


if __name__ == "__main__":
    main()
