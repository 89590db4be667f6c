"""``manage.py outbox_sweep``: re-dispatch outbox rows still pending after a while."""

from django.core.management.base import BaseCommand, CommandError

from nexus.outbox import outbox_counts, outbox_sweep


class Command(BaseCommand):
    help = (
        "Re-enqueue pending outbox rows overdue by more than NEXUS_OUTBOX_SWEEP_AFTER_SECONDS "
        "(60 s): the broker was down at commit, or a worker died. Without a broker "
        "(NEXUS_OUTBOX_DISPATCH=inline) the rows are delivered by this process."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--overdue-seconds", type=int, default=None, help="Override the overdue margin."
        )

    def handle(self, *args, overdue_seconds: int | None = None, **options):
        if overdue_seconds is not None and overdue_seconds < 0:
            raise CommandError("--overdue-seconds must not be negative.")
        swept = outbox_sweep(overdue_seconds=overdue_seconds)
        counts = outbox_counts()
        self.stdout.write(
            f"Re-dispatched {swept} overdue outbox row(s); now pending {counts['pending']}, "
            f"failed {counts['failed']}, delivered {counts['delivered']}."
        )
