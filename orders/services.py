"""Writes of the orders app: checkout, and one service per lifecycle transition.

Every transition locks the order row, checks the move against the maps in choices.py
(``InvalidTransition`` otherwise), records an ``OrderEvent`` and defers emails until
after commit. The admin and the API call these same functions.
"""

import logging
import uuid
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction

from cart.services import cart_clear
from catalog.models import Product
from catalog.services import stock_release, stock_reserve
from nexus.exceptions import FieldError
from orders import selectors
from orders.choices import (
    PAYMENT_TRANSITIONS,
    STATUS_TRANSITIONS,
    OrderAction,
    OrderEventKind,
    OrderStatus,
    PaymentStatus,
)
from orders.errors import CartEmpty, InvalidTransition
from orders.models import Order, OrderEvent, OrderItem
from users.models import Address

logger = logging.getLogger("nexus.orders")

ADDRESS_FIELDS = (
    "full_name",
    "street",
    "street2",
    "city",
    "state",
    "postal_code",
    "country",
    "phone_number",
)
_CENT = Decimal("0.01")


def shipping_flat_rate() -> Decimal:
    return Decimal(str(getattr(settings, "NEXUS_SHIPPING_FLAT_RATE", "9.99"))).quantize(_CENT)


def free_shipping_threshold() -> Decimal:
    return Decimal(str(getattr(settings, "NEXUS_FREE_SHIPPING_THRESHOLD", "100.00"))).quantize(
        _CENT
    )


def shipping_cost_for(subtotal: Decimal) -> Decimal:
    """A flat rate, free from the threshold up (inclusive)."""
    return Decimal("0.00") if subtotal >= free_shipping_threshold() else shipping_flat_rate()


# --------------------------------------------------------------------------- addresses


def _address_snapshot(data: dict[str, Any]) -> dict[str, str]:
    return {field: str(data.get(field) or "") for field in ADDRESS_FIELDS}


def address_resolve(
    *, user, address: dict[str, Any] | None, address_id: int | None, field: str
) -> dict[str, str] | None:
    """A snapshot of the given address, or of the caller's address-book entry ``address_id``.

    An id that is not one of the caller's addresses is refused with a 400 on ``field``
    (``does_not_exist``), the same answer whether it exists for someone else or not at all.
    """
    if address is not None:
        return _address_snapshot(address)
    if address_id is None:
        return None
    book = Address.objects.filter(user=user, pk=address_id).values(*ADDRESS_FIELDS).first()
    if book is None:
        raise FieldError(field, "does_not_exist", "No such address in your address book.")
    return _address_snapshot(book)


def _default_shipping_address(user) -> dict[str, str]:
    book = (
        Address.objects.filter(user=user, is_default_shipping=True).values(*ADDRESS_FIELDS).first()
    )
    if book is None:
        raise FieldError(
            "shipping_address",
            "required",
            "Give shipping_address or shipping_address_id (no default shipping address is set).",
        )
    return _address_snapshot(book)


# --------------------------------------------------------------------------- checkout


def _send_order_email(*, order_id: int, subject: str, lead: str) -> None:
    order = Order.objects.select_related("user").prefetch_related("items").get(pk=order_id)
    lines = "\n".join(
        f"  {item.quantity} x {item.product_name} ({item.sku}) {item.line_total} {order.currency}"
        for item in order.items.all()
    )
    body = (
        f"Hello {order.user.first_name or order.user.username},\n\n{lead}\n\n"
        f"Order {order.number}\n{lines}\n\n"
        f"Subtotal: {order.subtotal} {order.currency}\n"
        f"Shipping: {order.shipping_cost} {order.currency}\n"
        f"Total: {order.total} {order.currency}\n"
    )
    if order.tracking_number:
        body += f"Tracking number: {order.tracking_number}\n"
    send_mail(subject, body, None, [order.user.email])


def _email_after_commit(order: Order, subject: str, lead: str) -> None:
    # robust: a mail server failure is logged and must not turn a committed order into a 500.
    transaction.on_commit(
        lambda: _send_order_email(order_id=order.pk, subject=subject, lead=lead), robust=True
    )


def _event(order: Order, *, kind: str, actor, from_value="", to_value="", note="") -> OrderEvent:
    return OrderEvent.objects.create(
        order=order,
        kind=kind,
        actor=actor,
        from_value=from_value,
        to_value=to_value,
        note=note,
    )


