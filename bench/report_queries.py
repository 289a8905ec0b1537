"""Report query times: the summary report (counted from the callbacks, and summed from the pre-aggregated hours)
and the agent reconciliation (classified directly, and summed from its pre-aggregated settled offers), for a
day, a week and a month ending at the newest data.

    DATABASE_URL=$(scripts/postgres.sh start) .venv/bin/python bench/report_queries.py \\
        --database callbacks_bench_reports [--runs 5] [--zone Europe/Paris] [--build]

PostgreSQL only. The database is one made like bench/monitor_load.py's ``callbacks_bench`` (1,000 business
processes, ~1,000,000 callbacks). ``--build`` first rewrites the summary's hours and the agent
reconciliation's settled offers from scratch (summary_hours, agent_hours: it WRITES the SummaryHour and
AgentHour tables, so give it a copy, not the shared ``callbacks_bench``, e.g.
``createdb -O callbacks -T callbacks_bench callbacks_bench_reports``); without it the tables are used as they are.
``--only agents`` measures the agent reconciliation alone.

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
    parser.add_argument("--build", action="store_true", help="rewrite the pre-aggregated tables first (writes!)")
    parser.add_argument("--only", choices=["summary", "agents"], help="measure one report only")
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

    from django.conf import settings
    from django.db.models import Max
    from django.utils import timezone

    from callbacks.models import Callback
    from monitoring.models import AgentHour, AgentHourCoverage, SummaryCoverage, SummaryHour
    from monitoring.reports import agent_hours, agents, summary, summary_hours

    load = f"load {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    print(f"{args.database}: {Callback.objects.count():,} callbacks; {load}")
    if args.build and args.only != "summary":
        AgentHourCoverage.objects.all().delete()
        for run in ("built", f"refreshed (the beat's run: last {settings.SUMMARY_RECOMPUTE_HOURS} hours)"):
            cpu, wall = time.process_time(), time.perf_counter()
            rows = agent_hours.refresh()
            print(
                f"agent hours {run}: {rows:,} rows in {time.perf_counter() - wall:.1f} s wall, "
                f"{time.process_time() - cpu:.1f} s CPU"
            )
    if args.build and args.only != "agents":
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
            f"summary hours refreshed (the beat's run: last {settings.SUMMARY_RECOMPUTE_HOURS} hours): "
            f"{rows:,} rows in {time.perf_counter() - wall:.1f} s wall, {time.process_time() - cpu:.1f} s CPU"
        )
    coverage = SummaryCoverage.objects.first()
    print(f"SummaryHour: {SummaryHour.objects.count():,} rows, complete until {coverage and coverage.complete_until}")
    print(f"AgentHour: {AgentHour.objects.count():,} rows, complete until {agent_hours.complete_until()}")

    def counted(*arguments):
        """The summary as if SummaryHour had never been built."""
        with mock.patch.object(summary_hours, "covered_until", lambda start, end, tz: start):
            return summary.summarize(*arguments)

    def directly(*arguments):
        """The agent reconciliation as if AgentHour had never been built (as before it existed)."""
        with mock.patch.object(agent_hours, "complete_until", lambda: None):
            return agents.reconcile(*arguments)

    tz = ZoneInfo(args.zone)
    newest = Callback.objects.aggregate(newest=Max("completed_at"))["newest"] or timezone.now()
    last = newest.astimezone(tz).date()
    for label, days in (("day", 1), ("week", 7), ("month", 31)):
        first = last - timedelta(days=days - 1)
        figures = []
        if args.only != "agents":
            figures.append(("summary, counted from the callbacks", counted, (first, last, tz)))
            figures.append(("summary, summed from the hours", summary.summarize, (first, last, tz)))
            if days == 1:
                figures.append(("summary per hour, from the hours", summary.summarize, (last, last, tz, summary.HOUR)))
        if args.only != "summary":
            figures.append(("agent reconciliation, classified directly", directly, (first, last, tz)))
            figures.append(("agent reconciliation, from the hours", agents.reconcile, (first, last, tz)))
        for name, function, arguments in figures:
            wall, cpu, size = measure(lambda function=function, arguments=arguments: function(*arguments), args.runs)
            print(f"{label:>5} ({first} – {last}, {args.zone})  {name:<42} {wall * 1000:7.0f} ms wall  "
                  f"{cpu * 1000:6.0f} ms CPU  {size:>6,} lines", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
