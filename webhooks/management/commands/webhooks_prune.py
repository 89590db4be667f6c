"""``manage.py webhooks_prune``: delete finished webhook deliveries (and their events)
older than ``NEXUS_WEBHOOKS_KEEP_DAYS`` (beat runs it daily)."""

from datetime import timedelta

from django.core.management.base import BaseCommand

from webhooks.services import deliveries_prune


class Command(BaseCommand):
    help = "Delete delivered/failed webhook deliveries and events older than the retention."

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=None, help="Override the retention.")

    def handle(self, *args, days=None, **options):
        older_than = timedelta(days=days) if days is not None else None
        deliveries, events = deliveries_prune(older_than=older_than)
        self.stdout.write(f"Deleted {deliveries} webhook deliveries and {events} events.")
