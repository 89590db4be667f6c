"""Webhook endpoints, the events emitted to them and one delivery per (event, endpoint)."""

import uuid

from django.db import models
from django.utils import timezone


class WebhookEndpoint(models.Model):
    """A receiver URL an admin registered, with the events it subscribes to.

    ``secret`` signs every delivery (it is needed in clear to compute the HMAC, so it is
    stored, and shown by the API only once, in the answer to the create).
    ``failure_count`` counts consecutive failed deliveries (retries exhausted or a final
    4xx); a 2xx resets it, reaching
    ``NEXUS_WEBHOOKS_DEACTIVATE_AFTER`` deactivates the endpoint (``deactivated_at``).
    """

    url = models.URLField(max_length=2000)
    description = models.CharField(max_length=200, blank=True, default="")
    events = models.JSONField(default=list)
    is_active = models.BooleanField(default=True)
    secret = models.CharField(max_length=100)
    failure_count = models.PositiveIntegerField(default=0)
    last_delivery_at = models.DateTimeField(null=True, blank=True)
    deactivated_at = models.DateTimeField(null=True, blank=True)
    deactivated_reason = models.CharField(max_length=300, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.url} ({'active' if self.is_active else 'inactive'})"


class WebhookEvent(models.Model):
    """One emitted event: the envelope every subscribed endpoint receives, byte for byte.

    ``key`` names what it is about (``order:42``): deliveries to one endpoint of events
    with the same key go out in emission order.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    type = models.CharField(max_length=64, db_index=True)
    version = models.PositiveSmallIntegerField(default=1)
    key = models.CharField(max_length=100, blank=True, default="")
    data = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.type} {self.id}"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed"


class WebhookDelivery(models.Model):
    """The delivery of one event to one endpoint and the log of its last attempt.

    ``attempts`` counts every HTTP attempt, redeliveries included. ``response_body`` keeps
    the first ``RESPONSE_BODY_KEEP`` characters of the receiver's answer.
    """

    RESPONSE_BODY_KEEP = 1000

    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    event = models.ForeignKey(WebhookEvent, on_delete=models.CASCADE, related_name="deliveries")
    status = models.CharField(
        max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    response_body = models.TextField(blank=True, default="")
    last_error = models.CharField(max_length=500, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name_plural = "webhook deliveries"
        indexes = [
            models.Index(fields=["endpoint", "status"], name="webhook_delivery_ep_status_idx"),
            models.Index(fields=["status", "created_at"], name="webhook_delivery_age_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=DeliveryStatus.values),
                name="webhook_delivery_status_valid",
            ),
            models.UniqueConstraint(
                fields=["event", "endpoint"], name="webhook_delivery_event_endpoint"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_id} -> {self.endpoint_id} ({self.status})"
