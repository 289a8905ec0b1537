"""Reports (issue 6, seed 001 "Callback Reporting"): one module per report, sharing the pieces below.

completed.py     6.04 Completed Callback Interaction: the query (one per page, attempts prefetched) and
                 how an attempt reads in the report (its time, agent name, attempt state)
filtersets.py    the reports' filters (django-filter), with the time zone their dates are read in
tables.py        the reports' on-screen tables (django-tables2)
exports.py       CSV / XLSX downloads, streamed in constant memory; large ones written by a Celery task
                 (monitoring.tasks.export_report) into settings.REPORT_EXPORT_DIR

agents.py        agent performance vs agent interactions (seed 000), every difference by reason
summary.py       per business process per day or hour: requested, end states, reach rate, averages
summary_hours.py the summary's figures pre-aggregated per business process per UTC hour (SummaryHour)
csv_copy.py      the CSV download written by PostgreSQL (COPY), the same bytes as exports.py's
database.py      what the reports ask of the database beyond their queries (no JIT)
"""
