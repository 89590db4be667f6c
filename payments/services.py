"""Writes of the payments app: start a card payment, record what the provider says
(webhook or client confirmation, in any order, any number of times), refunds, and the
expiry of unpaid card orders.

Locking: the order row first (``orders.selectors.order_lock``), then the payment or
refund row, always in that order, so the webhook, the client confirmation, refunds and
expiry serialise on the order and never deadlock. Nothing calls Stripe while holding a
lock: a row is written first (its id is the Idempotency-Key), the provider is called, and
its answer is recorded in a second short transaction; a retry reuses the same row and key.
The order's status and money ledger change only through ``orders.services``.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone

from nexus.mail import email_send_on_commit
from orders import services as order_services
from orders.choices import OrderStatus, PaymentMethod, PaymentStatus
from orders.errors import PaymentMethodUnavailable
from orders.models import Order
from orders.selectors import customer_email, customer_name, order_lock
from payments.choices import EventOutcome, PaymentState, Provider, RefundState
from payments.errors import (
    OrderNotPayable,
    PaymentMethodNotOnline,
    PaymentProviderError,
    RefundExceedsPayment,
)
from payments.models import Payment, Refund, StripeEvent
from payments.providers import (
    STRIPE,
    Intent,
    ProviderRefund,
    from_minor_units,
    provider_for,
    to_minor_units,
)

logger = logging.getLogger("nexus.payments")

_PAID_STATES = (PaymentStatus.PAID, PaymentStatus.PARTIALLY_REFUNDED, PaymentStatus.REFUNDED)


def _lock_payment(pk: int) -> Payment:
    return Payment.objects.select_for_update().get(pk=pk)


# --------------------------------------------------------------------------- starting


def payment_start(*, order: Order) -> tuple[Payment, bool]:
    """The order's open card payment, created if there is none: ``(payment, created)``.

    Refused: a paid or cancelled order (409 order_not_payable), a manual method (409
    payment_method_not_online), card payments switched off (400 payment_method_unavailable).
    At most one pending payment per order (a partial unique index), so concurrent or
    retried calls share one row; the PaymentIntent is created outside any lock with the
    Idempotency-Key ``nexus-payment-<id>``, and a row whose intent is not known yet (the
    provider failed last time: 502) is completed by the next call with the same key.
    """
    provider = provider_for(order.payment_method)
    if not provider.online:
        raise PaymentMethodNotOnline()
    if not provider.available():
        raise PaymentMethodUnavailable()

    with transaction.atomic():
        locked = order_lock(pk=order.pk)
        if locked.status == OrderStatus.CANCELLED:
            raise OrderNotPayable("This order is cancelled.")
        if locked.payment_status in _PAID_STATES:
            raise OrderNotPayable("This order is already paid.")
        payment = Payment.objects.filter(order=locked, status=PaymentState.PENDING).first()
        created = payment is None
        if created:
            payment = Payment.objects.create(
                order=locked,
                provider=provider.name,
                amount=locked.total,
                currency=locked.currency,
            )
    if payment.provider_reference:
        return payment, False

    intent = provider.intent_create(
        amount=to_minor_units(payment.amount, payment.currency),
        currency=payment.currency,
        metadata={"order_number": order.number, "nexus_payment_id": str(payment.pk)},
        idempotency_key=f"nexus-payment-{payment.pk}",
    )
    # Only the first answer is kept: a concurrent call that also reached the provider (one
    # that ignores Idempotency-Key) returns the stored intent, not its own.
    Payment.objects.filter(pk=payment.pk, provider_reference="").update(
        provider_reference=intent.id, client_secret=intent.client_secret, updated_at=timezone.now()
    )
    payment.refresh_from_db()
    return payment, created


def payment_confirm(*, payment: Payment) -> Payment:
    """The client says it finished confirming: ask the provider (never trust the client)
    and record the outcome exactly as the webhook would. Safe to call any number of times."""
    if payment.provider != Provider.STRIPE or not payment.provider_reference:
        return payment
    intent = STRIPE.intent_retrieve(payment.provider_reference)
    intent_record(intent=intent, source="client confirmation")
    payment.refresh_from_db()
    return payment


# --------------------------------------------------------------------------- outcomes


def intent_record(*, intent: Intent, source: str) -> EventOutcome:
    """Record what the provider says about an intent: succeeded, failed or cancelled.
    Unknown intents are ignored (they are not ours)."""
    payment = Payment.objects.filter(provider=Provider.STRIPE, provider_reference=intent.id).first()
    if payment is None:
        return EventOutcome.IGNORED
    if intent.status == "succeeded":
        _intent_succeeded(payment_id=payment.pk, intent=intent, source=source)
    elif intent.status == "canceled":
        _intent_closed(payment_id=payment.pk, to=PaymentState.CANCELLED, intent=intent)
    elif intent.status == "requires_payment_method" and intent.failure_message:
        _intent_closed(payment_id=payment.pk, to=PaymentState.FAILED, intent=intent)
    return EventOutcome.HANDLED


@transaction.atomic
def _intent_succeeded(*, payment_id: int, intent: Intent, source: str) -> None:
    """succeeded, for the full amount and currency -> the order is paid, once, with one
    email. A mismatch is not paid: the payment is flagged and staff are told. Money for an
    order that cannot take it (cancelled by expiry, or paid by another intent) is
    recorded and refunded automatically."""
    order_id = Payment.objects.values_list("order_id", flat=True).get(pk=payment_id)
    order = order_lock(pk=order_id)
    payment = _lock_payment(payment_id)
    if payment.status in (PaymentState.SUCCEEDED, PaymentState.MISMATCH):
        return  # already recorded (the other door, or a redelivery)

    expected = to_minor_units(payment.amount, payment.currency)
    if intent.amount_received != expected or intent.currency != payment.currency.upper():
        payment.status = PaymentState.MISMATCH
        payment.save(update_fields=["status", "updated_at"])
        order_services.order_note_add(
            order=order,
            note=(
                f"Stripe reported {intent.id} succeeded with {intent.amount_received} "
                f"{intent.currency} (minor units) but the order expects {expected} "
                f"{payment.currency.upper()}: not marked paid. Review it in the Stripe "
                "dashboard and refund or settle by hand."
            ),
        )
        return

    payment.status = PaymentState.SUCCEEDED
    payment.failure_message = ""
    payment.save(update_fields=["status", "failure_message", "updated_at"])
    if order.status == OrderStatus.CANCELLED or order.payment_status in _PAID_STATES:
        why = "is cancelled" if order.status == OrderStatus.CANCELLED else "was already paid"
        order_services.order_payment_received(
            order=order,
            amount=payment.amount,
            reference=intent.id,
            note=(
                f"Card payment {intent.id} of {payment.amount} {payment.currency} succeeded "
                f"but the order {why}: it is being refunded automatically."
            ),
        )
        refund = Refund.objects.create(
            order=order,
            payment=payment,
            provider=Provider.STRIPE,
            amount=payment.amount,
            automatic=True,
            reason=f"Automatic: the order {why} when the payment succeeded.",
        )
        transaction.on_commit(lambda: _refund_submit_quietly(refund.pk))
        return

    for other in Payment.objects.select_for_update().filter(
        order=order, status=PaymentState.PENDING
    ):
        # Paid: a second open intent must not charge the customer again.
        other.status = PaymentState.CANCELLED
        other.save(update_fields=["status", "updated_at"])
        if other.provider_reference:
            transaction.on_commit(lambda p=other: _intent_cancel_quietly(p))
    paid = order_services.order_mark_paid(
        order=order,
        actor=None,
        reference=intent.id,
        note=f"Card payment received through Stripe ({source}).",
    )
    email_send_on_commit(
        subject=f"Payment received for your Nexus order {paid.number}",
        body=(
            f"Hello {customer_name(paid)},\n\n"
            f"We have received your payment of {payment.amount} {payment.currency} for order "
            f"{paid.number}. Thank you!\n"
        ),
        to=[customer_email(paid)],
    )


@transaction.atomic
def _intent_closed(*, payment_id: int, to: str, intent: Intent) -> None:
    """failed or cancelled: the pending payment closes (so the customer may pay again) and
    a failure moves the order's payment status to ``failed``."""
    order_id = Payment.objects.values_list("order_id", flat=True).get(pk=payment_id)
    order = order_lock(pk=order_id)
    payment = _lock_payment(payment_id)
    if payment.status != PaymentState.PENDING:
        return
    payment.status = to
    payment.failure_message = intent.failure_message
    payment.save(update_fields=["status", "failure_message", "updated_at"])
    if to != PaymentState.FAILED or order.status == OrderStatus.CANCELLED:
        return
    note = f"Card payment {intent.id} failed: {intent.failure_message or 'declined'}."
    if order.payment_status == PaymentStatus.UNPAID:
        order_services.order_mark_payment_failed(
            order=order, actor=None, reference=intent.id, note=note
        )
    else:
        order_services.order_note_add(order=order, note=note)


