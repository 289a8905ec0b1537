"""The Callbacks page at scale: server time and queries per request, and the plans of the phone search.

    DATABASE_URL=$(scripts/postgres.sh start) .venv/bin/python bench/callbacks_page.py \\
        [--business-processes 1000] [--callbacks 1000000] [--runs 7] [--database callbacks_page_bench]

PostgreSQL only. Works in its own database (created, migrated and loaded once with bench/monitor_load.py's
history: 14 days of callbacks, ~7 % still open, written with COPY; kept for reuse, ``--reload`` loads again).
Then, as a supervisor, through Django's test client (the whole middleware stack, no network):

1. Each typical request of the page (default range, 14 days, partial and whole phone, callback ID, states,
   duplicates only, sorting, a far page, a row's details): the number of queries, and the median and max
   server time of ``--runs`` warm runs. The target is under 100 ms.
2. EXPLAIN ANALYZE of the filter's queryset for a partial and a whole phone number: the trigram index
   (callback_phone_trgm) and the btree index (callback_phone) are used, no sequential scan.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import monitor_load  # noqa: E402


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--business-processes", type=int, default=1000)
    parser.add_argument("--callbacks", type=int, default=1_000_000)
    parser.add_argument("--agents", type=int, default=300)
    parser.add_argument("--open-fraction", type=float, default=0.07, help="share of callbacks still open")
    parser.add_argument("--runs", type=int, default=7, help="warm runs per request")
    parser.add_argument("--database", default="callbacks_page_bench", help="name of the bench database")
    parser.add_argument("--reload", action="store_true", help="drop the bench database and load it again")
    args = parser.parse_args()
    args.conn_max_age, args.db_pool = None, None  # monitor_load.setup_django's options, unused here
    return args


def requests() -> list[tuple[str, str, dict]]:
    """(label, path, query) of the requests measured, built from the loaded data."""
    from callbacks.models import Callback

    sample = Callback.objects.filter(attempts__gt=0).order_by("-created").only("external_id", "phone").first()
    partial = sample.phone[-7:-3]
    return [
        ("default (last 24 hours, newest first)", "/callbacks/", {}),
        ("last 14 days", "/callbacks/", {"range": "14d"}),
        ("last 14 days, page 10 of 500", "/callbacks/", {"range": "14d", "per_page": 500, "page": 10}),
        (f"partial phone {partial!r}, 14 days", "/callbacks/", {"range": "14d", "q": partial}),
        ("all digits of a phone, 14 days", "/callbacks/", {"range": "14d", "q": sample.phone}),
        ("callback ID, 14 days", "/callbacks/", {"range": "14d", "q": sample.external_id}),
        ("states Scheduled + Queued, 7 days", "/callbacks/", {"range": "7d", "state": ["scheduled", "queued"]}),
        ("duplicates only, 14 days", "/callbacks/", {"range": "14d", "duplicates": "on"}),
        ("sorted by phone, last 24 hours", "/callbacks/", {"sort": "phone"}),
        ("next 7 days", "/callbacks/", {"range": "next7d"}),
        ("a row's details (attempts + audit)", f"/callbacks/{sample.external_id}/details/", {}),
    ]


def measure(runs: int) -> None:
    from django.contrib.auth.models import Group, User
    from django.db import connection
    from django.test import Client

    user, _ = User.objects.get_or_create(username="bench-callbacks-page")
    user.groups.add(Group.objects.get(name="supervisors"))
    client = Client(HTTP_HOST="localhost")
    client.force_login(user)
    queries: list[str] = []

    def count_query(execute, sql, params, many, context):
        queries.append(sql)
        return execute(sql, params, many, context)

    print(f"{'request':<45} {'rows':>6} {'queries':>7} {'median ms':>9} {'max ms':>7}")
    for label, path, query in requests():
        response = client.get(path, query)
        assert response.status_code == 200, (label, response.status_code)
        queries.clear()
        with connection.execute_wrapper(count_query):
            client.get(path, query)
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            client.get(path, query)
            times.append((time.perf_counter() - started) * 1000)
        rows = response.content.decode().count("<tr data-callback=")
        print(f"{label:<45} {rows:>6} {len(queries):>7} {statistics.median(times):>9.1f} {max(times):>7.1f}")


def is_valid(phone: str) -> bool:
    from callbacks.phones import InvalidPhoneNumber, normalize_phone

    try:
        return normalize_phone(phone) == phone
    except InvalidPhoneNumber:
        return False


def explain() -> None:
    from callbacks.filtersets import CallbackFilterSet
    from callbacks.models import Callback

    recent = list(Callback.objects.order_by("-created").values_list("phone", flat=True)[:200])
    # A valid number is matched exactly (btree); the generated numbers are mostly not valid ones, which are
    # matched as digits (trigram).
    whole = next((phone for phone in recent if is_valid(phone)), None)
    searches = [("partial phone", recent[0][-7:-3]), ("all digits of an invalid number", recent[0])]
    if whole:
        searches.append(("whole valid phone", whole))
    for label, q in searches:
        filterset = CallbackFilterSet({"range": "14d", "q": q}, queryset=Callback.objects.all())
        assert filterset.is_valid()
        print(f"\nEXPLAIN ANALYZE, {label} {q!r} over 14 days:")
        print(filterset.qs.order_by("-created")[:250].explain(analyze=True))


def main() -> None:
    args = parse_args()
    args.server_url = os.environ.get("DATABASE_URL", "")
    database_url = monitor_load.bench_database_url(args.server_url, args.database, args.reload)
    monitor_load.setup_django(database_url, os.environ.get("REDIS_URL", monitor_load.DEFAULT_REDIS_URL), args)
    print(f"Bench database: {args.database}")
    monitor_load.load(args)
    measure(args.runs)
    explain()


if __name__ == "__main__":
    main()
