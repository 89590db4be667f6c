"""Writes of the orders app: checkout, and one service per lifecycle transition.

Every transition locks the order row, checks the move against the maps in choices.py
(``InvalidTransition`` otherwise), records an ``OrderEvent`` and defers emails until
after commit. The admin and the API call these same functions.
"""

import logging
import secrets
import uuid
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from cart import selectors as cart_selectors
from cart.services import cart_checkout_clear, cart_checkout_lock
from catalog.selectors import checkout_prices
from catalog.services import stock_release, stock_reserve
from nexus import metrics
from nexus.exceptions import FieldError
from nexus.mail import email_send_on_commit
from nexus.rawsql import insert_all, insert_new, update_where
from orders.choices import (
    PAYMENT_TRANSITIONS,
    STATUS_TRANSITIONS,
    OrderEventKind,
    OrderStatus,
    PaymentStatus,
)
from orders.errors import (
    CartEmpty,
    InvalidTransition,
    OrderTotalTooLarge,
    VoucherAlreadyUsed,
    VoucherUsedUp,
)
from orders.events import order_event_emit
from orders.models import Order, OrderEvent, OrderItem, Voucher, VoucherRedemption
from orders.pricing import Customer, PricingLine, Quote, checkout_quote
from orders.selectors import customer_email, customer_name, guest_token_hash, voucher_used_by
from users.models import email_key
from users.selectors import (
    address_book_snapshot,
    address_default_shipping_snapshot,
    address_snapshot,
)

logger = logging.getLogger("nexus.orders")

# --------------------------------------------------------------------------- addresses


def address_resolve(
    *, user, address: dict[str, Any] | None, address_id: int | None, field: str
) -> dict[str, str] | None:
    """A snapshot of the given address, or of the caller's address-book entry ``address_id``.

    An id that is not one of the caller's addresses is refused with a 400 on ``field``
    (``does_not_exist``), the same answer whether it exists for someone else or not at all.
    """
    if address is not None:
        return address_snapshot(address)
    if address_id is None:
        return None
    snapshot = address_book_snapshot(user=user, address_id=address_id)
    if snapshot is None:
        raise FieldError(field, "does_not_exist", "No such address in your address book.")
    return snapshot


def _default_shipping_address(user) -> dict[str, str]:
    snapshot = address_default_shipping_snapshot(user=user)
    if snapshot is None:
        raise FieldError(
            "shipping_address",
            "required",
            "Give shipping_address or shipping_address_id (no default shipping address is set).",
        )
    return snapshot


# --------------------------------------------------------------------------- checkout


def _email_after_commit(
    order: Order,
    subject: str,
    lead: str,
    *,
    guest_token: str = "",
    items: list[OrderItem] | None = None,
) -> None:
    """Email the customer about ``order`` once the transaction commits (never failing it).

    The body lists the whole breakdown (``items``: the order's lines in id order, when
    the caller has them; read otherwise). A guest's email is the same text whether or
    not an account exists for that address (nothing is looked up), plus the order's
    link."""
    if items is None:
        items = list(OrderItem.objects.filter(order=order).order_by("id"))
    lines = "\n".join(
        f"  {item.quantity} x {item.product_name}"
        f"{f' - {item.variant_name}' if item.variant_name else ''}"
        f" ({item.sku}) {item.line_total} {order.currency}"
        + (f" (discount -{item.discount_amount})" if item.discount_amount else "")
        for item in items
    )
    name = customer_name(order)
    cur = order.currency
    body = f"Hello{f' {name}' if name else ''},\n\n{lead}\n\nOrder {order.number}\n{lines}\n\n"
    body += f"Subtotal: {order.subtotal} {cur}\n"
    if order.discount_total:
        body += f"Discount ({order.voucher_code}): -{order.discount_total} {cur}\n"
    shipping_name = f" ({order.shipping_method_name})" if order.shipping_method_name else ""
    body += f"Shipping{shipping_name}: {order.shipping_cost} {cur}\n"
    if order.tax_total or not order.prices_include_tax:
        label = "Tax included" if order.prices_include_tax else "Tax"
        body += f"{label}: {order.tax_total} {cur}\n"
    body += f"Total: {order.total} {cur}\n"
    if order.tracking_number:
        body += f"Tracking number: {order.tracking_number}\n"
    if guest_token:
        body += (
            f"\nView or cancel your order: {settings.NEXUS_GUEST_ORDER_URL.rstrip('/')}/"
            f"{guest_token}\nKeep this link private: it is the key to your order.\n"
        )
    to = customer_email(order)
    if to:
        email_send_on_commit(subject=subject, body=body, to=[to])