# --------------------------------------------------------------------------- webhook


def webhook_handle(*, payload: bytes, signature: str | None) -> tuple[str, str]:
    """Verify and handle one Stripe webhook delivery: ``(event id, outcome)``.

    The signature is checked on the raw body (400 otherwise, nothing changes). The event
    id is inserted in the same transaction as its effects: a redelivery, or the same event
    racing itself, waits on the unique index and is answered ``duplicate``. Unknown event
    types and objects that are not ours are stored as ``ignored`` and answered 200, so
    Stripe stops retrying them.
    """
    event = STRIPE.webhook_event(payload, signature)
    event_id, event_type = event["id"], event["type"]
    obj: dict[str, Any] = (event.get("data") or {}).get("object") or {}
    with transaction.atomic():
        try:
            with transaction.atomic():
                record = StripeEvent.objects.create(
                    event_id=event_id,
                    type=event_type[:100],
                    outcome=EventOutcome.IGNORED,
                    object_id=str(obj.get("id") or "")[:255],
                )
        except IntegrityError:
            return event_id, "duplicate"
        outcome = _dispatch(event_type, obj)
        if outcome != record.outcome:
            StripeEvent.objects.filter(pk=record.pk).update(outcome=outcome)
    return event_id, str(outcome)


_INTENT_EVENTS = frozenset(
    {"payment_intent.succeeded", "payment_intent.payment_failed", "payment_intent.canceled"}
)
_REFUND_EVENTS = frozenset(
    {"refund.created", "refund.updated", "refund.failed", "charge.refund.updated"}
)


