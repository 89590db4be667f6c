"""Writes of the cart app: user and guest carts, adding and changing lines, emptying,
merging a guest cart into a user's, and purging stale guest carts.

Every change to a cart's lines first updates the cart row (bumping ``updated_at``), which
takes its row lock: changes to one cart are serialised, so two concurrent adds of the same
product add up on one line instead of racing (the unique constraint is the last line of
defence). Stock is only checked here, never reserved: orders reserve it at checkout.
"""

import logging
import secrets
from datetime import datetime
from functools import cache

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from cart.errors import (
    CartNotFound,
    LineTotalTooLarge,
    ProductUnavailable,
    out_of_stock,
    product_not_found,
    quantity_too_large,
)
from cart.models import Cart, CartItem
from cart.selectors import (
    MAX_LINE_TOTAL,
    cart_line_max_quantity,
    cart_max_quantity,
    cart_token_is_wellformed,
    variant_label,
    variants_for_add,
)
from catalog import selectors as catalog_selectors
from catalog.errors import VariantRequired
from catalog.models import ProductVariant
from nexus.exceptions import FieldError
from nexus.rawsql import delete_where, insert_new, update_where

logger = logging.getLogger("nexus.cart")


def _new_token() -> str:
    return secrets.token_urlsafe(32)


def _cart_lock(cart: Cart) -> None:
    """Bump ``updated_at`` and hold the cart row's lock until the transaction ends."""
    now = timezone.now()
    if not Cart.objects.filter(pk=cart.pk).update(updated_at=now):
        # Merged into a user's cart or purged by a concurrent request.
        raise CartNotFound()
    cart.updated_at = now


def _check_quantity(quantity: int) -> None:
    if quantity < 1:
        raise FieldError("quantity", "min_value", "Ensure this value is at least 1.")
    maximum = cart_max_quantity()
    if quantity > maximum:
        raise quantity_too_large(maximum)


def _check_line_total(variant: ProductVariant, quantity: int) -> None:
    """Refuse, before anything is written, a line whose total an order could not hold."""
    if variant.price * quantity > MAX_LINE_TOTAL:
        raise LineTotalTooLarge(variant=variant, quantity=quantity, maximum=MAX_LINE_TOTAL)


def cart_get_or_create_for_user(*, user) -> Cart:
    """The user's one cart, created on first use.

    The one-to-one column makes a second cart impossible; when two first requests race,
    the loser's insert fails and it reads the winner's cart.
    """
    cart = Cart.objects.filter(user=user).first()
    if cart is not None:
        return cart
    try:
        with transaction.atomic():
            return Cart.objects.create(user=user, token=_new_token())
    except IntegrityError:
        return Cart.objects.get(user=user)


@transaction.atomic
def cart_guest_create() -> Cart:
    """A new guest cart with an unguessable token (the shopper's only key to it)."""
    return Cart.objects.create(user=None, token=_new_token())


def _variant_resolve(
    *, cart: Cart, product_id: int | None, variant_id: int | None
) -> ProductVariant:
    """The variant a cart add names: ``variant_id``, or the only active variant of
    ``product_id``, read with ``cart``'s line of it (``cart.selectors.variants_for_add``).
    Raises FieldError (unknown ids, a variant of another product) and VariantRequired
    (400) for a product with several active variants."""
    if variant_id is not None:
        variants = variants_for_add(cart=cart, variant_id=variant_id)
        if not variants:
            raise product_not_found("variant")
        variant = variants[0]
        if product_id is not None and variant.product_id != product_id:
            raise FieldError("variant", "invalid", "This variant belongs to another product.")
        return variant
    if product_id is None:
        raise FieldError("variant", "required", "Give variant (or product).")
    variants = variants_for_add(cart=cart, product_id=product_id)
    if len(variants) == 1:
        return variants[0]
    if not variants:
        variant = (
            ProductVariant.objects.select_related("product").filter(product_id=product_id).first()
        )
        if variant is None:
            raise product_not_found()
        raise ProductUnavailable(variant)
    raise VariantRequired(f"{variants[0].product.name} comes in several variants: give `variant`.")


@transaction.atomic
def cart_item_add(
    *, cart: Cart, quantity: int, product_id: int | None = None, variant_id: int | None = None
) -> CartItem:
    """Add ``quantity`` of a variant (or of a product's only active variant); a variant
    already in the cart adds to its line.

    Raises FieldError for an unknown product or variant or a line above the per-line
    maximum, VariantRequired (400) for a product with several active variants,
    ProductUnavailable (409) for an inactive product or variant, OutOfStock (409) when
    the line would exceed the variant's stock, LineTotalTooLarge (400) when quantity x
    price would not fit an order line, CartNotFound when the cart is gone. Adding
    acknowledges the current price (the line's ``price_changed`` warning is cleared).

    The cart row is locked first; then one query reads the variant with its product,
    primary image and this cart's line of it, and one statement writes the line: the
    same few statements whatever the cart holds (the returned line carries what
    ``cart.selectors.cart_item_shape_added`` needs for the response).
    """
    _check_quantity(quantity)
    _cart_lock(cart)
    return _line_add(cart=cart, quantity=quantity, product_id=product_id, variant_id=variant_id)