def _event(order: Order, *, kind: str, actor, from_value="", to_value="", note="") -> OrderEvent:
    return insert_new(
        OrderEvent,
        order=order,
        kind=kind,
        actor=actor,
        from_value=from_value,
        to_value=to_value,
        note=note,
    )


def _addresses(
    *,
    user,
    shipping_address: dict[str, Any] | None,
    shipping_address_id: int | None,
    billing_address: dict[str, Any] | None,
    billing_address_id: int | None,
) -> tuple[dict[str, str], dict[str, str]]:
    """Shipping and billing snapshots. A guest has no address book: ids are refused and
    ``shipping_address`` is required."""
    if user is None:
        for field, value in (
            ("shipping_address_id", shipping_address_id),
            ("billing_address_id", billing_address_id),
        ):
            if value is not None:
                raise FieldError(field, "does_not_exist", "A guest has no address book.")
        if shipping_address is None:
            raise FieldError("shipping_address", "required", "Give shipping_address.")
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
    return ship_to, bill_to


def _customer(user, email: str) -> Customer:
    if user is not None:
        return Customer(user=user, email=user.email)
    return Customer(email=email)


def _pricing_lines(lines, variants: dict) -> list[PricingLine]:
    """The pricing module's view of cart lines, at the prices of ``variants``
    ({variant_id: variant with its product})."""
    result = []
    for line in lines:
        variant = variants[line.variant_id]
        result.append(
            PricingLine(
                variant_id=variant.pk,
                product_id=variant.product_id,
                category_id=variant.product.category_id,
                unit_price=variant.price,
                quantity=line.quantity,
            )
        )
    return result


def _checkout_cart(*, user, cart_token: str | None):
    """The cart a preview prices (not locked; ``order_place`` locks its own)."""
    if user is not None:
        return cart_selectors.cart_of_user(user=user)
    return cart_selectors.cart_guest_by_token(token=cart_token)


def _check_capacity(quote: Quote) -> None:
    if quote.total > cart_selectors.MAX_LINE_TOTAL or any(
        priced.tax_amount > cart_selectors.MAX_LINE_TOTAL for priced in quote.lines
    ):
        # Prices rose after the lines were accepted; the caller's transaction rolls back.
        raise OrderTotalTooLarge()


def order_preview(
    *,
    user=None,
    cart_token: str | None = None,
    email: str = "",
    shipping_address: dict[str, Any] | None = None,
    shipping_address_id: int | None = None,
    billing_address: dict[str, Any] | None = None,
    billing_address_id: int | None = None,
    shipping_method: str | None = None,
    voucher_code: str | None = None,
    **_ignored: Any,
) -> Quote:
    """What ``order_place`` with the same arguments would charge now; writes nothing.

    Prices are the variants' current prices (``order_place`` reads the same rows, locked).
    Lines that could not be ordered now (inactive, short of stock) are reported in
    ``warnings`` (cart's warning codes) and still priced. Same refusals as ``order_place``
    but stock: CartEmpty, FieldError, ShippingUnavailable, the voucher errors.
    """
    ship_to, _ = _addresses(
        user=user,
        shipping_address=shipping_address,
        shipping_address_id=shipping_address_id,
        billing_address=billing_address,
        billing_address_id=billing_address_id,
    )
    cart = _checkout_cart(user=user, cart_token=cart_token)
    lines = cart_selectors.cart_lines_for_checkout(cart=cart) if cart is not None else []
    if not lines:
        raise CartEmpty()
    quote = checkout_quote(
        lines=_pricing_lines(lines, {line.variant_id: line.variant for line in lines}),
        ship_to=ship_to,
        shipping_method=shipping_method,
        voucher_code=voucher_code,
        customer=_customer(user, email),
    )
    _check_capacity(quote)
    quote.warnings = cart_selectors.cart_item_warnings(items=lines)
    return quote


