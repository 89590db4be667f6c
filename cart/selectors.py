"""Reads of the cart app: carts found by owner or guest token, and lines shaped for the
response (variant, product, primary image and line total in one query, the variants'
option values in one more) with totals aggregated in the database, so a cart costs the
same few queries whatever its size."""

import re
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from functools import cache

from django.conf import settings
from django.db import connection
from django.db.models import (
    Count,
    DecimalField,
    ExpressionWrapper,
    F,
    OuterRef,
    Prefetch,
    QuerySet,
    Subquery,
    Sum,
    Value,
    prefetch_related_objects,
)
from django.db.models.functions import Coalesce
from django.db.transaction import TransactionManagementError

from cart.models import Cart, CartItem
from catalog.models import Product, ProductImage, ProductOptionValue, ProductVariant
from nexus.rawsql import model_columns, rows_converted
from nexus.rawsql import qualified_column as col

_TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")
# The largest line total a cart accepts: what an order line (max_digits=12) can store.
MAX_LINE_TOTAL = Decimal("9999999999.99")
# Line totals and subtotals are computed at *current* prices, which staff may raise after
# a line was accepted, and summed over any number of lines: wide enough for all of it
# (14 digits was not: 9999999999.99 x 101 made every later GET cart/ a 500).
MONEY = DecimalField(max_digits=30, decimal_places=2)
ZERO = Value(Decimal("0.00"), output_field=MONEY)


def cart_max_quantity() -> int:
    """The most of one variant a cart line may hold."""
    return int(settings.NEXUS_CART_MAX_QUANTITY)