def _dispatch(event_type: str, obj: dict[str, Any]) -> EventOutcome:
    if not obj.get("id"):
        return EventOutcome.IGNORED
    if event_type in _INTENT_EVENTS:
        intent = Intent.from_stripe(obj)
        if event_type == "payment_intent.payment_failed":
            # Whatever the snapshot's status, this event says the attempt failed.
            intent = replace(
                intent,
                status="requires_payment_method",
                failure_message=intent.failure_message or "declined",
            )
        return intent_record(intent=intent, source=f"webhook {event_type}")
    if event_type in _REFUND_EVENTS:
        return _provider_refund_record(ProviderRefund.from_stripe(obj))
    return EventOutcome.IGNORED


# --------------------------------------------------------------------------- refunds


def _reserved(order: Order) -> Decimal:
    """Refunds sent to the provider and not settled yet: already promised away."""
    return Refund.objects.filter(order=order, status=RefundState.PENDING).aggregate(
        total=Sum("amount")
    )["total"] or Decimal("0.00")


def refund_create(
    *,
    order: Order,
    actor,
    amount: Decimal | None = None,
    reason: str = "",
    payment: Payment | None = None,
) -> Refund:
    """Give money back (staff): ``amount`` defaults to what remains refundable.

    Never more than was paid and not yet refunded or promised (409
    refund_exceeds_payment). A card payment is refunded at Stripe (Idempotency-Key
    ``nexus-refund-<id>``; 502 payment_provider_error if Stripe fails, and the amount is
    released); an order paid by hand (bank transfer, cash) is recorded as refunded by staff.
    The order becomes ``partially_refunded`` or ``refunded`` with an order event.
    """
    with transaction.atomic():
        locked = order_lock(pk=order.pk)
        refundable = locked.amount_paid - locked.amount_refunded - _reserved(locked)
        amount = refundable if amount is None else amount
        if amount <= 0 or amount > refundable:
            raise RefundExceedsPayment(
                f"At most {max(refundable, Decimal('0.00'))} {locked.currency} can be refunded.",
                extra={"refundable": str(max(refundable, Decimal("0.00")))},
            )
        source = payment or _refundable_payment(locked, amount)
        if source is None:
            # Paid by hand (or nothing online to refund against): staff give it back by hand.
            refund = Refund.objects.create(
                order=locked,
                provider=Provider.MANUAL,
                status=RefundState.SUCCEEDED,
                amount=amount,
                reason=reason,
                actor=actor,
            )
            order_services.order_refund_record(
                order=locked,
                amount=amount,
                actor=actor,
                note=f"Refunded {amount} {locked.currency} by hand"
                + (f": {reason}" if reason else "."),
            )
            return refund
        left = source.amount - source.amount_refunded - _reserved_on(source)
        if source.status != PaymentState.SUCCEEDED or amount > left:
            raise RefundExceedsPayment(
                f"At most {max(left, Decimal('0.00'))} {locked.currency} can be refunded "
                "on this payment in one refund.",
                extra={"refundable": str(max(left, Decimal("0.00")))},
            )
        refund = Refund.objects.create(
            order=locked,
            payment=source,
            provider=source.provider,
            amount=amount,
            reason=reason,
            actor=actor,
        )
    return refund_submit(refund_id=refund.pk)


