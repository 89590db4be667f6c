"""Writes of the webhooks app: endpoints, recording events, delivering, redelivering, pruning.

Flow: a service below (orders, catalog) calls ``nexus.events.event_emit`` inside its
transaction; ``event_record`` (the registered sink) writes the event, one delivery per
active endpoint subscribed to its type and one outbox row (kind ``webhook``) per delivery,
all in that same transaction. A worker runs ``webhook_deliver`` for the row (the outbox
locks it, retries it with backoff and jitter, at most ``NEXUS_WEBHOOKS_MAX_ATTEMPTS``);
after a failed attempt the outbox calls ``webhook_attempt_failed``, which logs it, counts
it against the endpoint and deactivates the endpoint after
``NEXUS_WEBHOOKS_DEACTIVATE_AFTER`` consecutive failed deliveries.
"""

from __future__ import annotations

import http.client
import json
import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from nexus.events import EVENT_TYPES
from nexus.exceptions import FieldError
from nexus.mail import email_send_on_commit
from nexus.outbox import DeliveryDeferred, PermanentDeliveryError, outbox_add
from nexus.rawsql import table_rows
from webhooks import security
from webhooks.errors import DeliveryPending, EndpointInactive, WebhookUrlRefused
from webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint, WebhookEvent
from webhooks.signing import secret_generate, signature_header

logger = logging.getLogger("nexus.webhooks")

OUTBOX_KIND = "webhook"
RETRY_STATUSES = frozenset({408, 429})
USER_AGENT = "Nexus-Webhooks/1"


# --------------------------------------------------------------------------- endpoints


def _url_checked(url: str) -> str:
    try:
        security.url_check(url)
    except security.UnsafeUrl as exc:
        raise WebhookUrlRefused(exc.code, exc.message) from exc
    return url


def _events_checked(events: list[str]) -> list[str]:
    unknown = sorted(set(events) - set(EVENT_TYPES))
    if unknown:
        raise FieldError("events", "invalid_choice", f"Unknown event types: {', '.join(unknown)}.")
    if not events:
        raise FieldError("events", "required", "Subscribe to at least one event type.")
    return [event for event in EVENT_TYPES if event in events]


@transaction.atomic
def endpoint_create(
    *, url: str, events: list[str], description: str = "", is_active: bool = True
) -> WebhookEndpoint:
    """Register an endpoint with a generated secret (the caller shows it once).

    Raises WebhookUrlRefused (400 ``webhook_url_*``) for a URL that is not http(s), has
    credentials, does not resolve or reaches a non-public address; FieldError for events.
    """
    return WebhookEndpoint.objects.create(
        url=_url_checked(url),
        events=_events_checked(events),
        description=description,
        is_active=is_active,
        secret=secret_generate(),
    )


@transaction.atomic
def endpoint_update(*, endpoint: WebhookEndpoint, data: dict[str, Any]) -> WebhookEndpoint:
    """Change url, events, description or is_active (same checks as the create).

    Activating an endpoint clears its failure count and deactivation note.
    """
    locked = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    if "url" in data:
        locked.url = _url_checked(data["url"])
    if "events" in data:
        locked.events = _events_checked(data["events"])
    if "description" in data:
        locked.description = data["description"]
    if "is_active" in data and data["is_active"] != locked.is_active:
        locked.is_active = data["is_active"]
        if locked.is_active:
            locked.failure_count = 0
            locked.deactivated_at = None
            locked.deactivated_reason = ""
    locked.save()
    return locked


@transaction.atomic
def endpoint_delete(*, endpoint: WebhookEndpoint) -> None:
    """Delete an endpoint with its delivery log (pending outbox rows then find nothing)."""
    endpoint.delete()


# --------------------------------------------------------------------------- events


def event_record(
    *,
    type: str,
    key: str,
    envelope: Callable[[], dict[str, Any]],
) -> WebhookEvent | None:
    """The sink of ``nexus.events.event_emit``: store the event and queue one delivery per
    active endpoint subscribed to its type, in the caller's transaction. Without a
    subscriber nothing is written and the payload is never built."""
    # Every endpoint, read whole by one statement written once (a small table; each
    # checkout asks): the active ones subscribed to the type, in id order.
    endpoint_ids = [
        pk
        for pk, active, events in table_rows(
            WebhookEndpoint, ("id", "is_active", "events"), order_by=("id",)
        )
        if active and type in events
    ]
    if not endpoint_ids:
        return None
    envelope = envelope()
    event = WebhookEvent.objects.create(
        id=envelope["id"],
        type=envelope["type"],
        version=envelope["version"],
        key=key,
        data=envelope["data"],
        created_at=datetime.fromisoformat(envelope["created_at"].replace("Z", "+00:00")),
    )
    for endpoint_id in endpoint_ids:
        delivery = WebhookDelivery.objects.create(endpoint_id=endpoint_id, event=event)
        _enqueue(delivery)
    return event