@cache
def _user_cart_lock_sql() -> str:
    q = connection.ops.quote_name
    table = q(Cart._meta.db_table)
    columns = ", ".join(q(field.column) for field in Cart._meta.concrete_fields)
    # Identifiers from the model's metadata only; the values are query parameters.
    return (
        f"UPDATE {table} SET {q('updated_at')} = %s WHERE {q('user_id')} = %s "  # noqa: S608
        f"RETURNING {columns}"
    )


def _user_cart_lock(user) -> Cart | None:
    """``user``'s cart, locked and bumped (as ``_cart_lock``) by the one statement that
    also finds it: ``UPDATE ... RETURNING`` (PostgreSQL, SQLite 3.35+); None while the
    user has no cart. ``raw`` converts the returned columns as a query's would."""
    now = timezone.now()
    params = [connection.ops.adapt_datetimefield_value(now), user.pk]
    return next(iter(Cart.objects.raw(_user_cart_lock_sql(), params)), None)


@transaction.atomic
def cart_item_add_for_user(
    *, user, quantity: int, product_id: int | None = None, variant_id: int | None = None
) -> CartItem:
    """``cart_item_add`` on ``user``'s cart (created on first use), which one statement
    finds, locks and bumps (one fewer than reading it first); same refusals. The
    returned line's ``cart`` is that cart."""
    _check_quantity(quantity)
    cart = _user_cart_lock(user)
    if cart is None:
        cart = cart_get_or_create_for_user(user=user)
        _cart_lock(cart)
    return _line_add(cart=cart, quantity=quantity, product_id=product_id, variant_id=variant_id)


def _line_add(
    *, cart: Cart, quantity: int, product_id: int | None, variant_id: int | None
) -> CartItem:
    """The body of a cart add, ``cart`` already locked."""
    variant = _variant_resolve(cart=cart, product_id=product_id, variant_id=variant_id)
    if not (variant.is_active and variant.product.is_active):
        raise ProductUnavailable(variant, field="variant" if variant_id else "product")
    total = quantity + (variant.line_quantity or 0)
    _check_quantity(total)
    _check_line_total(variant, total)
    if total > variant.stock_quantity:
        raise out_of_stock(variant=variant, requested=total)
    if variant.line_id is None:
        return insert_new(
            CartItem, cart=cart, variant=variant, quantity=total, unit_price_at_add=variant.price
        )
    # Safe read-modify-write: the cart row lock serialises every change to this cart.
    now = timezone.now()
    CartItem.objects.filter(pk=variant.line_id).update(
        quantity=total, unit_price_at_add=variant.price, quantity_requested=None, updated_at=now
    )
    # The line as written (``created_at``, not read, loads on access).
    values = {
        "id": variant.line_id,
        "cart_id": cart.pk,
        "variant_id": variant.pk,
        "quantity": total,
        "unit_price_at_add": variant.price,
        "quantity_requested": None,
        "updated_at": now,
    }
    item = CartItem.from_db(CartItem.objects.db, list(values), list(values.values()))
    item.cart, item.variant = cart, variant
    return item


@transaction.atomic
def cart_guest_create_with_item(
    *, quantity: int, product_id: int | None = None, variant_id: int | None = None
) -> CartItem:
    """A guest's first add: a new guest cart holding one line, or (on any refusal of
    ``cart_item_add``) no cart at all, so failed requests leave no empty carts behind."""
    return cart_item_add(
        cart=cart_guest_create(), product_id=product_id, variant_id=variant_id, quantity=quantity
    )


@transaction.atomic
def cart_item_set_quantity(*, item: CartItem, quantity: int) -> CartItem | None:
    """Set a line's quantity; ``0`` removes the line (and None is returned).

    Same refusals as ``cart_item_add``; the line also counts as reviewed by the shopper
    (its price and cap warnings are cleared).
    """
    if quantity == 0:
        cart_item_delete(item=item)
        return None
    _check_quantity(quantity)
    _cart_lock(item.cart)
    variant = catalog_selectors.variant_for_cart(variant_id=item.variant_id)
    if variant is None:
        raise CartNotFound("This cart line no longer exists.")
    if not (variant.is_active and variant.product.is_active):
        raise ProductUnavailable(variant)
    _check_line_total(variant, quantity)
    if quantity > variant.stock_quantity:
        raise out_of_stock(variant=variant, requested=quantity)
    item.quantity = quantity
    item.unit_price_at_add = variant.price
    item.quantity_requested = None
    item.variant = variant
    updated = CartItem.objects.filter(pk=item.pk).update(
        quantity=quantity,
        unit_price_at_add=variant.price,
        quantity_requested=None,
        updated_at=timezone.now(),
    )
    if not updated:
        raise CartNotFound("This cart line no longer exists.")
    return item


