from django.core.management.base import BaseCommand, CommandError

from callbacks.models import ApiToken


class Command(BaseCommand):
    help = "Create an API token for the ingest API and print it (it is shown this once)."

    def add_arguments(self, parser):
        parser.add_argument("name", help="Who will use the token, e.g. 'telephony' or 'agent-desktop'.")

    def handle(self, *args, name: str, **options):
        if ApiToken.objects.filter(name=name).exists():
            raise CommandError(f"A token named “{name}” already exists; choose another name or revoke it first.")
        _, key = ApiToken.issue(name)
        self.stdout.write(key)
