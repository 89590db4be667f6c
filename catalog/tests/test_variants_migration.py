"""The variants migration on a database holding v1 data: the schema is migrated back to
before variants, v1 products, carts and orders are written with the models of that time,
and migrating forward must give every product one default variant (its SKU, price and
stock), point cart and order lines at it and leave the order snapshots as they were."""

from decimal import Decimal

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from users.tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [
    ("catalog", "0003_product_search"),
    ("cart", "0002_cartitem_quantity_requested"),
    ("orders", "0002_idempotencykey_to_nexus"),
]
AFTER = [
    ("catalog", "0004_variants"),
    ("cart", "0003_variants"),
    ("orders", "0003_variants"),
]


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return MigrationExecutor(connection).loader.project_state(targets).apps


def _latest():
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


def _v1_data(apps) -> dict:
    # The users table is not migrated back: its current model writes the row.
    user = apps.get_model("users", "User").objects.get(pk=UserFactory().pk)
    category = apps.get_model("catalog", "Category").objects.create(name="Mugs", slug="mugs")
    product_model = apps.get_model("catalog", "Product")
    mug = product_model.objects.create(
        name="Mug", slug="mug", sku="MUG-1", price=Decimal("7.50"), stock_quantity=4,
        category=category,
    )  # fmt: skip
    pen = product_model.objects.create(
        name="Pen", slug="pen", sku="PEN-1", price=Decimal("1.25"), stock_quantity=0,
        category=category, is_active=False,
    )  # fmt: skip
    cart = apps.get_model("cart", "Cart").objects.create(user=user, token="t" * 20)
    cart_item = apps.get_model("cart", "CartItem").objects.create(
        cart=cart, product=mug, quantity=2, unit_price_at_add=Decimal("7.00")
    )
    address = {"full_name": "Ada", "city": "London"}
    order = apps.get_model("orders", "Order").objects.create(
        user=user, number="NX-2026-000001", payment_method="card", subtotal=Decimal("9.00"),
        shipping_cost=Decimal("0"), total=Decimal("9.00"), currency="USD",
        shipping_address=address, billing_address=address,
    )  # fmt: skip
    item_model = apps.get_model("orders", "OrderItem")
    items = [
        item_model.objects.create(
            order=order,
            product=product,
            product_name=f"{product.name} (old name)",
            sku=f"{product.sku}-OLD",
            unit_price=price,
            quantity=1,
            line_total=price,
        )
        for product, price in ((mug, Decimal("7.75")), (pen, Decimal("1.25")))
    ]
    return {"mug": mug, "pen": pen, "cart_item": cart_item, "items": items}


def test_variants_migration_on_v1_data_and_back():
    try:
        # Given a v1 database with products, a cart and an order
        old = _v1_data(_migrate(BEFORE))

        # When the variants migrations run
        apps = _migrate(AFTER)

        # Then each product has one default variant carrying its v1 sku, price and stock
        variant_model = apps.get_model("catalog", "ProductVariant")
        variants = {v.product_id: v for v in variant_model.objects.all()}
        assert len(variants) == 2
        mug, pen = variants[old["mug"].pk], variants[old["pen"].pk]
        assert (mug.sku, mug.price, mug.stock_quantity, mug.is_active) == (
            "MUG-1",
            Decimal("7.50"),
            4,
            True,
        )
        assert (mug.name, mug.combination_key, mug.compare_at_price) == ("", "", None)
        assert (pen.sku, pen.stock_quantity) == ("PEN-1", 0)
        products = apps.get_model("catalog", "Product").objects
        assert products.get(pk=old["mug"].pk).price == Decimal("7.50")  # row not rewritten
        assert products.get(pk=old["pen"].pk).is_active is False  # product flags untouched
        # ... the cart line points at it, price-when-added kept
        line = apps.get_model("cart", "CartItem").objects.get(pk=old["cart_item"].pk)
        assert (line.variant_id, line.quantity, line.unit_price_at_add) == (
            mug.pk,
            2,
            Decimal("7.00"),
        )
        # ... and order lines too, their snapshots unchanged
        order_items = apps.get_model("orders", "OrderItem").objects.order_by("id")
        assert [
            (i.variant_id, i.product_name, i.sku, i.unit_price, i.variant_name) for i in order_items
        ] == [
            (mug.pk, "Mug (old name)", "MUG-1-OLD", Decimal("7.75"), ""),
            (pen.pk, "Pen (old name)", "PEN-1-OLD", Decimal("1.25"), ""),
        ]

        # And migrating back restores the v1 columns from the variants
        variant_model.objects.filter(pk=mug.pk).update(stock_quantity=3)
        apps = _migrate(BEFORE)
        product = apps.get_model("catalog", "Product").objects.get(pk=old["mug"].pk)
        assert product.stock_quantity == 3
        line = apps.get_model("cart", "CartItem").objects.get(pk=old["cart_item"].pk)
        assert line.product_id == old["mug"].pk
    finally:
        _latest()