def _reserved_on(payment: Payment) -> Decimal:
    return Refund.objects.filter(payment=payment, status=RefundState.PENDING).aggregate(
        total=Sum("amount")
    )["total"] or Decimal("0.00")


def _refundable_payment(order: Order, amount: Decimal) -> Payment | None:
    """The succeeded online payment with the most left to refund (None: paid by hand)."""
    best, best_left = None, Decimal("-1")
    for payment in Payment.objects.filter(order=order, status=PaymentState.SUCCEEDED):
        left = payment.amount - payment.amount_refunded - _reserved_on(payment)
        if left > best_left:
            best, best_left = payment, left
    return best


def refund_submit(*, refund_id: int) -> Refund:
    """Send a pending refund to the provider (same Idempotency-Key on every try) and
    record its answer. A staff refund that the provider refuses is marked failed and
    raised (502); an automatic one stays pending for ``refunds_retry_pending``."""
    refund = Refund.objects.select_related("payment", "order").get(pk=refund_id)
    if refund.status != RefundState.PENDING or refund.provider_reference:
        return refund
    assert refund.payment is not None
    try:
        answer = STRIPE.refund_create(
            intent_id=refund.payment.provider_reference,
            amount=to_minor_units(refund.amount, refund.payment.currency),
            metadata={"nexus_refund_id": str(refund.pk), "order_number": refund.order.number},
            idempotency_key=f"nexus-refund-{refund.pk}",
        )
    except PaymentProviderError:
        if not refund.automatic:
            Refund.objects.filter(pk=refund.pk, status=RefundState.PENDING).update(
                status=RefundState.FAILED, updated_at=timezone.now()
            )
        raise
    _refund_settle(refund_id=refund.pk, answer=answer)
    refund.refresh_from_db()
    return refund


def _refund_submit_quietly(refund_id: int) -> None:
    try:
        refund_submit(refund_id=refund_id)
    except PaymentProviderError:
        logger.warning("automatic refund %s could not be sent; it will be retried", refund_id)


