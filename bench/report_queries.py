"""Report query times: the summary report (counted from the callbacks, and summed from the pre-aggregated hours)
and the agent reconciliation, for a day, a week and a month ending at the newest data.

    DATABASE_URL=$(scripts/postgres.sh start) .venv/bin/python bench/report_queries.py \\
        --database callbacks_bench_reports [--runs 5] [--zone Europe/Paris] [--build]

PostgreSQL only. The database is one made like bench/monitor_load.py's ``callbacks_bench`` (1,000 business
processes, ~1,000,000 callbacks). ``--build`` first rewrites the summary's hours from scratch
(summary_hours: it WRITES the SummaryHour table, so give it a copy, not the shared ``callbacks_bench``, e.g.
``createdb -O callbacks -T callbacks_bench callbacks_bench_reports``); without it the table is used as it is.

Each figure is the median of ``--runs`` runs: wall time, and the CPU time of this process (PostgreSQL's own
time is the difference, roughly, on an idle machine; on a shared one the wall time is the pessimistic figure).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.report_export import database_url, setup_django  # noqa: E402


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", default="callbacks_bench_reports")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--zone", default="Europe/Paris")
    parser.add_argument("--build", action="store_true", help="rewrite SummaryHour from scratch first (writes!)")
    return parser.parse_args()


def measure(function, runs: int) -> tuple[float, float, int]:
    walls, cpus, size = [], [], 0
    for _ in range(runs):
        cpu, wall = time.process_time(), time.perf_counter()
        size = len(function())
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus), size


def main() -> None:
    args = parse_args()
    setup_django(database_url(args.database))
    import os
    from unittest import mock
    from zoneinfo import ZoneInfo

    from django.db.models import Max
    from django.utils import timezone

    from callbacks.models import Callback
    from monitoring.models import SummaryCoverage, SummaryHour
    from monitoring.reports import agents, summary, summary_hours

    load = f"load {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    print(f"{args.database}: {Callback.objects.count():,} callbacks; {load}")
    if args.build:
        SummaryCoverage.objects.all().delete()
        cpu, wall = time.process_time(), time.perf_counter()
        rows = summary_hours.refresh()
        print(
            f"summary hours built: {rows:,} rows in {time.perf_counter() - wall:.1f} s wall, "
            f"{time.process_time() - cpu:.1f} s CPU"
        )
        cpu, wall = time.process_time(), time.perf_counter()
        rows = summary_hours.refresh()
        print(
            f"summary hours refreshed (the beat's run: last {summary_hours.settings.SUMMARY_RECOMPUTE_HOURS} hours): "
            f"{rows:,} rows in {time.perf_counter() - wall:.1f} s wall, {time.process_time() - cpu:.1f} s CPU"
        )
    coverage = SummaryCoverage.objects.first()
    print(f"SummaryHour: {SummaryHour.objects.count():,} rows, complete until {coverage and coverage.complete_until}")

    tz = ZoneInfo(args.zone)
    newest = Callback.objects.aggregate(newest=Max("completed_at"))["newest"] or timezone.now()
    last = newest.astimezone(tz).date()
    for label, days in (("day", 1), ("week", 7), ("month", 31)):
        first = last - timedelta(days=days - 1)
        with mock.patch.object(summary_hours, "covered_until", lambda start, end, tz: start):
            counted = measure(lambda first=first: summary.summarize(first, last, tz), args.runs)
        from_hours = measure(lambda first=first: summary.summarize(first, last, tz), args.runs)
        per_hour = measure(lambda: summary.summarize(last, last, tz, summary.HOUR), args.runs) if days == 1 else None
        reconciled = measure(lambda first=first: agents.reconcile(first, last, tz), args.runs)
        for name, (wall, cpu, size) in (
            ("summary, counted from the callbacks", counted),
            ("summary, summed from the hours", from_hours),
            ("summary per hour, from the hours", per_hour or (0, 0, 0)),
            ("agent reconciliation", reconciled),
        ):
            if name.startswith("summary per hour") and per_hour is None:
                continue
            print(f"{label:>5} ({first} – {last}, {args.zone})  {name:<38} {wall * 1000:7.0f} ms wall  "
                  f"{cpu * 1000:6.0f} ms CPU  {size:>6,} lines", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
