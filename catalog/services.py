"""Writes of the catalog app. Stock only ever changes through the conditional updates
below (never read-modify-write), so staff adjustments and checkouts cannot race."""

from decimal import Decimal

from django.db import transaction
from django.db.models import F

from catalog.errors import OutOfStock
from catalog.models import Product


@transaction.atomic
def stock_reserve(*, quantities: dict[int, int]) -> None:
    """Take ``quantities`` ({product_id: qty}) out of stock, all or nothing.

    Rows are updated in primary-key order so concurrent reservations cannot deadlock;
    each update only applies while enough stock remains. Raises OutOfStock listing every
    short line (``errors`` with ``product_id``, ``requested``, ``available``); nothing changes then.
    """
    short: list[dict] = []
    for product_id in sorted(quantities):
        quantity = quantities[product_id]
        updated = Product.objects.filter(
            pk=product_id, is_active=True, stock_quantity__gte=quantity
        ).update(stock_quantity=F("stock_quantity") - quantity)
        if not updated:
            product = (
                Product.objects.filter(pk=product_id)
                .values("name", "stock_quantity", "is_active")
                .first()
            )
            available = product["stock_quantity"] if product and product["is_active"] else 0
            name = product["name"] if product else f"product {product_id}"
            short.append(
                {
                    "field": f"product.{product_id}",
                    "code": "out_of_stock",
                    "message": f"Only {available} of {name} left.",
                    "product_id": product_id,
                    "requested": quantity,
                    "available": available,
                }
            )
    if short:
        detail = " ".join(line["message"] for line in short)
        raise OutOfStock(detail, errors=short)


@transaction.atomic
def stock_release(*, quantities: dict[int, int]) -> None:
    """Put ``quantities`` ({product_id: qty}) back into stock (cancellations)."""
    for product_id in sorted(quantities):
        Product.objects.filter(pk=product_id).update(
            stock_quantity=F("stock_quantity") + quantities[product_id]
        )


def product_rating_set(
    *, product_id: int, average_rating: Decimal, review_count: int, histogram: dict[str, int]
) -> None:
    """Store a product's approved-review aggregates (called by the reviews app inside its
    own transaction, so the aggregates change atomically with the review)."""
    Product.objects.filter(pk=product_id).update(
        average_rating=average_rating, review_count=review_count, rating_histogram=histogram
    )
