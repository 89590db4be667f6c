"""``manage.py carts_abandoned``: list carts nobody touched for a while, with their value,
and optionally purge stale guest carts."""

from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from cart import selectors, services


class Command(BaseCommand):
    help = (
        "List non-empty carts not updated for --hours (default 24) with their value at "
        "current prices; with --purge-guests, delete guest carts not updated for --days "
        "(default 30)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--hours", type=int, default=24, help="Abandoned after (hours).")
        parser.add_argument("--purge-guests", action="store_true", help="Delete stale guest carts.")
        parser.add_argument("--days", type=int, default=30, help="Guest carts stale after.")

    def handle(self, *args, hours: int, purge_guests: bool, days: int, **options):
        if hours < 1 or days < 1:
            raise CommandError("--hours and --days must be positive.")
        now = timezone.now()
        carts = list(selectors.carts_abandoned(before=now - timedelta(hours=hours)))
        currency = settings.NEXUS_CURRENCY
        for cart in carts:
            owner = cart.user.email if cart.user else "guest"
            self.stdout.write(
                f"cart {cart.pk}\t{owner}\t{cart.item_count} lines\t{cart.units} units\t"
                f"{cart.value:.2f} {currency}\tupdated {cart.updated_at.isoformat()}"
            )
        total = sum((cart.value for cart in carts), start=0)
        self.stdout.write(
            f"{len(carts)} abandoned carts (not updated for {hours} h), "
            f"worth {total:.2f} {currency}."
        )
        if purge_guests:
            purged = services.cart_guests_purge(older_than=now - timedelta(days=days))
            self.stdout.write(f"Deleted {purged} guest carts not updated for {days} days.")
