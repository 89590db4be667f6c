"""``manage.py auth_prune``: delete revoked access tokens and sessions past their expiry and
stale login-failure counters (SimpleJWT's own tokens: ``manage.py flushexpiredtokens``)."""

from django.core.management.base import BaseCommand

from users.services import auth_records_prune


class Command(BaseCommand):
    help = (
        "Delete revoked access tokens and sessions that have expired anyway and "
        "login-failure counters whose window and lockout are over."
    )

    def handle(self, *args, **options):
        revoked, failures = auth_records_prune()
        self.stdout.write(
            f"Deleted {revoked} expired revocation row(s) and {failures} stale "
            "login-failure counter(s)."
        )