@transaction.atomic
def _refund_settle(*, refund_id: int, answer: ProviderRefund) -> None:
    """Record the provider's answer about one of our refunds (from the API call or a
    webhook, whichever comes first; the second finds it settled)."""
    order_id = Refund.objects.values_list("order_id", flat=True).get(pk=refund_id)
    order = order_lock(pk=order_id)
    refund = Refund.objects.select_for_update().get(pk=refund_id)
    if not refund.provider_reference:
        refund.provider_reference = answer.id
        refund.save(update_fields=["provider_reference", "updated_at"])
    if refund.status == RefundState.SUCCEEDED and answer.status in ("failed", "canceled"):
        # Card refunds can fail days later (a closed card account): the money did not
        # reach the customer. Staff decide (another method, or a new refund).
        if not Refund.objects.filter(pk=refund.pk, reason__contains="[failed later]").exists():
            refund.reason = f"{refund.reason} [failed later]".strip()[:500]
            refund.save(update_fields=["reason", "updated_at"])
            order_services.order_note_add(
                order=order,
                note=f"Stripe reports refund {answer.id} of {refund.amount} {order.currency} "
                f"{answer.status} after it had succeeded: the customer did not get it back.",
            )
        return
    if refund.status != RefundState.PENDING or answer.status in ("pending", "requires_action"):
        return
    if answer.status != "succeeded":
        refund.status = RefundState.FAILED
        refund.save(update_fields=["status", "updated_at"])
        order_services.order_note_add(
            order=order, note=f"Refund {answer.id} of {refund.amount} {order.currency} failed."
        )
        return
    refund.status = RefundState.SUCCEEDED
    refund.save(update_fields=["status", "updated_at"])
    payment = _lock_payment(refund.payment_id)
    payment.amount_refunded += refund.amount
    payment.save(update_fields=["amount_refunded", "updated_at"])
    order_services.order_refund_record(
        order=order,
        amount=refund.amount,
        actor=refund.actor,
        reference=answer.id,
        note=(
            f"Refunded {refund.amount} {order.currency} through Stripe ({answer.id})"
            + (f": {refund.reason}" if refund.reason else ".")
        ),
    )
    if refund.automatic:
        order_services.order_note_add(
            order=order,
            note=f"Automatic refund {answer.id} of {refund.amount} {order.currency} succeeded.",
        )
    email_send_on_commit(
        subject=f"Refund for your Nexus order {order.number}",
        body=(
            f"Hello {customer_name(order)},\n\n"
            f"We have refunded {refund.amount} {order.currency} for order {order.number}. "
            "It may take a few days to appear on your statement.\n"
        ),
        to=[customer_email(order)],
    )


def _provider_refund_record(answer: ProviderRefund) -> EventOutcome:
    """A refund event from Stripe: ours (by id or by the metadata we sent) is settled;
    one made in the Stripe dashboard on one of our payments is recorded once."""
    refund = Refund.objects.filter(provider=Provider.STRIPE, provider_reference=answer.id).first()
    if refund is None and answer.nexus_refund_id is not None:
        refund = Refund.objects.filter(pk=answer.nexus_refund_id, provider=Provider.STRIPE).first()
    if refund is not None:
        _refund_settle(refund_id=refund.pk, answer=answer)
        return EventOutcome.HANDLED
    payment = Payment.objects.filter(
        provider=Provider.STRIPE, provider_reference=answer.payment_intent
    ).first()
    if payment is None or not answer.payment_intent:
        return EventOutcome.IGNORED
    _dashboard_refund_record(payment_id=payment.pk, answer=answer)
    return EventOutcome.HANDLED