@transaction.atomic
def order_place(
    *,
    payment_method: str,
    user=None,
    cart_token: str | None = None,
    email: str = "",
    shipping_address: dict[str, Any] | None = None,
    shipping_address_id: int | None = None,
    billing_address: dict[str, Any] | None = None,
    billing_address_id: int | None = None,
    shipping_method: str | None = None,
    voucher_code: str | None = None,
    note: str = "",
) -> Order:
    """Turn the caller's cart into a pending, unpaid order, all or nothing.

    ``user`` checks out their own cart; without one, a guest checks out the guest cart
    of ``cart_token`` and must give ``email`` (the order is not linked to any account,
    whatever accounts exist for that email) and gets a secret ``guest_token`` (set on
    the returned instance only; its SHA-256 is stored).

    The cart row is locked first (so one cart is never ordered twice), then its lines
    are read with their variants locked in primary-key order (no oversell, no
    deadlock) and the stock is taken by ``catalog.services.stock_reserve``. The locked
    variants' prices go through ``orders.pricing.checkout_quote`` (shipping, voucher,
    tax: the same function as the preview), and every amount is stored on the order and
    its lines. A voucher's use is taken by a conditional UPDATE in this transaction
    (``voucher_use_take``), so ``usage_limit`` holds under concurrent checkouts. Names
    and SKUs are copied; both addresses are stored as snapshots (billing defaults to
    shipping); the cart is emptied; the customer is emailed after commit. The number of
    statements does not depend on the number of lines (issue 18).

    Raises CartEmpty (409), OutOfStock (409, every short line), FieldError (400: an
    address not the caller's or missing, a guest without email), ShippingUnavailable,
    the voucher errors (400 on ``voucher_code``), OrderTotalTooLarge.
    """
    if user is None and not email:
        raise FieldError("email", "required", "A guest checkout needs an email address.")
    ship_to, bill_to = _addresses(
        user=user,
        shipping_address=shipping_address,
        shipping_address_id=shipping_address_id,
        billing_address=billing_address,
        billing_address_id=billing_address_id,
    )
    # The cart row first (one UPDATE), then its lines with their variants locked in
    # variant-id order (one SELECT), then the stock for every line (one UPDATE).
    token = cart_token if user is None else None
    cart_found = cart_checkout_lock(user=user, token=token)
    lines = (
        cart_selectors.cart_lines_for_checkout(user=user, token=token, lock_variants=True)
        if cart_found
        else []
    )
    if not lines:
        raise CartEmpty()

    locked = stock_reserve(
        quantities={line.variant_id: line.quantity for line in lines},
        locked={line.variant_id: line.variant for line in lines},
    )
    # The prices of the variants the reservation holds locked: the price charged is the
    # one in force when the stock was taken (no second load of the catalog rows).
    prices = checkout_prices(variants=locked.values())
    customer = _customer(user, email)
    quote = checkout_quote(
        lines=_pricing_lines(lines, locked),
        ship_to=ship_to,
        shipping_method=shipping_method,
        voucher_code=voucher_code,
        customer=customer,
    )
    _check_capacity(quote)
    if quote.voucher is not None:
        voucher_use_take(voucher=quote.voucher)

    guest_token = secrets.token_urlsafe(32) if user is None else ""
    order = insert_new(
        Order,
        user=user,
        email=customer.email,
        guest_token_hash=guest_token_hash(guest_token) if guest_token else None,
        # Placeholder until the id is known; replaced below in this same transaction.
        number=f"tmp-{uuid.uuid4().hex}",
        payment_method=payment_method,
        subtotal=quote.subtotal,
        discount_total=quote.discount_total,
        shipping_cost=quote.shipping_cost,
        shipping_tax_amount=quote.shipping_tax_amount,
        shipping_method_code=quote.shipping_method.code,
        shipping_method_name=quote.shipping_method.name,
        tax_total=quote.tax_total,
        total=quote.total,
        prices_include_tax=quote.prices_include_tax,
        voucher_code=quote.voucher_code or "",
        currency=settings.NEXUS_CURRENCY,
        shipping_address=ship_to,
        billing_address=bill_to,
        note=note,
    )
    order.number = f"NX-{order.created_at.year}-{order.pk:06d}"
    update_where(Order, {"number": order.number}, {"id": order.pk})
    items = []
    for priced in quote.lines:
        price = prices[priced.line.variant_id]
        items.append(
            OrderItem(
                order=order,
                product_id=price.product_id,
                variant_id=price.variant_id,
                product_name=price.product_name,
                variant_name=price.variant_name,
                sku=price.sku,
                unit_price=price.unit_price,
                quantity=priced.line.quantity,
                line_total=priced.line_total,
                discount_amount=priced.discount_amount,
                tax_rate=priced.tax_rate,
                tax_amount=priced.tax_amount,
            )
        )
    insert_all(items)
    if quote.voucher is not None:
        voucher_redemption_record(voucher=quote.voucher, order=order, customer=customer)
    _event(order, kind=OrderEventKind.PLACED, actor=user, to_value=OrderStatus.PENDING, note=note)
    cart_checkout_clear(cart_id=lines[0].cart_id)
    _email_after_commit(
        order,
        f"Your Nexus order {order.number}",
        "Thank you! We have received your order.",
        guest_token=guest_token,
        items=items,
    )
    # The lines as inserted (ids set by the bulk insert), for the response
    # (selectors.order_as_placed): the order is serialised without reading it back.
    order.placed_items = items
    order.guest_token = guest_token or None
    transaction.on_commit(metrics.ORDERS_PLACED.inc)
    order_event_emit(type="order.created", order=order)
    return order


