"""The transactional outbox: background deliveries that are never lost and never done twice.

A service that causes a delivery calls ``outbox_add(kind=..., payload=...)`` inside its own
transaction: the row commits (or rolls back) with the change that causes it. After the
commit the row's id is handed to Celery (``nexus.tasks.outbox_deliver_task``); without a
broker (``NEXUS_OUTBOX_DISPATCH=inline``, the quick start) it is delivered in-process right
after the commit instead. Delivery (``outbox_deliver``):

1. locks the row with ``SELECT ... FOR UPDATE SKIP LOCKED`` (a second copy of the task
   running at the same time finds it locked and does nothing);
2. does nothing if the row is no longer pending (a duplicate task after the first
   succeeded) or not yet due (a stray early copy during a backoff);
3. calls the handler for its ``kind``; on success marks it delivered in the same
   transaction, so exactly one task ever marks a row delivered;
4. on failure counts the attempt, stores the error and schedules the next attempt with
   exponential backoff and jitter, or marks it failed after ``max_attempts`` (or at once
   when the handler raises ``PermanentDeliveryError``). Failed rows stay in the admin,
   where "retry" (``outbox_retry``) makes them pending again.

``outbox_sweep`` (Celery beat, every minute) re-enqueues pending rows overdue by more than
``NEXUS_OUTBOX_SWEEP_AFTER_SECONDS``: the broker was down at commit time, a worker died
with the task, a message was lost. Exactly-once holds on our side (one row, one
"delivered"); a receiver can still see a duplicate if a worker dies after the SMTP server
or webhook receiver accepted the message and before the commit, which is why emails carry
a stable ``Message-ID`` and ``X-Nexus-Outbox-Id`` derived from the row.

Extension point: a new kind is a handler ``def deliver(message: OutboxMessage) -> dict |
None`` registered under its name in ``settings.NEXUS_OUTBOX_HANDLERS`` (a dotted path, so
this module imports nothing above the plumbing layer). Raise any exception to retry, or
``PermanentDeliveryError`` for a final failure; the returned dict is stored in ``result``.
Two optional additions, for kinds that keep their own delivery log (webhooks):

- ``settings.NEXUS_OUTBOX_FAILURE_HOOKS[kind]``, a dotted path to ``def hook(message, exc,
  *, final: bool)``, is called after a failed attempt inside the row's transaction (the
  handler's own writes were rolled back with its savepoint, so this is where a failed
  attempt can be recorded);
- a handler may raise ``DeliveryDeferred(seconds)``: "not now, try again later", for
  example while an earlier event of the same order is still pending. The attempt is not
  counted and the row is dispatched again after ``seconds``.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from nexus.models import OutboxMessage, OutboxStatus
from nexus.rawsql import insert_new

logger = logging.getLogger("nexus.outbox")

Handler = Callable[[OutboxMessage], dict[str, Any] | None]


class PermanentDeliveryError(Exception):
    """Raised by a handler when retrying cannot help (e.g. a webhook answered 410)."""


class UnknownOutboxKind(PermanentDeliveryError):
    pass


class DeliveryDeferred(Exception):
    """Raised by a handler to postpone a delivery by ``seconds`` without using an attempt."""

    def __init__(self, seconds: float, reason: str = ""):
        super().__init__(reason or f"deferred for {seconds:.1f}s")
        self.seconds = max(0.5, float(seconds))


# --------------------------------------------------------------------------- handlers


def _handler(kind: str) -> Handler:
    path = settings.NEXUS_OUTBOX_HANDLERS.get(kind)
    if path is None:
        raise UnknownOutboxKind(f"no handler for outbox kind {kind!r}")
    return import_string(path)


def outbox_backoff_seconds(*, attempts: int) -> float:
    """Delay before attempt ``attempts + 1``: base * 2^(attempts-1), capped, with jitter.

    "Equal jitter": half the delay is fixed, half random, so retries of many rows that
    failed together (an SMTP outage) spread out instead of hammering the server at once.
    """
    base = settings.NEXUS_OUTBOX_BACKOFF_SECONDS
    delay = min(settings.NEXUS_OUTBOX_BACKOFF_MAX_SECONDS, base * 2 ** max(0, attempts - 1))
    return delay / 2 + random.uniform(0, delay / 2)  # noqa: S311 (jitter, not crypto)


# --------------------------------------------------------------------------- dispatch

_broker_lock = threading.Lock()
_broker_down_until = 0.0


def _publish(message_id: int, *, countdown: float = 0) -> bool:
    """Hand ``message_id`` to the broker; never raises. False when it could not.

    After a failure the broker is skipped for ``NEXUS_OUTBOX_BROKER_BREAKER_SECONDS``:
    a request must not pay a connection timeout per email while the broker is down. The
    row stays pending and the sweeper enqueues it once the broker is back.
    """
    global _broker_down_until
    if time.monotonic() < _broker_down_until:
        return False
    from nexus.tasks import outbox_deliver_task

    try:
        outbox_deliver_task.apply_async(args=[message_id], countdown=countdown or None)
    except Exception as exc:
        with _broker_lock:
            first = time.monotonic() >= _broker_down_until
            _broker_down_until = time.monotonic() + settings.NEXUS_OUTBOX_BROKER_BREAKER_SECONDS
        if first:
            logger.warning(
                "broker unavailable (%s: %s); outbox rows stay pending for the sweeper",
                type(exc).__name__,
                exc,
            )
        return False
    return True


def _dispatch(message_id: int) -> None:
    if settings.NEXUS_OUTBOX_DISPATCH == "inline":
        try:
            outbox_deliver(message_id=message_id)
        except Exception:  # a delivery must never fail the request that caused it
            logger.exception("in-process delivery of outbox row %s failed", message_id)
    else:
        _publish(message_id)


def outbox_add(
    *, kind: str, payload: dict[str, Any], max_attempts: int | None = None
) -> OutboxMessage:
    """Write a delivery in the caller's transaction and dispatch it after the commit.

    ``payload`` must be JSON-serialisable and hold everything the handler needs. Rolled
    back with the caller's transaction, nothing is sent.
    """
    if kind not in settings.NEXUS_OUTBOX_HANDLERS:
        raise UnknownOutboxKind(f"no handler for outbox kind {kind!r}")
    message = insert_new(
        OutboxMessage,
        kind=kind,
        payload=payload,
        max_attempts=max_attempts or settings.NEXUS_OUTBOX_MAX_ATTEMPTS,
    )
    transaction.on_commit(lambda: _dispatch(message.pk))
    return message


# --------------------------------------------------------------------------- delivery


def outbox_deliver(*, message_id: int) -> str:
    """Deliver one row at most once; returns what happened (for logs and tests).

    ``delivered``, ``retry`` (failed, next attempt scheduled), ``failed`` (no attempts
    left, or a permanent error), ``busy`` (another task holds the row), ``done`` (no
    longer pending: delivered, failed or gone), ``not_due`` (backing off), ``deferred``
    (the handler asked to be called again later; no attempt used).
    """
    retry_in: float | None = None
    with transaction.atomic():
        message = (
            OutboxMessage.objects.select_for_update(skip_locked=True).filter(pk=message_id).first()
        )
        if message is None:
            exists = OutboxMessage.objects.filter(pk=message_id).exists()
            return "busy" if exists else "done"
        if message.status != OutboxStatus.PENDING:
            return "done"
        now = timezone.now()
        # A little early is fine: the countdown and the database clock may disagree.
        if message.next_attempt_at > now + timedelta(seconds=2):
            return "not_due"
        message.attempts += 1
        message.last_attempt_at = now
        try:
            # A savepoint: a handler's failed query must not poison the row's transaction.
            with transaction.atomic():
                result = _handler(message.kind)(message)
        except DeliveryDeferred as exc:
            retry_in = exc.seconds
            message.attempts -= 1
            message.next_attempt_at = now + timedelta(seconds=retry_in)
            message.enqueued_at = now
            outcome = "deferred"
        except Exception as exc:
            message.last_error = f"{type(exc).__name__}: {exc}"[:2000]
            permanent = isinstance(exc, PermanentDeliveryError)
            if permanent or message.attempts >= message.max_attempts:
                message.status = OutboxStatus.FAILED
                outcome = "failed"
                logger.error(
                    "outbox %s #%s failed after %s attempt(s): %s",
                    message.kind,
                    message.pk,
                    message.attempts,
                    message.last_error,
                )
            else:
                retry_in = outbox_backoff_seconds(attempts=message.attempts)
                message.next_attempt_at = now + timedelta(seconds=retry_in)
                message.enqueued_at = now
                outcome = "retry"
                logger.warning(
                    "outbox %s #%s attempt %s/%s failed (%s); next in %.1fs",
                    message.kind,
                    message.pk,
                    message.attempts,
                    message.max_attempts,
                    message.last_error,
                    retry_in,
                )
            hook_path = settings.NEXUS_OUTBOX_FAILURE_HOOKS.get(message.kind)
            if hook_path:
                import_string(hook_path)(message, exc, final=outcome == "failed")
        else:
            message.status = OutboxStatus.DELIVERED
            message.delivered_at = timezone.now()
            message.result = result
            message.last_error = ""
            outcome = "delivered"
        message.save()
    if retry_in is not None and settings.NEXUS_OUTBOX_DISPATCH != "inline":
        # Best effort: if this publish is lost, the sweeper finds the overdue row.
        _publish(message_id, countdown=retry_in)
    return outcome


def outbox_sweep(*, overdue_seconds: int | None = None, limit: int = 1000) -> int:
    """Re-dispatch pending rows overdue by more than ``overdue_seconds``; returns how many.

    A row is re-dispatched at most once per ``overdue_seconds``, so a long backlog in the
    queue is not multiplied by every sweep. Rows being delivered right now are skipped.
    """
    overdue = timedelta(
        seconds=settings.NEXUS_OUTBOX_SWEEP_AFTER_SECONDS
        if overdue_seconds is None
        else overdue_seconds
    )
    now = timezone.now()
    with transaction.atomic():
        ids = list(
            OutboxMessage.objects.select_for_update(skip_locked=True)
            .filter(status=OutboxStatus.PENDING, next_attempt_at__lte=now - overdue)
            .exclude(enqueued_at__gt=now - overdue)
            .order_by("next_attempt_at", "id")
            .values_list("id", flat=True)[:limit]
        )
        OutboxMessage.objects.filter(pk__in=ids).update(enqueued_at=now)
    for message_id in ids:
        if settings.NEXUS_OUTBOX_DISPATCH == "inline":
            outbox_deliver(message_id=message_id)
        elif not _publish(message_id):
            # Broker still down: give the rows back so the next sweep tries again.
            OutboxMessage.objects.filter(pk__in=ids, enqueued_at=now).update(enqueued_at=None)
            break
    if ids:
        logger.info("outbox sweep re-dispatched %d overdue row(s)", len(ids))
    return len(ids)


def outbox_retry(*, message_ids: list[int]) -> int:
    """Make failed rows pending again with a fresh set of attempts (the admin's action)."""
    with transaction.atomic():
        ids = list(
            OutboxMessage.objects.select_for_update()
            .filter(pk__in=message_ids, status=OutboxStatus.FAILED)
            .values_list("id", flat=True)
        )
        OutboxMessage.objects.filter(pk__in=ids).update(
            status=OutboxStatus.PENDING,
            attempts=0,
            next_attempt_at=timezone.now(),
            enqueued_at=None,
        )
        for message_id in ids:
            transaction.on_commit(lambda message_id=message_id: _dispatch(message_id))
    return len(ids)


def outbox_prune(*, older_than: timedelta | None = None) -> int:
    """Delete delivered rows older than ``NEXUS_OUTBOX_KEEP_DAYS``; failed rows are kept."""
    cutoff = timezone.now() - (older_than or timedelta(days=settings.NEXUS_OUTBOX_KEEP_DAYS))
    deleted, _ = OutboxMessage.objects.filter(
        status=OutboxStatus.DELIVERED, delivered_at__lt=cutoff
    ).delete()
    return deleted


def outbox_counts() -> dict[str, int]:
    """Rows per status, and how many pending rows are overdue (for status and health)."""
    from django.db.models import Count

    counts = dict.fromkeys(OutboxStatus.values, 0)
    for row in OutboxMessage.objects.values("status").annotate(n=Count("id")).order_by():
        counts[row["status"]] = row["n"]
    counts["overdue"] = OutboxMessage.objects.filter(
        status=OutboxStatus.PENDING,
        next_attempt_at__lt=timezone.now()
        - timedelta(seconds=settings.NEXUS_OUTBOX_SWEEP_AFTER_SECONDS),
    ).count()
    return counts
