from datetime import UTC, date, datetime, time, timedelta

from django.core.management.base import BaseCommand, CommandError

from monitoring.reports import summary_hours


class Command(BaseCommand):
    help = (
        "Rewrite the summary report's pre-aggregated hours of these UTC days from the callbacks: after events that"
        " arrived later than SUMMARY_RECOMPUTE_HOURS, or a correction of the data. Callbacks deleted by retention"
        " then drop out of those hours."
    )

    def add_arguments(self, parser):
        parser.add_argument("first", type=date.fromisoformat, help="First UTC day, YYYY-MM-DD.")
        parser.add_argument("last", type=date.fromisoformat, help="Last UTC day, YYYY-MM-DD (included).")

    def handle(self, *args, first: date, last: date, **options):
        if last < first:
            raise CommandError("The last day comes before the first.")
        start = datetime.combine(first, time(), tzinfo=UTC)
        end = datetime.combine(last + timedelta(days=1), time(), tzinfo=UTC)
        rows = summary_hours.rebuild(start, end)
        self.stdout.write(f"{rows} business process hours written for {first} – {last} (UTC).")
