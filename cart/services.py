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

from django.db import IntegrityError, transaction
from django.utils import timezone

from cart.errors import (
    CartNotFound,
    ProductUnavailable,
    out_of_stock,
    product_not_found,
    quantity_too_large,
)
from cart.models import Cart, CartItem
from cart.selectors import cart_max_quantity, cart_token_is_wellformed
from catalog.models import Product
from nexus.exceptions import FieldError

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


@transaction.atomic
def cart_item_add(*, cart: Cart, product_id: int, quantity: int) -> CartItem:
    """Add ``quantity`` of a product; a product already in the cart adds to its line.

    Raises FieldError for an unknown product or a line above the per-line maximum,
    ProductUnavailable (409) for an inactive product, OutOfStock (409) when the line would
    exceed the stock available, CartNotFound when the cart is gone. Adding acknowledges
    the current price (the line's ``price_changed`` warning is cleared).
    """
    _check_quantity(quantity)
    _cart_lock(cart)
    product = Product.objects.filter(pk=product_id).first()
    if product is None:
        raise product_not_found()
    if not product.is_active:
        raise ProductUnavailable(product)
    item = CartItem.objects.filter(cart=cart, product=product).first()
    total = quantity + (item.quantity if item else 0)
    _check_quantity(total)
    if total > product.stock_quantity:
        raise out_of_stock(product=product, requested=total)
    if item is None:
        return CartItem.objects.create(
            cart=cart, product=product, quantity=total, unit_price_at_add=product.price
        )
    # Safe read-modify-write: the cart row lock serialises every change to this cart.
    item.quantity = total
    item.unit_price_at_add = product.price
    item.quantity_requested = None
    item.save(update_fields=["quantity", "unit_price_at_add", "quantity_requested", "updated_at"])
    return item


@transaction.atomic
def cart_guest_create_with_item(*, product_id: int, quantity: int) -> CartItem:
    """A guest's first add: a new guest cart holding one line, or (on any refusal of
    ``cart_item_add``) no cart at all, so failed requests leave no empty carts behind."""
    return cart_item_add(cart=cart_guest_create(), product_id=product_id, quantity=quantity)


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
    product = Product.objects.get(pk=item.product_id)
    if not product.is_active:
        raise ProductUnavailable(product)
    if quantity > product.stock_quantity:
        raise out_of_stock(product=product, requested=quantity)
    item.quantity = quantity
    item.unit_price_at_add = product.price
    item.quantity_requested = None
    item.product = product
    updated = CartItem.objects.filter(pk=item.pk).update(
        quantity=quantity,
        unit_price_at_add=product.price,
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


@transaction.atomic
def cart_clear(*, cart: Cart) -> None:
    """Remove every line of ``cart`` (checkout and DELETE cart/)."""
    cart.save(update_fields=["updated_at"])
    cart.items.all().delete()


@transaction.atomic
def cart_merge(*, user, token: str) -> list[dict]:
    """Move the lines of the guest cart ``token`` into ``user``'s cart, then delete it.

    Quantities of a product in both carts add up; every merged line is capped at the stock
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
    guest_items = list(guest.items.select_related("product").order_by("id"))
    mine = {
        item.product_id: item
        for item in CartItem.objects.filter(
            cart=cart, product_id__in=[item.product_id for item in guest_items]
        )
    }
    maximum = cart_max_quantity()
    now = timezone.now()
    changed: list[CartItem] = []
    warnings: list[dict] = []
    for guest_item in guest_items:
        product = guest_item.product
        available = min(product.stock_quantity if product.is_active else 0, maximum)
        existing = mine.get(product.pk)
        wanted = guest_item.quantity + (existing.quantity if existing else 0)
        kept = min(wanted, available)
        if kept == 0:
            # Nothing can be kept: the user's own line (if any) stays as it was and shows
            # its own out-of-stock or inactive warning.
            warnings.append(
                {
                    "code": "quantity_capped",
                    "item_id": existing.pk if existing else None,
                    "message": f"{product.name} from your guest cart could not be kept: "
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
