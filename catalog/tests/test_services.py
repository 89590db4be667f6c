"""Catalog services: stock changes that compose under concurrency, stale-free updates,
slug generation under races, delete-or-deactivate."""

import threading
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction

from catalog import services
from catalog.errors import OutOfStock
from catalog.models import Product, ProductVariant
from catalog.tests.factories import CategoryFactory, ProductFactory, default_variant
from catalog.tests.test_denormalised import assert_denormalised_fresh
from nexus.testing import requires_postgres


@pytest.mark.django_db
def test_stock_reserve_takes_a_thousand_lines_in_one_statement():
    # Review of the one-statement take: its condition was an OR chain, which SQLite
    # refuses at 1,000 terms ("Expression tree is too large"), a 500 on a big cart.
    product = ProductFactory(variants=False)
    variants = ProductVariant.objects.bulk_create(
        ProductVariant(
            product=product,
            sku=f"BULK-{n:05d}",
            price=Decimal("1.00"),
            stock_quantity=3,
            combination_key=f"k{n}",
        )
        for n in range(1200)
    )
    quantities = {variant.pk: 1 + variant.pk % 2 for variant in variants}

    services.stock_reserve(quantities=quantities)

    left = dict(ProductVariant.objects.filter(product=product).values_list("pk", "stock_quantity"))
    assert left == {pk: 3 - quantity for pk, quantity in quantities.items()}


@pytest.mark.django_db
def test_stock_reserve_all_or_nothing_and_release():
    a = ProductFactory(stock_quantity=5)
    b = ProductFactory(stock_quantity=1)
    # Stock is reserved per variant ({variant_id: quantity}).
    va, vb = default_variant(a).pk, default_variant(b).pk

    with pytest.raises(OutOfStock) as raised:
        services.stock_reserve(quantities={va: 2, vb: 3})
    assert [e["product_id"] for e in raised.value.errors] == [b.pk]
    assert [e["variant_id"] for e in raised.value.errors] == [vb]
    a.refresh_from_db()
    assert a.stock_quantity == 5

    services.stock_reserve(quantities={va: 2, vb: 1})
    services.stock_release(quantities={vb: 1})
    assert Product.objects.get(pk=a.pk).stock_quantity == 3
    assert Product.objects.get(pk=b.pk).stock_quantity == 1


@pytest.mark.django_db
def test_product_update_never_writes_back_a_stale_stock_level():
    product = ProductFactory(stock_quantity=10)
    stale = Product.objects.get(pk=product.pk)  # loaded before a checkout
    services.stock_reserve(quantities={default_variant(product).pk: 4})

    services.product_update(product=stale, data={"name": "Renamed", "price": Decimal("2")})

    product.refresh_from_db()
    assert (product.name, product.stock_quantity) == ("Renamed", 6)


@pytest.mark.django_db
def test_stock_adjust_refuses_to_go_negative():
    product = ProductFactory(stock_quantity=2)

    assert services.stock_adjust(product_id=product.pk, delta=3) == 5
    with pytest.raises(OutOfStock):
        services.stock_adjust(product_id=product.pk, delta=-6)
    assert services.stock_adjust(product_id=product.pk, delta=-5) == 0


@pytest.mark.django_db
def test_database_refuses_negative_price_and_stock():
    product = ProductFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        Product.objects.filter(pk=product.pk).update(price=Decimal("-1"))
    # Stock lives on variants: their CHECK constraints are the last line of defence.
    variant = default_variant(product)
    for field, value in (("price", Decimal("-1")), ("stock_quantity", -1)):
        with pytest.raises(IntegrityError), transaction.atomic():
            ProductVariant.objects.filter(pk=variant.pk).update(**{field: value})


@pytest.mark.django_db
def test_product_delete_deactivates_when_a_protecting_reference_exists():
    product = ProductFactory()
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE test_line (id integer PRIMARY KEY, product_id bigint NOT NULL "
            "REFERENCES catalog_product (id) ON DELETE RESTRICT)"
        )
        cursor.execute("INSERT INTO test_line VALUES (1, %s)", [product.pk])

    assert services.product_delete(product=product) is False
    assert Product.objects.get(pk=product.pk).is_active is False
    assert_denormalised_fresh()  # deactivated: out of its category's count
    other = ProductFactory()
    assert services.product_delete(product=other) is True
    assert not Product.objects.filter(pk=other.pk).exists()
    assert_denormalised_fresh()


def _run_threads(target, count: int) -> list:
    results: list = []
    barrier = threading.Barrier(count)

    def worker(n):
        try:
            barrier.wait()
            results.append(target(n))
        except Exception as exc:
            results.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_stock_adjust_and_checkouts_race_without_losing_or_overselling():
    product = ProductFactory(stock_quantity=10)
    variant_id = default_variant(product).pk

    def act(n):
        if n % 2:
            services.stock_reserve(quantities={variant_id: 1})
            return "sold"
        services.stock_adjust(product_id=product.pk, delta=-1)
        return "removed"

    results = _run_threads(act, 16)

    done = [r for r in results if isinstance(r, str)]
    refused = [r for r in results if isinstance(r, OutOfStock)]
    assert len(done) == 10 and len(refused) == 6, results
    assert Product.objects.get(pk=product.pk).stock_quantity == 0


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_product_create_concurrent_alike_names_get_distinct_slugs():
    category = CategoryFactory()

    results = _run_threads(
        lambda n: (
            services.product_create(
                data={
                    "name": "Same Name",
                    "sku": f"S-{n}",
                    "price": Decimal("1"),
                    "category": category,
                }
            ).slug
        ),
        6,
    )

    assert all(isinstance(r, str) for r in results), results
    assert len(set(results)) == 6