# --------------------------------------------------------------------------- vouchers


def voucher_use_take(*, voucher: Voucher) -> None:
    """Count one use of ``voucher`` with a conditional UPDATE (only while below
    ``usage_limit``): concurrent checkouts queue on the row, and the ones that find it
    used up get VoucherUsedUp. Call inside the order's transaction."""
    taken = (
        Voucher.objects.filter(pk=voucher.pk, is_active=True)
        .filter(Q(usage_limit__isnull=True) | Q(used_count__lt=F("usage_limit")))
        .update(used_count=F("used_count") + 1, updated_at=timezone.now())
    )
    if not taken:
        raise VoucherUsedUp()


def voucher_redemption_record(*, voucher: Voucher, order: Order, customer: Customer) -> None:
    """Record the use (after ``voucher_use_take`` holds the voucher row, so a concurrent
    checkout of the same customer sees this one once it commits). Raises
    VoucherAlreadyUsed for a once-per-customer voucher this customer holds a use of; the
    unique ``once_key`` is the last line of defence."""
    key = email_key(customer.email) if customer.email else f"user:{order.user_id}"
    redemption = VoucherRedemption(
        voucher=voucher,
        order=order,
        user=customer.user,
        email_key=key,
        once_key=key if voucher.once_per_customer else None,
    )
    if not voucher.once_per_customer:
        # once_key is NULL: the unique constraint cannot refuse it, no savepoint needed.
        redemption.save(force_insert=True)
        return
    if voucher_used_by(voucher=voucher, user=customer.user, email=customer.email):
        raise VoucherAlreadyUsed()
    try:
        with transaction.atomic():
            redemption.save(force_insert=True)
    except IntegrityError as exc:
        raise VoucherAlreadyUsed() from exc


def voucher_use_give_back(*, order: Order) -> None:
    """A cancelled order's voucher use goes back (once: the redemption row is the
    token of that use, and cancelled is final)."""
    redemption = VoucherRedemption.objects.filter(order=order).first()
    if redemption is None:
        return
    redemption.delete()
    Voucher.objects.filter(pk=redemption.voucher_id, used_count__gt=0).update(
        used_count=F("used_count") - 1, updated_at=timezone.now()
    )


# --------------------------------------------------------------------------- lifecycle


