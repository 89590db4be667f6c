"""The payment-provider interface and its two providers.

``manual``: bank transfer and cash on delivery; staff record the money by hand, nothing
is called. ``stripe``: cards through Stripe PaymentIntents with the official library,
pointed at ``STRIPE_API_BASE``. Every POST to Stripe carries an Idempotency-Key chosen by
the caller from our own row ids, so a retried request can never charge or refund twice
(GETs are idempotent by nature). Provider answers come back as small dataclasses, so the
services never handle the library's objects.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Protocol

import stripe
from django.conf import settings

from orders.choices import ONLINE_PAYMENT_METHODS
from payments.choices import Provider
from payments.errors import PaymentProviderError, WebhookNotConfigured, WebhookSignatureInvalid

logger = logging.getLogger("nexus.payments")

# Stripe's minor units: most currencies have cents, these have none, these have three
# decimals (where Stripe wants the last digit 0, which two-decimal prices always give).
ZERO_DECIMAL_CURRENCIES = frozenset(
    "BIF CLP DJF GNF JPY KMF KRW MGA PYG RWF UGX VND VUV XAF XOF XPF".split()  # noqa: SIM905
)
THREE_DECIMAL_CURRENCIES = frozenset(["BHD", "JOD", "KWD", "OMR", "TND"])


def to_minor_units(amount: Decimal, currency: str) -> int:
    """``Decimal("19.99")``, ``"USD"`` -> ``1999`` (rounded once, half up)."""
    code = currency.upper()
    exponent = (
        0 if code in ZERO_DECIMAL_CURRENCIES else 3 if code in THREE_DECIMAL_CURRENCIES else 2
    )
    return int((amount * (10**exponent)).quantize(Decimal("1"), rounding=ROUND_HALF_UP))


def from_minor_units(amount: int, currency: str) -> Decimal:
    code = currency.upper()
    exponent = (
        0 if code in ZERO_DECIMAL_CURRENCIES else 3 if code in THREE_DECIMAL_CURRENCIES else 2
    )
    return (Decimal(amount) / (10**exponent)).quantize(Decimal("0.01"))


@dataclass(frozen=True)
class Intent:
    """What the services need of a PaymentIntent."""

    id: str
    status: str  # Stripe's: requires_payment_method, requires_action, processing, succeeded...
    amount: int
    amount_received: int
    currency: str
    client_secret: str
    failure_message: str

    @classmethod
    def from_stripe(cls, data: dict[str, Any]) -> Intent:
        error = data.get("last_payment_error") or {}
        amount = int(data.get("amount") or 0)
        received = data.get("amount_received")
        if received is None:
            # Absent from some servers' objects (localstripe): a succeeded automatic-capture
            # intent received its amount.
            received = amount if data.get("status") == "succeeded" else 0
        return cls(
            id=str(data["id"]),
            status=str(data.get("status") or ""),
            amount=amount,
            amount_received=int(received),
            currency=str(data.get("currency") or "").upper(),
            client_secret=str(data.get("client_secret") or ""),
            failure_message=str(error.get("message") or error.get("code") or "")[:500],
        )


@dataclass(frozen=True)
class ProviderRefund:
    id: str
    status: str  # succeeded, pending, requires_action, failed, canceled
    amount: int
    currency: str
    payment_intent: str
    nexus_refund_id: int | None

    @classmethod
    def from_stripe(cls, data: dict[str, Any]) -> ProviderRefund:
        metadata = data.get("metadata") or {}
        raw_id = str(metadata.get("nexus_refund_id") or "")
        return cls(
            id=str(data["id"]),
            status=str(data.get("status") or ""),
            amount=int(data.get("amount") or 0),
            currency=str(data.get("currency") or "").upper(),
            payment_intent=str(data.get("payment_intent") or ""),
            nexus_refund_id=int(raw_id) if raw_id.isdigit() else None,
        )


class PaymentProvider(Protocol):
    name: str
    online: bool

    def available(self) -> bool: ...

    def intent_create(
        self, *, amount: int, currency: str, metadata: dict[str, str], idempotency_key: str
    ) -> Intent: ...

    def intent_retrieve(self, intent_id: str) -> Intent: ...

    def intent_cancel(self, intent_id: str, *, idempotency_key: str) -> Intent: ...

    def refund_create(
        self, *, intent_id: str, amount: int, metadata: dict[str, str], idempotency_key: str
    ) -> ProviderRefund: ...


class ManualProvider:
    """Staff take the money (bank transfer, cash on delivery) and record it by hand."""

    name = Provider.MANUAL
    online = False

    def available(self) -> bool:
        return True

    def _offline(self, *args, **kwargs):
        raise PaymentProviderError("Manual payments are recorded by staff, not by a provider.")

    intent_create = intent_retrieve = intent_cancel = refund_create = _offline


class StripeProvider:
    """Cards through Stripe PaymentIntents."""

    name = Provider.STRIPE
    online = True

    def available(self) -> bool:
        return bool(settings.STRIPE_SECRET_KEY)

    def _client(self) -> stripe.StripeClient:
        return stripe.StripeClient(
            settings.STRIPE_SECRET_KEY,
            base_addresses={"api": settings.STRIPE_API_BASE},
            max_network_retries=settings.STRIPE_MAX_NETWORK_RETRIES,
            http_client=stripe.new_default_http_client(timeout=settings.STRIPE_TIMEOUT_SECONDS),
        )

    def _call(self, what: str, function, *args, **kwargs):
        try:
            return function(*args, **kwargs).to_dict()
        except stripe.StripeError as exc:
            logger.warning("stripe %s failed: %s", what, exc)
            reason = exc.user_message or exc.code or "error"
            raise PaymentProviderError(
                f"Stripe refused or did not answer ({what}): {reason}."
            ) from exc

    def intent_create(
        self, *, amount: int, currency: str, metadata: dict[str, str], idempotency_key: str
    ) -> Intent:
        client = self._client()
        data = self._call(
            "create the PaymentIntent",
            client.v1.payment_intents.create,
            params={
                "amount": amount,
                "currency": currency.lower(),
                "metadata": metadata,
                "payment_method_types": ["card"],
            },
            options={"idempotency_key": idempotency_key},
        )
        return Intent.from_stripe(data)

    def intent_retrieve(self, intent_id: str) -> Intent:
        client = self._client()
        return Intent.from_stripe(
            self._call("read the PaymentIntent", client.v1.payment_intents.retrieve, intent_id)
        )

    def intent_cancel(self, intent_id: str, *, idempotency_key: str) -> Intent:
        client = self._client()
        return Intent.from_stripe(
            self._call(
                "cancel the PaymentIntent",
                client.v1.payment_intents.cancel,
                intent_id,
                options={"idempotency_key": idempotency_key},
            )
        )

    def refund_create(
        self, *, intent_id: str, amount: int, metadata: dict[str, str], idempotency_key: str
    ) -> ProviderRefund:
        client = self._client()
        data = self._call(
            "create the refund",
            client.v1.refunds.create,
            params={"payment_intent": intent_id, "amount": amount, "metadata": metadata},
            options={"idempotency_key": idempotency_key},
        )
        return ProviderRefund.from_stripe(data)

    @staticmethod
    def webhook_event(payload: bytes, signature: str | None) -> dict[str, Any]:
        """The verified event (``stripe.Webhook.construct_event`` on the raw body), or
        WebhookSignatureInvalid (400) / WebhookNotConfigured (503)."""
        secret = settings.STRIPE_WEBHOOK_SECRET
        if not secret:
            raise WebhookNotConfigured()
        if not signature:
            raise WebhookSignatureInvalid("The Stripe-Signature header is missing.")
        try:
            # construct_event assumes a JSON object once the signature holds; anything else
            # (an array, a number) would crash it: refuse it here as "not an event".
            parsed = json.loads(payload)
        except ValueError as exc:
            raise WebhookSignatureInvalid("The body is not a Stripe event.") from exc
        if not isinstance(parsed, dict):
            raise WebhookSignatureInvalid("The body is not a Stripe event.")
        try:
            event = stripe.Webhook.construct_event(
                payload, signature, secret, tolerance=settings.STRIPE_WEBHOOK_TOLERANCE_SECONDS
            )
        except stripe.SignatureVerificationError as exc:
            raise WebhookSignatureInvalid(
                f"Signature check failed: {exc.user_message or exc}"
            ) from exc
        except ValueError as exc:  # signed, but not a JSON event
            raise WebhookSignatureInvalid("The body is not a Stripe event.") from exc
        data = event.to_dict()
        if not isinstance(data.get("id"), str) or not isinstance(data.get("type"), str):
            raise WebhookSignatureInvalid("The body is not a Stripe event.")
        return data


MANUAL = ManualProvider()
STRIPE = StripeProvider()


def provider_for(payment_method: str) -> PaymentProvider:
    """``card`` -> Stripe; every other method is recorded by staff."""
    return STRIPE if payment_method in ONLINE_PAYMENT_METHODS else MANUAL


def provider_named(name: str) -> PaymentProvider:
    return STRIPE if name == Provider.STRIPE else MANUAL
