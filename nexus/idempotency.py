"""``Idempotency-Key`` for unsafe POSTs that create things (orders, reviews).

Decorate a view method with ``@idempotent``. Without the header the request runs as
usual. With it, per user:

1. the key is claimed by an INSERT that commits on its own (autocommit), so a concurrent request
   with the same key sees the claim at once;
2. a completed key with the same request (method, path, body) replays the stored
   response (header ``Idempotent-Replayed: true``); a different request gets 422
   ``idempotency_key_mismatch``; a claim still running gets 409 ``idempotency_key_in_use``;
3. the view runs inside a transaction that also stores its 2xx response on the key, by a
   conditional update on the claim token: the side effects and the stored response commit
   together or not at all, so a retry can never do the work twice;
4. a failed request (any 4xx/5xx, for example ``out_of_stock`` or ``cart_empty``) changed
   nothing, so its claim is released and the client may retry with the same key.

A claim left behind by a crashed worker is taken over after ``NEXUS_IDEMPOTENCY_LEASE_SECONDS``
(default 60); keys expire after ``NEXUS_IDEMPOTENCY_TTL_HOURS`` (default 24) and are deleted by
``manage.py idempotency_prune``.
"""

import contextlib
import functools
import hashlib
import json
import logging
import uuid
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import DatabaseError, IntegrityError, transaction
from django.http import QueryDict
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework.response import Response

from nexus.exceptions import IdempotencyKeyInUse, IdempotencyKeyMismatch, InvalidIdempotencyKey
from nexus.models import IdempotencyKey, IdempotencyStatus
from nexus.rawsql import insert_new, update_where

logger = logging.getLogger("nexus.idempotency")

HEADER = "Idempotency-Key"
REPLAY_HEADER = "Idempotent-Replayed"

IDEMPOTENCY_KEY_PARAMETER = OpenApiParameter(
    name=HEADER,
    type=OpenApiTypes.STR,
    location=OpenApiParameter.HEADER,
    required=False,
    description=(
        "Makes retries safe. Same key and same body within 24 hours: the first response "
        "is replayed (with `Idempotent-Replayed: true`) and nothing runs twice. Same key, "
        "different body: 422 `idempotency_key_mismatch`. First request still running: 409 "
        "`idempotency_key_in_use` (retry after `Retry-After`). Only successful responses "
        "are stored: after an error (for example 409 `out_of_stock`) nothing changed and "
        "the same key may be retried. Keys are per user, 1-255 printable ASCII characters."
    ),
)


def ttl() -> timedelta:
    return timedelta(hours=int(settings.NEXUS_IDEMPOTENCY_TTL_HOURS))


def _lease() -> timedelta:
    return timedelta(seconds=int(settings.NEXUS_IDEMPOTENCY_LEASE_SECONDS))