# Webhook event types of the transitions (orders/events.py); other status moves are
# order.status_changed, a failed payment emits nothing.
_STATUS_EVENTS = {OrderStatus.CANCELLED: "order.cancelled"}
_PAYMENT_EVENTS = {PaymentStatus.PAID: "order.paid", PaymentStatus.REFUNDED: "order.refunded"}


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
    order_event_emit(
        type=_STATUS_EVENTS.get(to, "order.status_changed"), order=locked, previous_status=current
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
    """pending|processing -> cancelled, putting every line's stock back and giving the
    voucher's use back. ``actor`` is None for a guest cancelling with the order's token.

    The order row is locked and cancelled is final, so the stock goes back exactly once
    even when two cancellations race: the second one is refused with InvalidTransition.
    """
    cancelled = _status_move(
        order, to=OrderStatus.CANCELLED, actor=actor, note=note, tracking_number=tracking_number
    )
    quantities: dict[int, int] = {}
    for variant_id, quantity in OrderItem.objects.filter(order=cancelled).values_list(
        "variant_id", "quantity"
    ):
        quantities[variant_id] = quantities.get(variant_id, 0) + quantity
    stock_release(quantities=quantities)
    voucher_use_give_back(order=cancelled)
    transaction.on_commit(metrics.ORDERS_CANCELLED.inc)
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


def _payment_move(order: Order, *, to: str, actor, reference: str = "", note: str = "") -> Order:
    """The one place that changes ``payment_status`` (called by the services below, in a
    transaction)."""
    locked = _lock(order)
    current = locked.payment_status
    if to not in PAYMENT_TRANSITIONS[current]:
        raise _refuse("the payment status", current, to)
    if to == PaymentStatus.PAID and locked.status == OrderStatus.CANCELLED:
        raise InvalidTransition("A cancelled order cannot be paid.")
    locked.payment_status = to
    fields = ["payment_status", "updated_at"]
    # Staff record whole payments and whole refunds by hand; partial ones go through
    # order_refund_record (the payments app).
    if to == PaymentStatus.PAID:
        locked.amount_paid += locked.total
        fields.append("amount_paid")
    elif to == PaymentStatus.REFUNDED:
        locked.amount_refunded = locked.amount_paid
        fields.append("amount_refunded")
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
    if to in _PAYMENT_EVENTS:
        order_event_emit(type=_PAYMENT_EVENTS[to], order=locked, previous_payment_status=current)
    return locked


@transaction.atomic
def order_mark_paid(*, order: Order, actor, reference: str = "", note: str = "") -> Order:
    """unpaid|failed -> paid; refused on a cancelled order."""
    return _payment_move(order, to=PaymentStatus.PAID, actor=actor, reference=reference, note=note)


@transaction.atomic
def order_mark_payment_failed(*, order: Order, actor, reference: str = "", note: str = "") -> Order:
    """unpaid -> failed."""
    return _payment_move(
        order, to=PaymentStatus.FAILED, actor=actor, reference=reference, note=note
    )


@transaction.atomic
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


# --------------------------------------------------------------------------- ledger
# Called by the payments app with the order row already locked (they lock it again here,
# which is free inside the same transaction).


def order_note_add(*, order: Order, note: str, actor=None) -> OrderEvent:
    """A line in the order's history for staff (kind ``note``): nothing else changes."""
    return _event(order, kind=OrderEventKind.NOTE, actor=actor, note=note)


@transaction.atomic
def order_payment_received(*, order: Order, amount: Decimal, reference: str, note: str) -> Order:
    """Money arrived that the order cannot take (it is cancelled, or already paid).

    It is added to ``amount_paid`` (the ledger tells the truth), ``payment_status`` stays
    as it is, and a note tells staff; the caller refunds the money.
    """
    locked = _lock(order)
    locked.amount_paid += amount
    locked.save(update_fields=["amount_paid", "updated_at"])
    _event(locked, kind=OrderEventKind.NOTE, actor=None, to_value=reference[:100], note=note)
    return locked


@transaction.atomic
def order_refund_record(
    *, order: Order, amount: Decimal, actor, reference: str = "", note: str = ""
) -> Order:
    """Record money given back: ``amount_refunded`` grows by ``amount`` and the payment
    status follows the ledger: ``refunded`` once nothing is left, ``partially_refunded``
    while less than the order total remains, unchanged otherwise (a duplicate payment
    given back leaves the order paid). More than was received is refused with
    InvalidTransition (the payments app checks first and says 409 refund_exceeds_payment).
    """
    locked = _lock(order)
    if amount <= 0 or locked.amount_refunded + amount > locked.amount_paid:
        raise InvalidTransition("A refund cannot exceed what was paid.")
    current = locked.payment_status
    locked.amount_refunded += amount
    remaining = locked.amount_paid - locked.amount_refunded
    if remaining <= 0:
        locked.payment_status = PaymentStatus.REFUNDED
    elif remaining < locked.total and current in (
        PaymentStatus.PAID,
        PaymentStatus.PARTIALLY_REFUNDED,
    ):
        locked.payment_status = PaymentStatus.PARTIALLY_REFUNDED
    locked.save(update_fields=["amount_refunded", "payment_status", "updated_at"])
    _event(
        locked,
        kind=OrderEventKind.PAYMENT,
        actor=actor,
        from_value=current,
        to_value=locked.payment_status,
        note=note
        or f"Refunded {amount} {locked.currency}" + (f" ({reference})" if reference else ""),
    )
    order_event_emit(
        type="order.refunded", order=locked, previous_payment_status=current, refund_amount=amount
    )
    return locked
