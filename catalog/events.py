"""Catalog events for integrations (``product.*``, ``stock.low``), emitted inside the
service's transaction.

``stock.low`` fires once per crossing: when a change takes a product's stock from above
``NEXUS_STOCK_LOW_THRESHOLD`` to at or below it. Staying low (more sales while at or below
the threshold) emits nothing; going back above it (a restock, a cancellation) re-arms it.
A product created with little stock has not crossed anything and emits nothing.
"""

from typing import Any

from django.conf import settings
from django.db.models import Q, Sum
from django.db.models.functions import Coalesce

from catalog.models import Product
from nexus.events import event_emit


def product_data(product: Product) -> dict[str, Any]:
    """The product as the API shows it (``ProductSerializer``; image URLs are relative)."""
    from catalog.serializers import ProductSerializer

    product = (
        Product.objects.select_related("category").prefetch_related("images").get(pk=product.pk)
    )
    return ProductSerializer(product).data


def product_event_emit(
    *, type: str, product: Product | None = None, data: dict[str, Any] | None = None
) -> None:
    """Emit ``product.created``/``product.updated`` (from ``product``, serialized only if
    someone subscribes) or ``product.deleted`` (from ``data``, read before the delete)."""
    if data is not None:
        event_emit(type=type, data={"product": data}, key=f"product:{data['id']}")
    else:
        event_emit(
            type=type,
            data=lambda: {"product": product_data(product)},
            key=f"product:{product.pk}",
        )


def stock_low_check(*, taken: dict[int, int]) -> None:
    """After ``taken`` ({product_id: units removed}) left stock in this transaction, emit
    ``stock.low`` for each product whose level crossed the threshold.

    Called right after the conditional updates, whose row locks are held until commit,
    so the level read here is exact and the level before is ``level + units``.
    """
    threshold = settings.NEXUS_STOCK_LOW_THRESHOLD
    removed = {pk: units for pk, units in taken.items() if units > 0}
    if not removed:
        return
    # A product's stock is the sum over its active variants (issue 14).
    rows = (
        Product.objects.filter(pk__in=removed)
        .annotate(
            stock_quantity=Coalesce(
                Sum("variants__stock_quantity", filter=Q(variants__is_active=True)), 0
            )
        )
        .filter(stock_quantity__lte=threshold)
        .values("id", "sku", "name", "slug", "stock_quantity")
    )
    for row in sorted(rows, key=lambda row: row["id"]):
        if row["stock_quantity"] + removed[row["id"]] > threshold:
            event_emit(
                type="stock.low",
                data={"product": row, "threshold": threshold},
                key=f"product:{row['id']}",
            )
