"""PostgreSQL only: VACUUM ANALYZE the product table after 0005 wrote some of its rows.

The counts of a lone price bound in a category (issue 18) are index-only scans of
``catalog_prod_active_cat_price``; they skip the table only for pages the visibility map
marks all-visible, and 0005's writes cleared that mark on most pages. Too few rows change
for autovacuum to come by soon, so without this the counts read the table for days.
ANALYZE gives the planner the new columns' statistics. VACUUM cannot run in a
transaction, hence a migration of its own, not atomic; it changes no data.
"""

from django.db import migrations


def vacuum(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor == "postgresql" and not connection.in_atomic_block:
        with connection.cursor() as cursor:
            cursor.execute("VACUUM (ANALYZE) catalog_product")


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("catalog", "0005_denormalised_counts_and_price_spread"),
    ]

    operations = [
        migrations.RunPython(vacuum, migrations.RunPython.noop, elidable=True),
    ]
