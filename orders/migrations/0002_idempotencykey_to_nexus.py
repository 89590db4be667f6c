"""``IdempotencyKey`` now belongs to nexus (nexus/migrations/0001_idempotency.py): drop it
from orders' state only; the table stays."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("orders", "0001_initial"),
        ("nexus", "0001_idempotency"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[migrations.DeleteModel(name="IdempotencyKey")],
        ),
    ]