def cart_line_max_quantity(*, price: Decimal) -> int:
    """The most units of a variant at ``price`` one line may hold (per-line maximum and
    the largest representable line total)."""
    maximum = cart_max_quantity()
    if price > 0:
        maximum = min(maximum, int(MAX_LINE_TOTAL // price))
    return maximum


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
    return ExpressionWrapper(F("quantity") * F("variant__price"), output_field=MONEY)


def _option_values() -> QuerySet[ProductOptionValue]:
    """Option values with their option, in option order (as a line lists them)."""
    return ProductOptionValue.objects.select_related("option").order_by(
        "option__position", "option__id"
    )


def cart_items_for_response(*, cart: Cart) -> QuerySet[CartItem]:
    """The lines of ``cart`` with their variant and product, the variant's option values
    (with their option, in option order), primary image name and line total."""
    primary_image = ProductImage.objects.filter(
        product=OuterRef("variant__product_id"), is_primary=True
    ).values("image")[:1]
    return (
        CartItem.objects.filter(cart=cart)
        .select_related("variant__product")
        .prefetch_related(Prefetch("variant__option_values", queryset=_option_values()))
        .annotate(line_total=_line_total(), product_image=Subquery(primary_image))
        .order_by("id")
    )


def cart_item_for_response(*, cart: Cart, item_id: int) -> CartItem | None:
    return cart_items_for_response(cart=cart).filter(pk=item_id).first()


def _variants_for_add_orm(
    *, cart: Cart, product_id: int | None = None, variant_id: int | None = None
) -> list[ProductVariant]:
    """``variants_for_add`` through the ORM: the reference its hand-written query is held
    equal to (``cart/tests/test_add_queries.py``)."""
    # Unordered subqueries: one row each at most (one primary image, one line per
    # variant), and each ORDER BY would cost a sort and its compiling per add.
    primary_image = (
        ProductImage.objects.filter(product=OuterRef("product_id"), is_primary=True)
        .order_by()
        .values("image")[:1]
    )
    line = CartItem.objects.filter(cart=cart, variant=OuterRef("pk")).order_by()
    queryset = ProductVariant.objects.select_related("product").annotate(
        product_image=Subquery(primary_image),
        line_id=Subquery(line.values("pk")[:1]),
        line_quantity=Subquery(line.values("quantity")[:1]),
    )
    if variant_id is not None:
        return list(queryset.filter(pk=variant_id)[:1])
    return list(
        queryset.filter(product_id=product_id, is_active=True).order_by("position", "id")[:2]
    )


_VARIANT_FIELDS = tuple(ProductVariant._meta.concrete_fields)
_PRODUCT_FIELDS = tuple(Product._meta.concrete_fields)
_VARIANT_COLUMNS = model_columns(ProductVariant) + model_columns(Product)


@cache
def _variants_for_add_sql(by_variant: bool) -> str:
    """The statement of ``variants_for_add``, written once per process from the models'
    metadata (identifiers only; every value is a parameter): the columns the ORM's
    ``select_related("product")`` reads, and the same three unordered subqueries."""
    q = connection.ops.quote_name
    variant, product = q(ProductVariant._meta.db_table), q(Product._meta.db_table)
    image, item = q(ProductImage._meta.db_table), q(CartItem._meta.db_table)

    columns = ", ".join(
        [f"{variant}.{q(field.column)}" for field in _VARIANT_FIELDS]
        + [f"{product}.{q(field.column)}" for field in _PRODUCT_FIELDS]
    )
    variant_id, variant_product = (
        col(variant, ProductVariant, "id"),
        col(variant, ProductVariant, "product"),
    )
    line = (
        f"FROM {item} WHERE {col(item, CartItem, 'cart')} = %s "
        f"AND {col(item, CartItem, 'variant')} = {variant_id} LIMIT 1"
    )
    if by_variant:
        where = f"{variant_id} = %s LIMIT 1"
    else:
        where = (
            f"{variant_product} = %s AND {col(variant, ProductVariant, 'is_active')} "
            f"ORDER BY {col(variant, ProductVariant, 'position')} ASC, {variant_id} ASC LIMIT 2"
        )
    return (
        f"SELECT {columns}, "  # noqa: S608 (identifiers from the models' metadata)
        f"(SELECT {col(image, ProductImage, 'image')} FROM {image} "
        f"WHERE {col(image, ProductImage, 'product')} = {variant_product} "
        f"AND {col(image, ProductImage, 'is_primary')} LIMIT 1), "
        f"(SELECT {col(item, CartItem, 'id')} {line}), "
        f"(SELECT {col(item, CartItem, 'quantity')} {line}) "
        f"FROM {variant} INNER JOIN {product} "
        f"ON {variant_product} = {col(product, Product, 'id')} WHERE {where}"
    )


def variants_for_add(
    *, cart: Cart, product_id: int | None = None, variant_id: int | None = None
) -> list[ProductVariant]:
    """For a cart add, in one query: the variant ``variant_id`` (else the active variants
    of ``product_id``, at most two: enough to tell "exactly one" from "several"), with its
    product, its product's primary image name (``product_image``) and ``cart``'s line of
    it, if any (``line_id``, ``line_quantity``; None without one). Read it with the cart
    row locked: the line cannot change until the add commits.

    One hand-written statement (``_variants_for_add_sql``), the ORM query's
    (``_variants_for_add_orm``) columns and answers: building that query's three
    subqueries and its join cost about a third of every cart add (issue 18)."""
    by_variant = variant_id is not None
    params = [cart.pk, cart.pk, variant_id if by_variant else product_id]
    with connection.cursor() as cursor:
        cursor.execute(_variants_for_add_sql(by_variant), params)
        rows = rows_converted(cursor.fetchall(), _VARIANT_COLUMNS)
    alias, width = connection.alias, len(_VARIANT_FIELDS)
    variant_names = [field.attname for field in _VARIANT_FIELDS]
    product_names = [field.attname for field in _PRODUCT_FIELDS]
    product_field = ProductVariant._meta.get_field("product")
    variants = []
    for row in rows:
        variant = ProductVariant.from_db(alias, variant_names, row[:width])
        product = Product.from_db(alias, product_names, row[width : width + len(_PRODUCT_FIELDS)])
        product_field.set_cached_value(variant, product)
        variant.product_image, variant.line_id, variant.line_quantity = row[-3:]
        variants.append(variant)
    return variants


def cart_item_shape_added(*, item: CartItem) -> CartItem:
    """Shape a line that ``cart.services.cart_item_add`` just wrote (its variant read by
    ``variants_for_add``) like ``cart_item_for_response`` does, without reading it back:
    the line total is computed here, the image came with the variant, and the option
    values are read only when the variant has any (its ``combination_key`` lists them)."""
    variant = item.variant
    item.line_total = item.quantity * variant.price
    item.product_image = getattr(variant, "product_image", None)
    if variant.combination_key:
        prefetch_related_objects([variant], Prefetch("option_values", queryset=_option_values()))
    else:
        cache = variant.__dict__.setdefault("_prefetched_objects_cache", {})
        cache["option_values"] = ProductOptionValue.objects.none()
    return item


def cart_totals(*, cart: Cart) -> dict[str, int | Decimal]:
    """``total_items`` (units) and ``subtotal`` at current prices, in one query."""
    totals = CartItem.objects.filter(cart=cart).aggregate(
        total_items=Coalesce(Sum("quantity"), 0),
        subtotal=Coalesce(Sum(_line_total()), ZERO),
    )
    return {"total_items": totals["total_items"], "subtotal": totals["subtotal"]}


def cart_item_warnings(*, items: list[CartItem]) -> list[dict]:
    """Warnings per line (per variant) whose variant or product stopped being sold, ran
    short or changed price since it was added, and for lines a merge had to cap (no
    queries: lines are loaded)."""
    warnings: list[dict] = []

    def warn(code: str, item: CartItem, message: str) -> None:
        warnings.append({"code": code, "item_id": item.pk, "message": message})

    for item in items:
        variant = item.variant
        name = variant_label(variant)
        if not (variant.is_active and variant.product.is_active):
            warn("product_inactive", item, f"{name} is no longer sold.")
        elif variant.stock_quantity == 0:
            warn("out_of_stock", item, f"{name} is out of stock.")
        elif item.quantity > variant.stock_quantity:
            warn(
                "insufficient_stock",
                item,
                f"Only {variant.stock_quantity} of {name} left; your cart holds {item.quantity}.",
            )
        if variant.price != item.unit_price_at_add:
            warn(
                "price_changed",
                item,
                f"The price of {name} changed from {item.unit_price_at_add} to {variant.price}.",
            )
        if item.quantity_requested and item.quantity_requested > item.quantity:
            warn(
                "quantity_capped",
                item,
                f"Only {item.quantity} of {name} could be kept in your cart "
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
                    F("items__quantity") * F("items__variant__price"), output_field=MONEY
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


def cart_of_user(*, user) -> Cart | None:
    """The user's cart, not locked (the checkout preview reads it)."""
    return Cart.objects.filter(user=user).first()


def _cart_lines_for_checkout_orm(
    *,
    cart: Cart | None = None,
    user=None,
    token: str | None = None,
    lock_variants: bool = False,
) -> list[CartItem]:
    """``cart_lines_for_checkout`` through the ORM: the reference its hand-written
    statement is held equal to (``cart/tests/test_checkout_lines_sql.py``)."""
    if cart is not None:
        queryset = CartItem.objects.filter(cart=cart)
    elif user is not None:
        queryset = CartItem.objects.filter(cart__user=user)
    elif cart_token_is_wellformed(token):
        queryset = CartItem.objects.filter(cart__token=token, cart__user__isnull=True)
    else:
        return []
    if lock_variants:
        queryset = queryset.select_for_update(of=("variant",))
    return list(queryset.select_related("variant__product").order_by("variant_id"))


_ITEM_FIELDS = tuple(CartItem._meta.concrete_fields)
_LINE_COLUMNS = model_columns(CartItem) + _VARIANT_COLUMNS


@cache
def _cart_lines_sql(by: str, lock: bool) -> str:
    """The statement of ``cart_lines_for_checkout`` (``by``: cart, user or token),
    written once per process from the models' metadata (identifiers only; values are
    parameters): the ORM's joins, columns, order and ``FOR UPDATE OF`` the variants."""
    q = connection.ops.quote_name
    item, cart = q(CartItem._meta.db_table), q(Cart._meta.db_table)
    variant, product = q(ProductVariant._meta.db_table), q(Product._meta.db_table)

    columns = ", ".join(
        [f"{item}.{q(field.column)}" for field in _ITEM_FIELDS]
        + [f"{variant}.{q(field.column)}" for field in _VARIANT_FIELDS]
        + [f"{product}.{q(field.column)}" for field in _PRODUCT_FIELDS]
    )
    joins = ""
    if by != "cart":
        joins = f"INNER JOIN {cart} ON {col(item, CartItem, 'cart')} = {col(cart, Cart, 'id')} "
    where = {
        "cart": f"{col(item, CartItem, 'cart')} = %s",
        "user": f"{col(cart, Cart, 'user')} = %s",
        "token": f"{col(cart, Cart, 'token')} = %s AND {col(cart, Cart, 'user')} IS NULL",
    }[by]
    sql = (
        f"SELECT {columns} FROM {item} {joins}"  # noqa: S608 (identifiers from the metadata)
        f"INNER JOIN {variant} ON {col(item, CartItem, 'variant')} = "
        f"{col(variant, ProductVariant, 'id')} "
        f"INNER JOIN {product} ON {col(variant, ProductVariant, 'product')} = "
        f"{col(product, Product, 'id')} "
        f"WHERE {where} ORDER BY {col(item, CartItem, 'variant')} ASC"
    )
    if lock and connection.features.has_select_for_update:  # SQLite: no row locks
        of = connection.features.has_select_for_update_of
        sql += f" FOR UPDATE OF {variant}" if of else " FOR UPDATE"
    return sql


def cart_lines_for_checkout(
    *,
    cart: Cart | None = None,
    user=None,
    token: str | None = None,
    lock_variants: bool = False,
) -> list[CartItem]:
    """The lines of ``cart`` (else of ``user``'s cart, else of the guest cart of
    ``token``) with their variants and products, in variant-id order (the stock lock
    order).

    ``lock_variants``: the same one query also locks the lines' variant rows until the
    transaction ends (``SELECT ... ORDER BY variant_id FOR UPDATE OF`` the variants: in
    primary-key order, like ``catalog.services.variant_lock``; products are read, not
    locked), for ``catalog.services.stock_reserve(locked=...)``. Call it with the cart
    row already locked (``cart.services.cart_checkout_lock``).

    One hand-written statement (``_cart_lines_sql``), the ORM version's
    (``_cart_lines_for_checkout_orm``) SQL and answers: building its three-table
    ``select_related`` cost about a tenth of every checkout (issue 18).
    """
    if cart is not None:
        by, value = "cart", cart.pk
    elif user is not None:
        by, value = "user", user.pk
    elif cart_token_is_wellformed(token):
        by, value = "token", token
    else:
        return []
    if lock_variants and not connection.in_atomic_block:
        # As the ORM's select_for_update: a lock outside a transaction would hold nothing.
        raise TransactionManagementError(
            "select_for_update cannot be used outside of a transaction."
        )
    with connection.cursor() as cursor:
        cursor.execute(_cart_lines_sql(by, lock_variants), [value])
        rows = rows_converted(cursor.fetchall(), _LINE_COLUMNS)
    alias = connection.alias
    items_end = len(_ITEM_FIELDS)
    variants_end = items_end + len(_VARIANT_FIELDS)
    item_names = [field.attname for field in _ITEM_FIELDS]
    variant_names = [field.attname for field in _VARIANT_FIELDS]
    product_names = [field.attname for field in _PRODUCT_FIELDS]
    variant_field = CartItem._meta.get_field("variant")
    product_field = ProductVariant._meta.get_field("product")
    lines = []
    for row in rows:
        line = CartItem.from_db(alias, item_names, row[:items_end])
        variant = ProductVariant.from_db(alias, variant_names, row[items_end:variants_end])
        product_field.set_cached_value(
            variant, Product.from_db(alias, product_names, row[variants_end:])
        )
        variant_field.set_cached_value(line, variant)
        lines.append(line)
    return lines


def variant_label(variant) -> str:
    """The variant as shoppers read it: "T-Shirt (Red / M)", or the product's name."""
    name = variant.product.name
    return f"{name} ({variant.name})" if variant.name else name
