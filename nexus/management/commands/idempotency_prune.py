"""``manage.py idempotency_prune``: delete Idempotency-Key records older than their TTL."""

from datetime import timedelta

from django.core.management.base import BaseCommand

from nexus.idempotency import idempotency_prune


class Command(BaseCommand):
    help = "Delete Idempotency-Key records older than NEXUS_IDEMPOTENCY_TTL_HOURS (24 h)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--hours", type=int, default=None, help="Override the age limit, in hours."
        )

    def handle(self, *args, hours: int | None = None, **options):
        older_than = timedelta(hours=hours) if hours is not None else None
        deleted = idempotency_prune(older_than=older_than)
        self.stdout.write(f"Deleted {deleted} idempotency key(s).")
