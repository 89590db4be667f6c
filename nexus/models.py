"""Models of the plumbing layer: the ``Idempotency-Key`` records of unsafe POSTs
(used by ``nexus.idempotency``; orders and reviews decorate their create views with it)
and the transactional outbox of background deliveries (written only by ``nexus.outbox``)."""

import uuid

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone


class IdempotencyStatus(models.TextChoices):
    IN_PROGRESS = "in_progress", "In progress"
    COMPLETED = "completed", "Completed"


class IdempotencyKey(models.Model):
    """An ``Idempotency-Key`` claimed by a user, with the response to replay.

    ``claim_token`` changes whenever a request takes the key over, and the response is
    stored by a conditional update on it inside the request's own transaction: a request
    that lost its claim rolls back instead of creating a second order.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64)
    status = models.CharField(
        max_length=16, choices=IdempotencyStatus.choices, default=IdempotencyStatus.IN_PROGRESS
    )
    claim_token = models.UUIDField(default=uuid.uuid4)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.JSONField(null=True, blank=True, encoder=DjangoJSONEncoder)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    # When the current claim started; an in-progress claim older than the lease is abandoned.
    locked_at = models.DateTimeField(default=timezone.now)

    class Meta:
        # The table (and its constraint) were created by the orders app, which owned this
        # model before; moved in state only (nexus/migrations/0001_idempotency.py).
        db_table = "orders_idempotencykey"
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="orders_idempotency_user_key"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id}:{self.key} ({self.status})"


class OutboxStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed"


class OutboxMessage(models.Model):
    """One delivery (an email, later a webhook call) written in the transaction that causes it.

    ``kind`` names the handler that delivers it (``settings.NEXUS_OUTBOX_HANDLERS``) and
    ``payload`` is everything the handler needs, as JSON: the row alone is enough for any
    worker on any host to deliver it. ``nexus.outbox`` is the only code that writes here.
    """

    kind = models.CharField(max_length=64)
    payload = models.JSONField(default=dict)
    status = models.CharField(
        max_length=16, choices=OutboxStatus.choices, default=OutboxStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    max_attempts = models.PositiveIntegerField()
    # Not before this instant; the sweeper picks rows that are overdue by a margin.
    next_attempt_at = models.DateTimeField(default=timezone.now)
    # Last time a task for this row was handed to the broker by the sweeper or a retry.
    enqueued_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    # What the handler reported on success (e.g. a Message-ID, an HTTP status).
    result = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="outbox_status_due_idx"),
            models.Index(fields=["kind", "status"], name="outbox_kind_status_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=OutboxStatus.values), name="outbox_status_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(max_attempts__gte=1), name="outbox_max_attempts_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk} ({self.status})"