@transaction.atomic
def cart_item_delete(*, item: CartItem) -> None:
    """Remove one line."""
    _cart_lock(item.cart)
    CartItem.objects.filter(pk=item.pk).delete()


def cart_checkout_lock(*, user=None, token: str | None = None) -> bool:
    """Lock the cart being checked out (``user``'s, else the guest cart of ``token``)
    until the transaction ends, and bump its ``updated_at``: one UPDATE, like every
    other change to a cart. It serialises two checkouts of one cart (the second waits,
    then finds the lines gone: ``cart_empty``) and a checkout with changes to its lines.
    False when there is no such cart. Call inside the checkout's transaction."""
    if user is not None:
        # The signed-in checkout's statement, written once (nexus.rawsql), not built.
        return bool(update_where(Cart, {"updated_at": timezone.now()}, {"user": user.pk}))
    if not cart_token_is_wellformed(token):
        return False
    carts = Cart.objects.filter(token=token, user__isnull=True)
    return bool(carts.update(updated_at=timezone.now()))


def cart_checkout_clear(*, cart_id: int) -> None:
    """Remove every line of the cart a checkout ordered (locked and bumped by
    ``cart_checkout_lock`` in this transaction: one DELETE, no savepoint, no collector:
    nothing points to a line)."""
    delete_where(CartItem, {"cart": cart_id})


@transaction.atomic
def cart_clear(*, cart: Cart) -> None:
    """Remove every line of ``cart`` (checkout and DELETE cart/).

    Raises CartNotFound when the cart was merged or purged by a concurrent request."""
    _cart_lock(cart)
    cart.items.all().delete()


@transaction.atomic
def cart_merge(*, user, token: str) -> list[dict]:
    """Move the lines of the guest cart ``token`` into ``user``'s cart, then delete it.

    Quantities of a variant in both carts add up; every merged line is capped at the stock
    available (and the per-line maximum). A capped line keeps the quantity asked for in
    ``quantity_requested`` so that its ``quantity_capped`` warning shows until the shopper
    next changes it; a line that nothing could be kept of is dropped and reported in the
    returned warnings (``item_id`` null). An unknown token, a user's cart token, or a
    token already merged does nothing: the guest cart row is locked first, so of two
    concurrent merges the second finds it gone.
    """
    if not cart_token_is_wellformed(token):
        return []
    guest = Cart.objects.select_for_update().filter(token=token, user__isnull=True).first()
    if guest is None:
        return []
    cart = cart_get_or_create_for_user(user=user)
    _cart_lock(cart)
    guest_items = list(guest.items.select_related("variant__product").order_by("id"))
    mine = {
        item.variant_id: item
        for item in CartItem.objects.filter(
            cart=cart, variant_id__in=[item.variant_id for item in guest_items]
        )
    }
    now = timezone.now()
    changed: list[CartItem] = []
    warnings: list[dict] = []
    for guest_item in guest_items:
        variant = guest_item.variant
        sellable = variant.is_active and variant.product.is_active
        maximum = cart_line_max_quantity(price=variant.price)
        available = min(variant.stock_quantity if sellable else 0, maximum)
        existing = mine.get(variant.pk)
        wanted = guest_item.quantity + (existing.quantity if existing else 0)
        kept = min(wanted, available)
        if kept == 0:
            # Nothing can be kept: the user's own line (if any) stays as it was and shows
            # its own out-of-stock or inactive warning.
            warnings.append(
                {
                    "code": "quantity_capped",
                    "item_id": existing.pk if existing else None,
                    "message": f"{variant_label(variant)} from your guest cart could not be kept: "
                    "none is available.",
                }
            )
            continue
        line = existing or guest_item
        line.cart = cart
        line.quantity = kept
        line.quantity_requested = wanted if kept < wanted else None
        line.updated_at = now
        changed.append(line)
    if changed:
        CartItem.objects.bulk_update(
            changed, ["cart", "quantity", "quantity_requested", "updated_at"]
        )
    guest.delete()
    logger.info("merged guest cart %s into cart %s (%d lines)", guest.pk, cart.pk, len(changed))
    return warnings


@transaction.atomic
def cart_guests_purge(*, older_than: datetime) -> int:
    """Delete guest carts untouched since ``older_than``; returns how many were deleted."""
    _, per_model = Cart.objects.filter(user__isnull=True, updated_at__lt=older_than).delete()
    return per_model.get(Cart._meta.label, 0)
