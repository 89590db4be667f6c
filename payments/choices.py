"""Choices of the payments app: providers, and the states of payments and refunds."""

from django.db import models


class Provider(models.TextChoices):
    MANUAL = "manual", "Manual (staff record it)"
    STRIPE = "stripe", "Stripe"


class PaymentState(models.TextChoices):
    PENDING = "pending", "Pending (waiting for the customer)"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"
    # The provider reported a success whose amount or currency is not the order's.
    MISMATCH = "mismatch", "Amount or currency mismatch (staff review)"


class RefundState(models.TextChoices):
    PENDING = "pending", "Pending (sent to the provider)"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class EventOutcome(models.TextChoices):
    HANDLED = "handled", "Handled"
    IGNORED = "ignored", "Ignored (unknown type or object)"
