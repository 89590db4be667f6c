"""Issue 18: denormalise each category's count of its own active products and the width
of each product's active price range, so that the categories list, a category filter and
a lone price bound read them instead of counting or probing 100,000 products.

Fast at 100,000 products (issue 14): ``active_price_spread`` is added with the default 0
(on PostgreSQL a catalogue change, no table rewrite), which is already right for every
product whose active variants share one price; only the others (a product with several
prices, or none active: NULL) are written, then the index is built once.
"""

from decimal import Decimal

from django.db import migrations, models
from django.db.models import Count, IntegerField, Max, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce


def fill(apps, schema_editor):
    category_model = apps.get_model("catalog", "Category")
    product_model = apps.get_model("catalog", "Product")
    variant_model = apps.get_model("catalog", "ProductVariant")
    active_products = (
        product_model.objects.filter(category_id=OuterRef("pk"), is_active=True)
        .order_by()
        .values("category_id")
        .annotate(n=Count("id"))
        .values("n")
    )
    category_model.objects.update(
        product_count=Coalesce(Subquery(active_products, output_field=IntegerField()), Value(0))
    )
    # ``price`` is the lowest active variant price whenever one is active (the services
    # keep it so), so the spread is the highest active price minus ``price``.
    highest = Subquery(
        variant_model.objects.filter(product_id=OuterRef("pk"), is_active=True)
        .order_by()
        .values("product_id")
        .annotate(v=Max("price"))
        .values("v")[:1]
    )
    other = list(
        product_model.objects.annotate(top=highest)
        .filter(Q(top__isnull=True) | Q(top__gt=models.F("price")))
        .values_list("pk", flat=True)
    )
    for start in range(0, len(other), 5000):
        product_model.objects.filter(pk__in=other[start : start + 5000]).update(
            active_price_spread=highest - models.F("price")
        )


class Migration(migrations.Migration):

    dependencies = [
        ("catalog", "0004_variants"),
    ]

    operations = [
        migrations.AddField(
            model_name="category",
            name="product_count",
            field=models.PositiveIntegerField(default=0, editable=False),
        ),
        migrations.AddField(
            model_name="product",
            name="active_price_spread",
            field=models.DecimalField(
                blank=True,
                decimal_places=2,
                default=Decimal("0"),
                editable=False,
                max_digits=12,
                null=True,
            ),
        ),
        migrations.RunPython(fill, migrations.RunPython.noop, elidable=True),
        migrations.AddConstraint(
            model_name="product",
            constraint=models.CheckConstraint(
                condition=models.Q(("active_price_spread__gte", 0)),
                name="catalog_product_spread_gte_0",
            ),
        ),
        migrations.AddIndex(
            model_name="product",
            index=models.Index(
                fields=["is_active", "category", "price", "active_price_spread"],
                name="catalog_prod_active_cat_price",
            ),
        ),
    ]
