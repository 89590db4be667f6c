"""Reads of the orders app: the caller's cart for checkout, and order querysets shaped for
the API (items prefetched, so a page of orders costs a fixed number of queries)."""

from django.db.models import Prefetch, QuerySet

from cart.models import Cart, CartItem
from orders.models import Order, OrderEvent, OrderItem


def cart_for_checkout(*, user) -> Cart | None:
    """The user's cart, row-locked until the end of the transaction.

    The lock serialises two checkouts of the same cart: the second one waits, then
    finds the cart emptied and fails with ``cart_empty`` instead of ordering it twice.
    """
    return Cart.objects.select_for_update().filter(user=user).first()


def cart_lines(*, cart: Cart) -> list[CartItem]:
    return list(CartItem.objects.filter(cart=cart).select_related("product").order_by("product_id"))


def order_queryset() -> QuerySet[Order]:
    return Order.objects.select_related("user").prefetch_related(
        Prefetch("items", queryset=OrderItem.objects.order_by("id"))
    )


def order_list_for(*, user) -> QuerySet[Order]:
    """Orders the user may see, newest first: their own, or every order for staff."""
    orders = order_queryset().order_by("-created_at", "-id")
    if user.is_staff:
        return orders
    return orders.filter(user=user)


def order_events(*, order: Order) -> QuerySet[OrderEvent]:
    return (
        OrderEvent.objects.filter(order=order).select_related("actor").order_by("created_at", "id")
    )