def _enqueue(delivery: WebhookDelivery) -> None:
    outbox_add(
        kind=OUTBOX_KIND,
        payload={"delivery_id": delivery.pk},
        max_attempts=settings.NEXUS_WEBHOOKS_MAX_ATTEMPTS,
    )


def event_envelope(event: WebhookEvent) -> dict[str, Any]:
    """What is POSTed: ``{id, type, version, created_at, data}``."""
    return {
        "id": str(event.id),
        "type": event.type,
        "version": event.version,
        "created_at": event.created_at.isoformat().replace("+00:00", "Z"),
        "data": event.data,
    }


def event_body(event: WebhookEvent) -> bytes:
    return json.dumps(event_envelope(event), separators=(",", ":"), ensure_ascii=False).encode()


# --------------------------------------------------------------------------- delivery


class AttemptFailed(Exception):
    """An HTTP attempt that did not get a 2xx; retried by the outbox."""

    def __init__(
        self,
        message: str,
        *,
        response: security.Response | None = None,
        duration_ms: int | None = None,
    ):
        super().__init__(message)
        self.response = response
        self.duration_ms = response.duration_ms if response else duration_ms


class AttemptRefused(AttemptFailed, PermanentDeliveryError):
    """A failed attempt retrying cannot fix (another 4xx, a redirect, a refused address)."""


class DeliveryGone(PermanentDeliveryError):
    """The delivery or its endpoint is gone or inactive: nothing to send."""


def _predecessor_pending(delivery: WebhookDelivery) -> WebhookDelivery | None:
    if not delivery.event.key:
        return None
    return (
        WebhookDelivery.objects.filter(
            endpoint_id=delivery.endpoint_id,
            event__key=delivery.event.key,
            status=DeliveryStatus.PENDING,
            pk__lt=delivery.pk,
        )
        .order_by("pk")
        .first()
    )


def webhook_deliver(message) -> dict[str, Any]:
    """Outbox handler of kind ``webhook``: POST the event to the endpoint, signed.

    2xx: delivered. 5xx, 408, 429, a timeout or a connection error: AttemptFailed (the
    outbox retries with backoff). Any other status (3xx included: redirects are not
    followed) or a refused address: AttemptRefused, final. An earlier delivery of the
    same subject (``order:42``) to this endpoint still pending: DeliveryDeferred.
    """
    delivery = (
        WebhookDelivery.objects.select_related("endpoint", "event")
        .filter(pk=message.payload["delivery_id"])
        .first()
    )
    if delivery is None:
        raise DeliveryGone("the delivery no longer exists")
    if delivery.status != DeliveryStatus.PENDING:
        return {"skipped": delivery.status}
    endpoint = delivery.endpoint
    if not endpoint.is_active:
        raise DeliveryGone("the webhook is inactive")
    earlier = _predecessor_pending(delivery)
    if earlier is not None:
        raise DeliveryDeferred(
            min(60, 2 ** min(earlier.attempts, 6)),
            f"waiting for delivery {earlier.pk} of an earlier {delivery.event.key} event",
        )

    body = event_body(delivery.event)
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "Nexus-Event-Id": str(delivery.event_id),
        "Nexus-Event-Type": delivery.event.type,
        "Nexus-Delivery-Id": str(delivery.pk),
        "Nexus-Signature": signature_header(secret=endpoint.secret, body=body, timestamp=timestamp),
    }
    timeout = settings.NEXUS_WEBHOOKS_TIMEOUT_SECONDS
    started = time.monotonic()
    try:
        response = security.post(url=endpoint.url, body=body, headers=headers, timeout=timeout)
    except security.UnsafeUrl as exc:
        raise AttemptRefused(f"{exc.code}: {exc.message}") from exc
    except TimeoutError as exc:
        raise AttemptFailed(
            f"timeout after {timeout}s", duration_ms=int((time.monotonic() - started) * 1000)
        ) from exc
    except (OSError, http.client.HTTPException) as exc:
        raise AttemptFailed(
            f"{type(exc).__name__}: {exc}", duration_ms=int((time.monotonic() - started) * 1000)
        ) from exc

    if 200 <= response.status < 300:
        now = timezone.now()
        _log_attempt(delivery, response=response, now=now)
        delivery.status = DeliveryStatus.DELIVERED
        delivery.delivered_at = now
        delivery.last_error = ""
        delivery.save()
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(failure_count=0, last_delivery_at=now)
        return {"status": response.status, "duration_ms": response.duration_ms}
    if response.status >= 500 or response.status in RETRY_STATUSES:
        raise AttemptFailed(f"HTTP {response.status}", response=response)
    raise AttemptRefused(f"HTTP {response.status} (final)", response=response)


