"""``manage.py outbox_prune``: delete delivered outbox rows past their retention."""

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError

from nexus.outbox import outbox_prune


class Command(BaseCommand):
    help = "Delete delivered outbox rows older than NEXUS_OUTBOX_KEEP_DAYS (7); failed rows stay."

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=None, help="Override the retention.")

    def handle(self, *args, days: int | None = None, **options):
        if days is not None and days < 0:
            raise CommandError("--days must not be negative.")
        deleted = outbox_prune(older_than=timedelta(days=days) if days is not None else None)
        self.stdout.write(f"Deleted {deleted} delivered outbox row(s).")
