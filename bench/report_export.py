"""Report export throughput and memory: the Completed Callback Interaction CSV and XLSX downloads.

    DATABASE_URL=$(scripts/postgres.sh start) .venv/bin/python bench/report_export.py \\
        [--database callbacks_bench] [--sizes 100000,1000000] [--formats csv,xlsx] [--explain]

PostgreSQL only. Reads (never writes) the monitor benchmark's database ``callbacks_bench`` (made by
bench/monitor_load.py: 1,000 business processes, ~1,000,000 callbacks of which ~93 % completed, their
attempts); it must hold at least 900,000 completed callbacks, else run monitor_load.py first (or give
``--database`` another database made the same way).

For each size N and format, in a fresh child process (so its peak memory is its own): the N oldest completed
callbacks are selected the way the report does (a completion date range: completed up to the N-th one's
time), exported exactly as a download does (monitoring.reports.exports: the CSV written by PostgreSQL's COPY,
monitoring.reports.csv_copy; the XLSX from one cursor over the callbacks joined to their attempts) into a file
under /tmp, and measured:
  - rows/s: CSV rows (one per attempt, or one for a callback without any) per second of wall time;
    callbacks/s beside it. XLSX: rows of both sheets per second. Also rows per CPU-second of the exporting
    process (PostgreSQL's own time not included): on a busy machine the wall-time figure is the pessimistic one.
  - memory: peak RSS (VmHWM) minus RSS just before the export started — what the export added. A constant
    memory export shows the same figure at 100k and at 1M callbacks.
Target (DESIGN.md): CSV ≥ 50,000 rows/s; memory that does not grow with the number of rows.

``--explain`` also prints PostgreSQL's plans for the report page's queries (a week of completions, and one
business process over a month), to show the completion-time indexes at work.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BENCH_SECRET_KEY = "report-benchmark-only-key-not-secret-" + "x" * 20


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", default="callbacks_bench", help="the database to read (made by monitor_load)")
    parser.add_argument("--sizes", default="100000,1000000", help="numbers of callbacks to export (capped)")
    parser.add_argument("--formats", default="csv,xlsx")
    parser.add_argument("--explain", action="store_true", help="print the report page's query plans")
    parser.add_argument("--one", nargs=2, metavar=("FORMAT", "SIZE"), help=argparse.SUPPRESS)
    return parser.parse_args()


def database_url(name: str) -> str:
    server_url = os.environ.get("DATABASE_URL", "")
    if urlsplit(server_url).scheme not in ("postgres", "postgresql", "pgsql"):
        sys.exit("report_export needs PostgreSQL: DATABASE_URL=$(scripts/postgres.sh start) (SQLite is refused).")
    return urlunsplit(urlsplit(server_url)._replace(path=f"/{name}"))


def setup_django(url: str) -> None:
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings.local",
            "DATABASE_URL": url,
            "DATABASE_POOL_MAX_SIZE": "0",
            "SECRET_KEY": BENCH_SECRET_KEY,
            "DEBUG": "0",
            "LOG_LEVEL": "WARNING",
        }
    )
    import django

    django.setup()


def memory_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def selection(size: int):
    """The ``size`` oldest completed callbacks, selected as the report selects: by completion time."""
    from monitoring.reports import completed

    callbacks = completed.completed_callbacks()
    last = callbacks.order_by("completed_at", "pk").values_list("completed_at", flat=True)[size - 1 : size]
    last = list(last)
    return callbacks.filter(completed_at__lte=last[0]) if last else callbacks


def run_one(fmt: str, size: int) -> dict:
    """In the child process: one export, measured."""
    from zoneinfo import ZoneInfo

    from monitoring.reports import exports

    tz = ZoneInfo("Europe/Paris")
    callbacks = selection(size)
    total = callbacks.count()
    out = Path(tempfile.mkstemp(prefix="report-bench-", suffix=f".{fmt}")[1])
    # Warm the code paths (imports, the first query) on a few callbacks, then take the baseline.
    with open(os.devnull, "wb") as sink:
        for part in exports.csv_parts(selection(10), tz):
            sink.write(part)
    exports.write_xlsx(selection(10), tz, out)
    rss_before = memory_kib("VmRSS")
    cpu_before = time.process_time()
    started = time.perf_counter()
    if fmt == "csv":
        with open(out, "wb") as file:
            for part in exports.csv_parts(callbacks, tz):
                file.write(part)
        with open(out, encoding="utf-8") as file:
            rows = sum(1 for _ in file) - 1
    else:
        rows = exports.write_xlsx(callbacks, tz, out)
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu_before
    size_mb = out.stat().st_size / 1e6
    out.unlink()
    return {
        "format": fmt,
        "callbacks": total,
        "rows": rows,
        "seconds": elapsed,
        "cpu_seconds": cpu,
        "rss_before_mib": rss_before / 1024,
        "growth_mib": (memory_kib("VmHWM") - rss_before) / 1024,
        "file_mb": size_mb,
    }


def explain() -> None:
    from datetime import timedelta

    from django.db import connection

    from callbacks.models import Callback
    from monitoring.reports import completed

    newest = Callback.objects.filter(completed_at__isnull=False).order_by("-completed_at").first()
    end = newest.completed_at
    week = completed.completed_callbacks().filter(completed_at__gte=end - timedelta(days=7), completed_at__lt=end)
    bp = newest.business_process_id
    month_one_bp = completed.completed_callbacks().filter(
        business_process=bp, completed_at__gte=end - timedelta(days=30), completed_at__lt=end
    )
    for label, queryset in (("a week, all business processes", week), ("a month, one business process", month_one_bp)):
        page = queryset.order_by("-completed_at", "-pk")[:100]
        for what, sql_of in (("page of 100", page), ("total, counted up to 10,001", None)):
            with connection.cursor() as cursor:
                if sql_of is None:
                    sql, params = queryset.order_by().values("pk")[:10_001].query.sql_with_params()
                    sql = f"SELECT count(*) FROM ({sql}) counted"
                else:
                    sql, params = sql_of.query.sql_with_params()
                started = time.perf_counter()
                cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
                plan = [row[0] for row in cursor.fetchall()]
                elapsed = (time.perf_counter() - started) * 1000
                print(f"\n-- {label}: {what} ({elapsed:.0f} ms with EXPLAIN ANALYZE)")
                print("\n".join(plan))


def main() -> None:
    args = parse_args()
    url = database_url(args.database)
    setup_django(url)
    if args.one:
        print(json.dumps(run_one(args.one[0], int(args.one[1]))))
        return
    from callbacks.models import Callback

    available = Callback.objects.filter(completed_at__isnull=False).count()
    print(f"{args.database}: {available:,} completed callbacks")
    if available < 900_000:
        sys.exit("Fewer than 900,000 completed callbacks: run bench/monitor_load.py first (it makes callbacks_bench).")
    if args.explain:
        explain()
    print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs (figures are wall time: shared)")
    results = []
    for size in (min(int(n), available) for n in args.sizes.split(",")):
        for fmt in args.formats.split(","):
            child = subprocess.run(
                [sys.executable, __file__, "--database", args.database, "--one", fmt, str(size)],
                capture_output=True,
                text=True,
                check=True,
            )
            result = json.loads(child.stdout.strip().splitlines()[-1])
            results.append(result)
            print(
                f"{result['format']:>4}  {result['callbacks']:>9,} callbacks  {result['rows']:>9,} rows  "
                f"{result['seconds']:7.1f} s  {result['rows'] / result['seconds']:>8,.0f} rows/s  "
                f"{result['callbacks'] / result['seconds']:>8,.0f} callbacks/s  "
                f"({result['rows'] / result['cpu_seconds']:,.0f} rows per CPU-second of the exporter)  "
                f"memory +{result['growth_mib']:.1f} MiB (RSS before {result['rss_before_mib']:.0f} MiB)  "
                f"file {result['file_mb']:.0f} MB",
                flush=True,
            )
    csv_rates = [r["rows"] / r["seconds"] for r in results if r["format"] == "csv"]
    if csv_rates:
        print(
            f"\nCSV target ≥ 50,000 rows/s: {'met' if min(csv_rates) >= 50_000 else 'NOT met'} ({min(csv_rates):,.0f})"
        )


if __name__ == "__main__":
    main()
