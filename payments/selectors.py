"""Reads of the payments app: the orders a caller may pay or refund, an order's payments."""

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from orders.models import Order
from orders.selectors import order_list_for
from payments.models import Payment, Refund


def order_visible_to(*, user, order_id: int) -> Order:
    """The order if ``user`` may see it (own, or staff), else 404 (never 403 for others')."""
    return get_object_or_404(order_list_for(user=user), pk=order_id)


def payment_of_order(*, order: Order, payment_id: int) -> Payment:
    return get_object_or_404(Payment.objects.filter(order=order), pk=payment_id)


def refunds_of_order(*, order: Order) -> QuerySet[Refund]:
    return Refund.objects.filter(order=order).order_by("created_at", "id")
