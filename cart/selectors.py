"""Reads of the cart app: carts found by owner or guest token, and lines shaped for the
response (product, primary image and line total annotated in one query) with totals
aggregated in the database, so a cart costs the same few queries whatever its size."""

import re
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.db.models import (
    Count,
    DecimalField,
    ExpressionWrapper,
    F,
    OuterRef,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce

from cart.models import Cart, CartItem
from catalog.models import ProductImage

_TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")
MONEY = DecimalField(max_digits=14, decimal_places=2)
ZERO = Value(Decimal("0.00"), output_field=MONEY)


def cart_max_quantity() -> int:
    """The most of one product a cart line may hold."""
    return int(getattr(settings, "NEXUS_CART_MAX_QUANTITY", 1000))


def cart_for_user(*, user) -> Cart | None:
    return Cart.objects.filter(user=user).first()


def cart_token_is_wellformed(token: str | None) -> bool:
    """Tokens are ``secrets.token_urlsafe`` output; anything else cannot name a cart."""
    return bool(token) and _TOKEN_RE.fullmatch(token) is not None


def cart_guest_by_token(*, token: str | None) -> Cart | None:
    """The guest cart with this token. A user's cart is never found by its token."""
    if not cart_token_is_wellformed(token):
        return None
    return Cart.objects.filter(token=token, user__isnull=True).first()


def cart_item_get(*, cart: Cart | None, item_id: int) -> CartItem | None:
    """A line of ``cart`` (None for another cart's line: the caller answers 404)."""
    if cart is None:
        return None
    item = CartItem.objects.filter(pk=item_id, cart=cart).first()
    if item is not None:
        item.cart = cart
    return item


def _line_total() -> ExpressionWrapper:
    return ExpressionWrapper(F("quantity") * F("product__price"), output_field=MONEY)


def cart_items_for_response(*, cart: Cart) -> QuerySet[CartItem]:
    """The lines of ``cart`` with their product, primary image name and line total."""
    primary_image = ProductImage.objects.filter(
        product=OuterRef("product_id"), is_primary=True
    ).values("image")[:1]
    return (
        CartItem.objects.filter(cart=cart)
        .select_related("product")
        .annotate(line_total=_line_total(), product_image=Subquery(primary_image))
        .order_by("id")
    )


def cart_item_for_response(*, cart: Cart, item_id: int) -> CartItem | None:
    return cart_items_for_response(cart=cart).filter(pk=item_id).first()


def cart_totals(*, cart: Cart) -> dict[str, int | Decimal]:
    """``total_items`` (units) and ``subtotal`` at current prices, in one query."""
    totals = CartItem.objects.filter(cart=cart).aggregate(
        total_items=Coalesce(Sum("quantity"), 0),
        subtotal=Coalesce(Sum(_line_total()), ZERO),
    )
    return {"total_items": totals["total_items"], "subtotal": totals["subtotal"]}


def cart_item_warnings(*, items: list[CartItem]) -> list[dict]:
    """Warnings for lines whose product stopped being sold, ran short or changed price
    since it was added, and for lines a merge had to cap (no queries: lines are loaded)."""
    warnings: list[dict] = []

    def warn(code: str, item: CartItem, message: str) -> None:
        warnings.append({"code": code, "item_id": item.pk, "message": message})

    for item in items:
        product = item.product
        if not product.is_active:
            warn("product_inactive", item, f"{product.name} is no longer sold.")
        elif product.stock_quantity == 0:
            warn("out_of_stock", item, f"{product.name} is out of stock.")
        elif item.quantity > product.stock_quantity:
            warn(
                "insufficient_stock",
                item,
                f"Only {product.stock_quantity} of {product.name} left; "
                f"your cart holds {item.quantity}.",
            )
        if product.price != item.unit_price_at_add:
            warn(
                "price_changed",
                item,
                f"The price of {product.name} changed from {item.unit_price_at_add} "
                f"to {product.price}.",
            )
        if item.quantity_requested and item.quantity_requested > item.quantity:
            warn(
                "quantity_capped",
                item,
                f"Only {item.quantity} of {product.name} could be kept in your cart "
                f"(you had {item.quantity_requested}).",
            )
    return warnings


@dataclass
class CartDetail:
    """What GET cart/ answers; ``id`` is None for a guest without a cart yet."""

    id: int | None = None
    cart_token: str | None = None
    items: list[CartItem] = field(default_factory=list)
    total_items: int = 0
    subtotal: Decimal = Decimal("0.00")
    currency: str = "USD"
    warnings: list[dict] = field(default_factory=list)
    updated_at: datetime | None = None


def cart_detail(*, cart: Cart | None, extra_warnings: list[dict] | None = None) -> CartDetail:
    """The full cart representation: three queries (cart row, lines, totals) at most."""
    currency = settings.NEXUS_CURRENCY
    if cart is None:
        return CartDetail(currency=currency, warnings=list(extra_warnings or []))
    items = list(cart_items_for_response(cart=cart))
    totals = cart_totals(cart=cart)
    return CartDetail(
        id=cart.pk,
        cart_token=cart.token if cart.is_guest else None,
        items=items,
        total_items=totals["total_items"],
        subtotal=totals["subtotal"],
        currency=currency,
        warnings=[*cart_item_warnings(items=items), *(extra_warnings or [])],
        updated_at=cart.updated_at,
    )


def carts_with_value() -> QuerySet[Cart]:
    """Carts annotated with ``item_count`` (lines), ``units`` and ``value`` at current prices."""
    return Cart.objects.select_related("user").annotate(
        item_count=Count("items"),
        units=Coalesce(Sum("items__quantity"), 0),
        value=Coalesce(
            Sum(
                ExpressionWrapper(
                    F("items__quantity") * F("items__product__price"), output_field=MONEY
                )
            ),
            ZERO,
        ),
    )


def carts_abandoned(*, before: datetime) -> QuerySet[Cart]:
    """Non-empty carts untouched since ``before``, most valuable first."""
    return (
        carts_with_value()
        .filter(updated_at__lt=before, item_count__gt=0)
        .order_by("-value", "updated_at", "id")
    )
