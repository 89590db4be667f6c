"""``manage.py outbox_status``: outbox rows per status, for operators (deploy.sh status)."""

from django.core.management.base import BaseCommand

from nexus.outbox import outbox_counts


class Command(BaseCommand):
    help = "Print outbox rows per status and how many pending rows are overdue."

    def handle(self, *args, **options):
        counts = outbox_counts()
        self.stdout.write(
            f"outbox: {counts['pending']} pending ({counts['overdue']} overdue), "
            f"{counts['failed']} failed, {counts['delivered']} delivered"
        )