@transaction.atomic
def order_place(
    *,
    user,
    payment_method: str,
    shipping_address: dict[str, Any] | None = None,
    shipping_address_id: int | None = None,
    billing_address: dict[str, Any] | None = None,
    billing_address_id: int | None = None,
    note: str = "",
) -> Order:
    """Turn the user's cart into a pending, unpaid order, all or nothing.

    The cart row is locked first (so one cart is never ordered twice), then stock is
    taken by ``catalog.services.stock_reserve`` with conditional updates in primary-key
    order (no oversell, no deadlock). Names, SKUs and current prices are copied into the
    lines; shipping is a flat rate unless the subtotal reaches the free-shipping
    threshold; both addresses are stored as snapshots (billing defaults to shipping);
    the cart is emptied through ``cart.services.cart_clear``; the customer is emailed
    after commit.

    Raises CartEmpty (409), OutOfStock (409, every short line), FieldError (400) for an
    address that is not the caller's or missing.
    """
    ship_to = address_resolve(
        user=user,
        address=shipping_address,
        address_id=shipping_address_id,
        field="shipping_address_id",
    ) or _default_shipping_address(user)
    bill_to = (
        address_resolve(
            user=user,
            address=billing_address,
            address_id=billing_address_id,
            field="billing_address_id",
        )
        or ship_to
    )

    cart = selectors.cart_for_checkout(user=user)
    lines = selectors.cart_lines(cart=cart) if cart is not None else []
    if not lines:
        raise CartEmpty()

    stock_reserve(quantities={line.product_id: line.quantity for line in lines})
    # Read prices after the reservation: our conditional updates hold these rows locked,
    # so the price charged is the one in force when the stock was taken.
    products = Product.objects.in_bulk([line.product_id for line in lines])

    items: list[OrderItem] = []
    subtotal = Decimal("0.00")
    for line in lines:
        product = products[line.product_id]
        line_total = (product.price * line.quantity).quantize(_CENT)
        subtotal += line_total
        items.append(
            OrderItem(
                product_id=product.pk,
                product_name=product.name,
                sku=product.sku,
                unit_price=product.price,
                quantity=line.quantity,
                line_total=line_total,
            )
        )
    shipping = shipping_cost_for(subtotal)

    order = Order.objects.create(
        user=user,
        # Placeholder until the id is known; replaced below in this same transaction.
        number=f"tmp-{uuid.uuid4().hex}",
        payment_method=payment_method,
        subtotal=subtotal,
        shipping_cost=shipping,
        total=subtotal + shipping,
        currency=settings.NEXUS_CURRENCY,
        shipping_address=ship_to,
        billing_address=bill_to,
        note=note,
    )
    order.number = f"NX-{order.created_at.year}-{order.pk:06d}"
    Order.objects.filter(pk=order.pk).update(number=order.number)
    for item in items:
        item.order = order
    OrderItem.objects.bulk_create(items)
    _event(order, kind=OrderEventKind.PLACED, actor=user, to_value=OrderStatus.PENDING, note=note)
    cart_clear(cart=cart)
    _email_after_commit(
        order, f"Your Nexus order {order.number}", "Thank you! We have received your order."
    )
    return order


# --------------------------------------------------------------------------- lifecycle


def _lock(order: Order) -> Order:
    return Order.objects.select_for_update().get(pk=order.pk)


def _refuse(what: str, current: str, target: str) -> InvalidTransition:
    return InvalidTransition(f"Cannot change {what} from {current} to {target}.")


def _status_move(
    order: Order, *, to: str, actor, note: str = "", tracking_number: str | None = None
) -> Order:
    """The one place that changes ``status`` (called by the services below, in a transaction)."""
    locked = _lock(order)
    current = locked.status
    if to not in STATUS_TRANSITIONS[current]:
        raise _refuse("the status", current, to)
    locked.status = to
    fields = ["status", "updated_at"]
    if tracking_number is not None and tracking_number != locked.tracking_number:
        _event(
            locked,
            kind=OrderEventKind.TRACKING,
            actor=actor,
            from_value=locked.tracking_number,
            to_value=tracking_number,
        )
        locked.tracking_number = tracking_number
        fields.append("tracking_number")
    locked.save(update_fields=fields)
    _event(
        locked, kind=OrderEventKind.STATUS, actor=actor, from_value=current, to_value=to, note=note
    )
    return locked


@transaction.atomic
def order_process(
    *, order: Order, actor, note: str = "", tracking_number: str | None = None
) -> Order:
    """pending -> processing. Raises InvalidTransition from any other status."""
    return _status_move(
        order, to=OrderStatus.PROCESSING, actor=actor, note=note, tracking_number=tracking_number
    )


