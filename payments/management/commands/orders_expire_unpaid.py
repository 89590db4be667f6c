"""``manage.py orders_expire_unpaid``: cancel and restock unpaid card orders older than
NEXUS_UNPAID_ORDER_TTL_MINUTES, and resend automatic refunds Stripe did not take yet.
Celery beat runs it every minute (NEXUS_SCHEDULED_JOBS); two runs at once are safe (row locks)."""

from django.core.management.base import BaseCommand

from payments.services import refunds_retry_pending, unpaid_orders_expire


class Command(BaseCommand):
    help = __doc__

    def handle(self, *args, **options):
        expired = unpaid_orders_expire()
        resent = refunds_retry_pending()
        self.stdout.write(
            f"expired {len(expired)} unpaid order(s)"
            + (f": {', '.join(expired)}" if expired else "")
            + f"; resent {resent} automatic refund(s)"
        )