def request_fingerprint(request) -> str:
    data: Any = request.data
    if isinstance(data, QueryDict):
        data = {key: data.getlist(key) for key in sorted(data)}
    canonical = json.dumps(
        {"method": request.method, "path": request.path, "body": data},
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def _valid_key(raw: str | None) -> str:
    if raw is None or not 1 <= len(raw) <= 255 or not all(" " <= ch <= "~" for ch in raw):
        raise InvalidIdempotencyKey()
    return raw


def idempotency_claim(*, user, key: str, request_hash: str) -> IdempotencyKey:
    """Claim ``key`` for ``user``; returns the row (completed: replay it; else: ours).

    Raises IdempotencyKeyMismatch (422) or IdempotencyKeyInUse (409).
    """
    for _ in range(3):
        now = timezone.now()
        try:
            # Outside a transaction (a request) the INSERT commits on its own: no
            # BEGIN/COMMIT around it. Inside one, a savepoint keeps a duplicate key from
            # breaking the caller's transaction.
            with (
                transaction.atomic()
                if transaction.get_connection().in_atomic_block
                else (contextlib.nullcontext())
            ):
                return insert_new(
                    IdempotencyKey,
                    user=user,
                    key=key,
                    request_hash=request_hash,
                    created_at=now,
                    locked_at=now,
                )
        except IntegrityError:
            pass
        row = IdempotencyKey.objects.filter(user=user, key=key).first()
        if row is None:  # released or pruned in between: try the insert again
            continue
        if row.created_at <= now - ttl():
            # Expired but not yet pruned: the key is free again.
            IdempotencyKey.objects.filter(pk=row.pk, created_at=row.created_at).delete()
            continue
        if row.request_hash != request_hash:
            raise IdempotencyKeyMismatch()
        if row.status == IdempotencyStatus.COMPLETED:
            return row
        if row.locked_at > now - _lease():
            raise IdempotencyKeyInUse()
        # A claim abandoned by a dead worker (its transaction rolled back): take it over.
        token = uuid.uuid4()
        taken = IdempotencyKey.objects.filter(
            pk=row.pk, status=IdempotencyStatus.IN_PROGRESS, claim_token=row.claim_token
        ).update(claim_token=token, locked_at=now)
        if taken:
            row.claim_token, row.locked_at = token, now
            return row
    raise IdempotencyKeyInUse()


def idempotency_is_replay(request) -> bool:
    """True when ``request`` carries a key whose response is stored: a retry to be replayed.

    Lets a view exempt replays from per-action throttles (a client retrying after a lost
    response must get the stored answer, not a 429)."""
    raw = request.headers.get(HEADER)
    if not raw or not request.user.is_authenticated:
        return False
    return IdempotencyKey.objects.filter(
        user=request.user,
        key=raw,
        status=IdempotencyStatus.COMPLETED,
        created_at__gt=timezone.now() - ttl(),
    ).exists()


def idempotency_release(*, claim: IdempotencyKey) -> None:
    """Drop an unfinished claim so that the client may retry with the same key."""
    IdempotencyKey.objects.filter(
        pk=claim.pk, status=IdempotencyStatus.IN_PROGRESS, claim_token=claim.claim_token
    ).delete()


def _replay(row: IdempotencyKey) -> Response:
    return Response(row.response_body, status=row.response_status, headers={REPLAY_HEADER: "true"})


class _ClaimLost(Exception):
    """Our claim was taken over while we ran: roll our work back and replay the winner."""


def idempotent(view_method):
    """Decorator for a DRF view method (``create``, ``post``) that creates something."""

    @functools.wraps(view_method)
    def wrapper(self, request, *args, **kwargs):
        raw = request.headers.get(HEADER)
        if raw is None or not request.user.is_authenticated:
            return view_method(self, request, *args, **kwargs)
        key = _valid_key(raw)
        claim = idempotency_claim(
            user=request.user, key=key, request_hash=request_fingerprint(request)
        )
        if claim.status == IdempotencyStatus.COMPLETED:
            return _replay(claim)
        try:
            with transaction.atomic():
                response = view_method(self, request, *args, **kwargs)
                if 200 <= response.status_code < 300:
                    stored = update_where(
                        IdempotencyKey,
                        {
                            "status": IdempotencyStatus.COMPLETED,
                            "response_status": response.status_code,
                            "response_body": response.data,
                        },
                        {
                            "id": claim.pk,
                            "status": IdempotencyStatus.IN_PROGRESS,
                            "claim_token": claim.claim_token,
                        },
                    )
                    if not stored:
                        raise _ClaimLost()
        except _ClaimLost:
            row = IdempotencyKey.objects.get(pk=claim.pk)
            if row.status == IdempotencyStatus.COMPLETED:
                return _replay(row)
            raise IdempotencyKeyInUse() from None
        except BaseException:
            try:
                idempotency_release(claim=claim)
            except DatabaseError:
                # The original error matters more; the claim frees itself after the lease.
                logger.warning("could not release idempotency key %s", claim.pk, exc_info=True)
            raise
        if not 200 <= response.status_code < 300:
            idempotency_release(claim=claim)
        return response

    return wrapper


def idempotency_prune(*, older_than: timedelta | None = None) -> int:
    """Delete keys older than the TTL; returns how many were deleted."""
    cutoff = timezone.now() - (older_than if older_than is not None else ttl())
    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=cutoff).delete()
    return deleted