@transaction.atomic
def order_ship(*, order: Order, actor, note: str = "", tracking_number: str | None = None) -> Order:
    """processing -> shipped, optionally with a tracking number; emails the customer."""
    shipped = _status_move(
        order, to=OrderStatus.SHIPPED, actor=actor, note=note, tracking_number=tracking_number
    )
    _email_after_commit(
        shipped, f"Your Nexus order {shipped.number} has shipped", "Your order is on its way."
    )
    return shipped


@transaction.atomic
def order_deliver(
    *, order: Order, actor, note: str = "", tracking_number: str | None = None
) -> Order:
    """shipped -> delivered."""
    return _status_move(
        order, to=OrderStatus.DELIVERED, actor=actor, note=note, tracking_number=tracking_number
    )


@transaction.atomic
def order_cancel(
    *, order: Order, actor, note: str = "", tracking_number: str | None = None
) -> Order:
    """pending|processing -> cancelled, putting every line's stock back.

    The order row is locked and cancelled is final, so the stock goes back exactly once
    even when two cancellations race: the second one is refused with InvalidTransition.
    """
    cancelled = _status_move(
        order, to=OrderStatus.CANCELLED, actor=actor, note=note, tracking_number=tracking_number
    )
    quantities: dict[int, int] = {}
    for product_id, quantity in OrderItem.objects.filter(order=cancelled).values_list(
        "product_id", "quantity"
    ):
        quantities[product_id] = quantities.get(product_id, 0) + quantity
    stock_release(quantities=quantities)
    return cancelled


STATUS_SERVICES = {
    OrderStatus.PROCESSING: order_process,
    OrderStatus.SHIPPED: order_ship,
    OrderStatus.DELIVERED: order_deliver,
    OrderStatus.CANCELLED: order_cancel,
}


def order_status_set(
    *, order: Order, status: str, actor, note: str = "", tracking_number: str | None = None
) -> Order:
    """Dispatch a requested status to the service that owns that transition."""
    service = STATUS_SERVICES.get(status)
    if service is None:
        raise _refuse("the status", order.status, status)
    return service(order=order, actor=actor, note=note, tracking_number=tracking_number)


@transaction.atomic
def _payment_move(order: Order, *, to: str, actor, reference: str = "", note: str = "") -> Order:
    locked = _lock(order)
    current = locked.payment_status
    if to not in PAYMENT_TRANSITIONS[current]:
        raise _refuse("the payment status", current, to)
    if to == PaymentStatus.PAID and locked.status == OrderStatus.CANCELLED:
        raise InvalidTransition("A cancelled order cannot be paid.")
    locked.payment_status = to
    fields = ["payment_status", "updated_at"]
    if reference:
        locked.payment_reference = reference
        fields.append("payment_reference")
    locked.save(update_fields=fields)
    _event(
        locked,
        kind=OrderEventKind.PAYMENT,
        actor=actor,
        from_value=current,
        to_value=to,
        note=note or (f"Reference: {reference}" if reference else ""),
    )
    return locked


def order_mark_paid(*, order: Order, actor, reference: str = "", note: str = "") -> Order:
    """unpaid|failed -> paid; refused on a cancelled order."""
    return _payment_move(order, to=PaymentStatus.PAID, actor=actor, reference=reference, note=note)


def order_mark_payment_failed(*, order: Order, actor, reference: str = "", note: str = "") -> Order:
    """unpaid -> failed."""
    return _payment_move(
        order, to=PaymentStatus.FAILED, actor=actor, reference=reference, note=note
    )


def order_refund(*, order: Order, actor, reference: str = "", note: str = "") -> Order:
    """paid -> refunded."""
    return _payment_move(
        order, to=PaymentStatus.REFUNDED, actor=actor, reference=reference, note=note
    )


PAYMENT_SERVICES = {
    PaymentStatus.PAID: order_mark_paid,
    PaymentStatus.FAILED: order_mark_payment_failed,
    PaymentStatus.REFUNDED: order_refund,
}


def order_payment_set(
    *, order: Order, payment_status: str, actor, reference: str = "", note: str = ""
) -> Order:
    """Dispatch a requested payment status to the service that owns that transition."""
    service = PAYMENT_SERVICES.get(payment_status)
    if service is None:
        raise _refuse("the payment status", order.payment_status, payment_status)
    return service(order=order, actor=actor, reference=reference, note=note)


def order_allowed_actions(*, order: Order, user) -> list[str]:
    """What ``user`` may do next with ``order`` (pure: reads the instance, no query)."""
    actions: list[str] = []
    staff = bool(user and user.is_staff)
    if not staff and (user is None or order.user_id != user.pk):
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
