"""Reads of the orders app: order querysets shaped for the API (items prefetched, so a
page of orders costs a fixed number of queries). The cart read at checkout is cart's."""

from django.db.models import Prefetch, QuerySet

from orders.models import Order, OrderEvent, OrderItem


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