@transaction.atomic
def _dashboard_refund_record(*, payment_id: int, answer: ProviderRefund) -> None:
    order_id = Payment.objects.values_list("order_id", flat=True).get(pk=payment_id)
    order = order_lock(pk=order_id)
    if Refund.objects.filter(provider=Provider.STRIPE, provider_reference=answer.id).exists():
        return  # recorded by an earlier event about the same refund
    payment = _lock_payment(payment_id)
    amount = from_minor_units(answer.amount, answer.currency or payment.currency)
    left = payment.amount - payment.amount_refunded
    if answer.status in ("pending", "requires_action"):
        return  # recorded when it succeeds (refund.updated)
    if answer.status != "succeeded" or amount <= 0 or amount > left:
        order_services.order_note_add(
            order=order,
            note=f"Stripe reported refund {answer.id} ({answer.status}, {amount} "
            f"{order.currency}) that cannot be recorded: review it in the Stripe dashboard.",
        )
        return
    refund = Refund.objects.create(
        order=order,
        payment=payment,
        provider=Provider.STRIPE,
        status=RefundState.PENDING,
        amount=amount,
        reason="Refunded in the Stripe dashboard.",
        provider_reference=answer.id,
    )
    _refund_settle(refund_id=refund.pk, answer=answer)


def refunds_retry_pending(*, older_than: timedelta = timedelta(minutes=1)) -> int:
    """Resend automatic refunds that the provider did not take yet; returns how many
    were sent. Same Idempotency-Key each time, so a refund the provider did take (and we
    did not hear about) is not made twice."""
    cutoff = timezone.now() - older_than
    sent = 0
    for refund_id in Refund.objects.filter(
        status=RefundState.PENDING, automatic=True, provider_reference="", created_at__lt=cutoff
    ).values_list("pk", flat=True):
        _refund_submit_quietly(refund_id)
        sent += 1
    return sent


# --------------------------------------------------------------------------- expiry


def unpaid_orders_expire(*, now=None) -> list[str]:
    """Cancel (and so restock, through ``orders.services.order_cancel``) every card order
    still unpaid ``NEXUS_UNPAID_ORDER_TTL_MINUTES`` after it was placed; returns their
    numbers. Each order is re-checked under its row lock, so one paid at the last moment
    is left alone. Its open PaymentIntent is cancelled at Stripe after commit (best
    effort: one that succeeds anyway is refunded automatically by the webhook)."""
    now = now or timezone.now()
    ttl = settings.NEXUS_UNPAID_ORDER_TTL_MINUTES
    cutoff = now - timedelta(minutes=ttl)
    candidates = Order.objects.filter(
        status=OrderStatus.PENDING,
        payment_method=PaymentMethod.CARD,
        payment_status__in=(PaymentStatus.UNPAID, PaymentStatus.FAILED),
        created_at__lt=cutoff,
    ).values_list("pk", flat=True)
    expired: list[str] = []
    for order_id in list(candidates):
        number = _order_expire(order_id=order_id, cutoff=cutoff, ttl=ttl)
        if number:
            expired.append(number)
    return expired


@transaction.atomic
def _order_expire(*, order_id: int, cutoff, ttl: int) -> str | None:
    order = order_lock(pk=order_id)
    if (
        order.status != OrderStatus.PENDING
        or order.payment_status not in (PaymentStatus.UNPAID, PaymentStatus.FAILED)
        or order.created_at >= cutoff
    ):
        return None
    open_payments = list(
        Payment.objects.select_for_update().filter(order=order, status=PaymentState.PENDING)
    )
    for payment in open_payments:
        payment.status = PaymentState.CANCELLED
        payment.save(update_fields=["status", "updated_at"])
        if payment.provider_reference:
            transaction.on_commit(lambda p=payment: _intent_cancel_quietly(p))
    order_services.order_cancel(
        order=order,
        actor=None,
        note=f"Not paid within {ttl} minutes: cancelled automatically and restocked.",
    )
    return order.number


def _intent_cancel_quietly(payment: Payment) -> None:
    try:
        STRIPE.intent_cancel(
            payment.provider_reference, idempotency_key=f"nexus-cancel-{payment.pk}"
        )
    except PaymentProviderError:
        logger.info(
            "could not cancel %s at Stripe (it may have succeeded)", payment.provider_reference
        )