def _log_attempt(
    delivery: WebhookDelivery,
    *,
    response: security.Response | None,
    now: datetime,
    duration_ms: int | None = None,
) -> None:
    delivery.attempts += 1
    delivery.last_attempt_at = now
    delivery.response_status = response.status if response else None
    delivery.duration_ms = response.duration_ms if response else duration_ms
    delivery.response_body = response.body[: WebhookDelivery.RESPONSE_BODY_KEEP] if response else ""


def webhook_attempt_failed(message, exc: Exception, *, final: bool) -> None:
    """Outbox failure hook of kind ``webhook`` (in the row's transaction): log the attempt
    on the delivery; when the delivery has failed for good, count it against the endpoint
    and deactivate the endpoint at the limit.

    What counts is consecutive *failed deliveries* (retries exhausted, or a final 4xx), not
    attempts: a receiver down for a minute while 20 orders are placed retries and catches
    up instead of losing its subscription.
    """
    delivery = (
        WebhookDelivery.objects.select_related("endpoint")
        .filter(pk=message.payload.get("delivery_id"))
        .first()
    )
    if delivery is None:
        return
    now = timezone.now()
    if isinstance(exc, AttemptFailed):
        _log_attempt(delivery, response=exc.response, now=now, duration_ms=exc.duration_ms)
    delivery.last_error = str(exc)[:500]
    delivery.status = DeliveryStatus.FAILED if final else DeliveryStatus.PENDING
    delivery.save()
    if final and isinstance(exc, AttemptFailed):
        _endpoint_failure_count(endpoint_id=delivery.endpoint_id, now=now)


def _endpoint_failure_count(*, endpoint_id: int, now: datetime) -> None:
    endpoint = WebhookEndpoint.objects.select_for_update().filter(pk=endpoint_id).first()
    if endpoint is None:
        return
    endpoint.failure_count += 1
    limit = settings.NEXUS_WEBHOOKS_DEACTIVATE_AFTER
    fields = ["failure_count", "updated_at"]
    if endpoint.is_active and endpoint.failure_count >= limit:
        endpoint.is_active = False
        endpoint.deactivated_at = now
        endpoint.deactivated_reason = f"{endpoint.failure_count} consecutive failed deliveries"
        fields += ["is_active", "deactivated_at", "deactivated_reason"]
        _admins_notify(endpoint)
        logger.error("webhook %s deactivated after %s failures", endpoint.pk, limit)
    endpoint.save(update_fields=fields)


def _admins_notify(endpoint: WebhookEndpoint) -> None:
    recipients = list(
        get_user_model()
        .objects.filter(is_superuser=True, is_active=True)
        .exclude(email="")
        .order_by("pk")
        .values_list("email", flat=True)
    )
    if not recipients:
        return
    email_send_on_commit(
        subject=f"Nexus webhook deactivated: {endpoint.url}",
        body=(
            f"The webhook {endpoint.url} (id {endpoint.pk}) failed "
            f"{endpoint.failure_count} consecutive times and has been deactivated.\n\n"
            "Nothing is sent to it until an admin activates it again (admin: Webhook "
            "endpoints, or PATCH /api/v1/webhooks/{id}/ with is_active=true); failed "
            "deliveries can then be redelivered.\n"
        ),
        to=recipients,
    )


@transaction.atomic
def delivery_redeliver(*, delivery: WebhookDelivery) -> WebhookDelivery:
    """Send a finished delivery again (same event id, so a receiver can drop a duplicate).

    Raises DeliveryPending (409) while it is still pending and EndpointInactive (409) when
    its endpoint is inactive.
    """
    locked = (
        WebhookDelivery.objects.select_for_update(of=("self",))
        .select_related("endpoint", "event")
        .get(pk=delivery.pk)
    )
    if locked.status == DeliveryStatus.PENDING:
        raise DeliveryPending()
    if not locked.endpoint.is_active:
        raise EndpointInactive()
    locked.status = DeliveryStatus.PENDING
    locked.last_error = ""
    locked.save(update_fields=["status", "last_error"])
    _enqueue(locked)
    return locked


# --------------------------------------------------------------------------- retention


@transaction.atomic
def deliveries_prune(*, older_than: timedelta | None = None) -> tuple[int, int]:
    """Delete finished deliveries older than ``NEXUS_WEBHOOKS_KEEP_DAYS``, then events of
    that age with no delivery left. Pending deliveries are kept. Returns both counts."""
    cutoff = timezone.now() - (older_than or timedelta(days=settings.NEXUS_WEBHOOKS_KEEP_DAYS))
    deliveries, _ = (
        WebhookDelivery.objects.filter(created_at__lt=cutoff)
        .exclude(status=DeliveryStatus.PENDING)
        .delete()
    )
    events, _ = (
        WebhookEvent.objects.filter(created_at__lt=cutoff)
        .exclude(Exists(WebhookDelivery.objects.filter(event=OuterRef("pk"))))
        .delete()
    )
    return deliveries, events
