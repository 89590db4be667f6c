"""Payment attempts, refunds and the provider events already handled.

The database enforces what retries and races must never break: at most one pending
payment per order, each provider reference (PaymentIntent, refund, event id) stored once.
"""

from decimal import Decimal

from django.conf import settings
from django.db import models

from orders.models import Order
from payments.choices import EventOutcome, PaymentState, Provider, RefundState


def _choices_check(field: str, choices: type[models.TextChoices], name: str):
    return models.CheckConstraint(condition=models.Q(**{f"{field}__in": choices.values}), name=name)


class Payment(models.Model):
    """One attempt to take the order's total through a provider (a Stripe PaymentIntent)."""

    # PROTECT: orders are never deleted, and money records outlive everything.
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="payments")
    provider = models.CharField(max_length=16, choices=Provider.choices)
    status = models.CharField(
        max_length=16, choices=PaymentState.choices, default=PaymentState.PENDING
    )
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    currency = models.CharField(max_length=3)
    # The PaymentIntent id; empty until the provider answered (a retry reuses this row).
    provider_reference = models.CharField(max_length=255, blank=True)
    client_secret = models.CharField(max_length=255, blank=True)
    amount_refunded = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0.00"))
    failure_message = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            _choices_check("provider", Provider, "payments_payment_provider_valid"),
            _choices_check("status", PaymentState, "payments_payment_status_valid"),
            models.UniqueConstraint(
                fields=["order"],
                condition=models.Q(status=PaymentState.PENDING),
                name="payments_payment_one_pending_per_order",
            ),
            models.UniqueConstraint(
                fields=["provider", "provider_reference"],
                condition=~models.Q(provider_reference=""),
                name="payments_payment_reference_once",
            ),
            models.CheckConstraint(
                condition=models.Q(
                    amount__gt=0,
                    amount_refunded__gte=0,
                    amount_refunded__lte=models.F("amount"),
                ),
                name="payments_payment_amounts_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.provider} {self.provider_reference or self.pk} ({self.status})"


class Refund(models.Model):
    """Money given back for an order: through the provider (against a payment) or recorded
    by staff for manual payments."""

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="refunds")
    payment = models.ForeignKey(
        Payment, null=True, blank=True, on_delete=models.PROTECT, related_name="refunds"
    )
    provider = models.CharField(max_length=16, choices=Provider.choices)
    status = models.CharField(
        max_length=16, choices=RefundState.choices, default=RefundState.PENDING
    )
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    reason = models.CharField(max_length=500, blank=True)
    # True: made by Nexus itself (a payment that arrived after expiry, or a second one).
    automatic = models.BooleanField(default=False)
    provider_reference = models.CharField(max_length=255, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            _choices_check("provider", Provider, "payments_refund_provider_valid"),
            _choices_check("status", RefundState, "payments_refund_status_valid"),
            models.UniqueConstraint(
                fields=["provider", "provider_reference"],
                condition=~models.Q(provider_reference=""),
                name="payments_refund_reference_once",
            ),
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="payments_refund_gt_0"),
        ]

    def __str__(self) -> str:
        return f"refund {self.amount} of {self.order_id} ({self.status})"


class StripeEvent(models.Model):
    """A verified Stripe webhook event: the unique id makes every event handled once."""

    event_id = models.CharField(max_length=255, unique=True)
    type = models.CharField(max_length=100)
    outcome = models.CharField(max_length=16, choices=EventOutcome.choices)
    object_id = models.CharField(max_length=255, blank=True)
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [
            _choices_check("outcome", EventOutcome, "payments_stripeevent_outcome_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.event_id} {self.type} ({self.outcome})"
