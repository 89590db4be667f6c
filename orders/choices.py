"""Choices of the orders app: order and payment states, payment methods, event kinds,
and the actions ``allowed_actions`` may offer."""

from django.db import models


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


class OrderAction(models.TextChoices):
    """What ``allowed_actions`` may list; each maps to one service (see services.py)."""

    CANCEL = "cancel", "Cancel (owner or staff; pending or processing)"
    PROCESS = "process", "Start processing (staff; pending)"
    SHIP = "ship", "Mark shipped (staff; processing)"
    DELIVER = "deliver", "Mark delivered (staff; shipped)"
    MARK_PAID = "mark_paid", "Mark paid (staff; unpaid or failed, not cancelled)"
    MARK_FAILED = "mark_failed", "Mark payment failed (staff; unpaid)"
    REFUND = "refund", "Refund (staff; paid)"


class IdempotencyStatus(models.TextChoices):
    IN_PROGRESS = "in_progress", "In progress"
    COMPLETED = "completed", "Completed"


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
    PaymentStatus.REFUNDED: frozenset(),
}
