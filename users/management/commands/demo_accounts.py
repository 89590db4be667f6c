"""``manage.py demo_accounts``: show the demo accounts, or (``--reset``) give them new
passwords and print them.

The demo data loader prints the generated passwords once; a second ``make run`` prints
none. ``make demo-accounts`` runs this with ``--reset``: each demo account that exists
gets a new random password (printed here, never stored anywhere else), is re-activated,
and the staff account is put back into the staff group. Accounts are looked up by the
loader's default emails, or by ``--staff-email``/``--customer-email``. Refuses to run
outside DEBUG unless ``--force`` is given: these are demo accounts, not real ones.
"""

import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from users.roles import STAFF_GROUP
from users.services import demo_account_reset


class Command(BaseCommand):
    help = "Show the demo accounts; --reset gives them new passwords and prints them."

    def add_arguments(self, parser):
        parser.add_argument("--reset", action="store_true", help="Set and print new passwords.")
        parser.add_argument("--staff-email", default="staff@nexus.example")
        parser.add_argument("--customer-email", default="customer@nexus.example")
        parser.add_argument(
            "--force", action="store_true", help="Also outside DEBUG (never in production)."
        )

    def handle(self, *args, **options):
        if not settings.DEBUG and not options["force"]:
            raise CommandError("Demo accounts are for development (DJANGO_DEBUG=1) only.")
        user_model = get_user_model()
        found = 0
        for role, email in (
            ("staff", options["staff_email"]),
            ("customer", options["customer_email"]),
        ):
            user = user_model.objects.filter(email__iexact=email).first()
            if user is None:
                self.stdout.write(f"Demo {role} {email}: missing (run `make seed` to create it).")
                continue
            found += 1
            if options["reset"]:
                password = secrets.token_urlsafe(12)
                demo_account_reset(user=user, password=password)
                shown = f"password: {password}"
            else:
                shown = "password unchanged (--reset sets and prints a new one)"
            groups = ", ".join(user.groups.values_list("name", flat=True)) or "no groups"
            self.stdout.write(
                self.style.WARNING(f"Demo {role}: {user.email}  {shown}  [{user.role}; {groups}]")
            )
        if found and not options["reset"]:
            self.stdout.write("Run `make demo-accounts` to reset and print the passwords.")
        if found and options["reset"]:
            self.stdout.write(
                f"Staff sign in at /admin/ (group {STAFF_GROUP!r}); both use /api/v1/auth/login/."
            )
