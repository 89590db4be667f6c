"""One identity per email and per username (issue 12), and revocable login sessions.

Adds ``email_normalized`` (NFKC + casefold of the email) as a unique column and a unique
index on ``lower(username)``. Existing rows are filled in before the constraints exist, so
the migration is safe on a database that already holds the duplicates the old code let
in (``sara@`` and ``\\u017fara@``; ``Casey`` and ``casey``): the oldest account keeps the
identity, every later duplicate is made unreachable by email (its key gets a ``#dup-<id>``
suffix that no address normalises to) or gets a ``-<id>`` suffix on its username. Those
accounts could not log in before either (the lookup raised MultipleObjectsReturned); staff
find them in the admin by the suffix. Nothing is deleted.
"""

import unicodedata

import django.db.models.functions.text
from django.db import migrations, models


def _email_key(email: str) -> str:
    # A frozen copy of users.models.email_key: migrations must not import app code.
    return unicodedata.normalize("NFKC", (email or "").strip()).casefold()


def fill_identities(apps, schema_editor):
    User = apps.get_model("users", "User")
    seen_emails: set[str] = set()
    seen_usernames: set[str] = set()
    for user in User.objects.order_by("id").only("id", "email", "username").iterator():
        key = _email_key(user.email)
        if key in seen_emails:
            key = f"{key}#dup-{user.pk}"[:254]
        seen_emails.add(key)
        username = user.username
        if username.lower() in seen_usernames:
            username = f"{username[: 150 - 12]}-{user.pk}"
        seen_usernames.add(username.lower())
        User.objects.filter(pk=user.pk).update(email_normalized=key, username=username)


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("users", "0001_initial"),
    ]

    operations = [
        migrations.CreateModel(
            name="RevokedSession",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("sid", models.CharField(max_length=64, unique=True)),
                ("expires_at", models.DateTimeField(db_index=True)),
            ],
        ),
        migrations.AddField(
            model_name="user",
            name="email_normalized",
            field=models.CharField(editable=False, max_length=254, null=True),
        ),
        migrations.RunPython(fill_identities, migrations.RunPython.noop, elidable=False),
        migrations.AlterField(
            model_name="user",
            name="email_normalized",
            field=models.CharField(editable=False, max_length=254, unique=True),
        ),
        migrations.AddConstraint(
            model_name="user",
            constraint=models.UniqueConstraint(
                django.db.models.functions.text.Lower("username"),
                name="users_user_username_ci_unique",
            ),
        ),
    ]
