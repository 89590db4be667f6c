"""Choices of the orders app: order and payment states, payment methods, event kinds,
the lifecycle (the transition maps every service checks against) and, next to them,
``order_allowed_actions``, what a caller may do next with an order."""

from typing import TYPE_CHECKING

from django.db import models

if TYPE_CHECKING:
    from orders.models import Order


class OrderStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    PROCESSING = "processing", "Processing"
    SHIPPED = "shipped", "Shipped"
    DELIVERED = "delivered", "Delivered"
    CANCELLED = "cancelled", "Cancelled"


class PaymentStatus(models.TextChoices):
    UNPAID = "unpaid", "Unpaid"
    PAID = "paid", "Paid"
    FAILED = "failed", "Failed"
    PARTIALLY_REFUNDED = "partially_refunded", "Partially refunded"
    REFUNDED = "refunded", "Refunded"


class PaymentMethod(models.TextChoices):
    CARD = "card", "Card"
    CREDIT_CARD = "credit_card", "Credit card"
    PAYPAL = "paypal", "PayPal"
    BANK_TRANSFER = "bank_transfer", "Bank transfer"
    CASH_ON_DELIVERY = "cash_on_delivery", "Cash on delivery"


class OrderEventKind(models.TextChoices):
    PLACED = "placed", "Placed"
    STATUS = "status", "Status changed"
    PAYMENT = "payment", "Payment status changed"
    TRACKING = "tracking", "Tracking number set"
    # Something staff should read: a payment that did not match, money refunded automatically.
    NOTE = "note", "Note for staff"


class VoucherKind(models.TextChoices):
    PERCENTAGE = "percentage", "Percentage off the eligible lines"
    FIXED = "fixed", "Fixed amount off the eligible lines"
    FREE_SHIPPING = "free_shipping", "Free shipping"


class OrderAction(models.TextChoices):
    """What ``allowed_actions`` may list; each maps to one service (see services.py)."""

    CANCEL = "cancel", "Cancel (owner or staff; pending or processing)"
    PROCESS = "process", "Start processing (staff; pending)"
    SHIP = "ship", "Mark shipped (staff; processing)"
    DELIVER = "deliver", "Mark delivered (staff; shipped)"
    MARK_PAID = "mark_paid", "Mark paid (staff; unpaid or failed, not cancelled)"
    MARK_FAILED = "mark_failed", "Mark payment failed (staff; unpaid)"
    REFUND = "refund", "Refund (staff; paid or partially refunded)"


# The lifecycle, in one place: every transition service checks against these maps.
STATUS_TRANSITIONS: dict[str, frozenset[str]] = {
    OrderStatus.PENDING: frozenset({OrderStatus.PROCESSING, OrderStatus.CANCELLED}),
    OrderStatus.PROCESSING: frozenset({OrderStatus.SHIPPED, OrderStatus.CANCELLED}),
    OrderStatus.SHIPPED: frozenset({OrderStatus.DELIVERED}),
    OrderStatus.DELIVERED: frozenset(),
    OrderStatus.CANCELLED: frozenset(),
}
PAYMENT_TRANSITIONS: dict[str, frozenset[str]] = {
    PaymentStatus.UNPAID: frozenset({PaymentStatus.PAID, PaymentStatus.FAILED}),
    PaymentStatus.FAILED: frozenset({PaymentStatus.PAID}),
    PaymentStatus.PAID: frozenset({PaymentStatus.REFUNDED}),
    # Reached only through a partial refund (orders.services.order_refund_record).
    PaymentStatus.PARTIALLY_REFUNDED: frozenset({PaymentStatus.REFUNDED}),
    PaymentStatus.REFUNDED: frozenset(),
}
# Payment methods and who takes the money: online providers, or staff recording it by hand.
ONLINE_PAYMENT_METHODS: frozenset[str] = frozenset({PaymentMethod.CARD})


def order_allowed_actions(*, order: "Order", user, guest: bool = False) -> list[str]:
    """What ``user`` may do next with ``order`` (pure: reads the instance, no query).
    ``guest``: the caller holds the order's guest token (the owner's rights)."""
    actions: list[str] = []
    staff = bool(user and user.is_staff and user.is_authenticated)
    owner = guest or (user is not None and order.user_id is not None and order.user_id == user.pk)
    if not staff and not owner:
        return actions
    if OrderStatus.CANCELLED in STATUS_TRANSITIONS[order.status]:
        actions.append(OrderAction.CANCEL)
    if not staff:
        return actions
    for target, action in (
        (OrderStatus.PROCESSING, OrderAction.PROCESS),
        (OrderStatus.SHIPPED, OrderAction.SHIP),
        (OrderStatus.DELIVERED, OrderAction.DELIVER),
    ):
        if target in STATUS_TRANSITIONS[order.status]:
            actions.append(action)
    payment_next = PAYMENT_TRANSITIONS[order.payment_status]
    if PaymentStatus.PAID in payment_next and order.status != OrderStatus.CANCELLED:
        actions.append(OrderAction.MARK_PAID)
    if PaymentStatus.FAILED in payment_next:
        actions.append(OrderAction.MARK_FAILED)
    if PaymentStatus.REFUNDED in payment_next:
        actions.append(OrderAction.REFUND)
    return [str(action) for action in actions]
