"""Helpers of the payment tests: acting as Stripe.js (confirming a card at localstripe)
and as Stripe (webhook events signed with the endpoint secret)."""

import hashlib
import hmac
import json
import time
import urllib.request

import stripe
from django.conf import settings

WEBHOOK_URL = "/api/v1/payments/stripe/webhook/"
SECRET = "whsec_test_nexus_offline"
GOOD_CARD = "4242424242424242"
DECLINED_CARD = "4000000000000341"  # attaches, then the charge is declined
THREE_DS_CARD = "4000002500003155"  # requires authentication (3-D Secure)


def stripe_client() -> stripe.StripeClient:
    """What a browser's Stripe.js (and a test looking at Stripe's side) would talk to."""
    return stripe.StripeClient(
        settings.STRIPE_SECRET_KEY, base_addresses={"api": settings.STRIPE_API_BASE}
    )


def localstripe_webhooks(url: str, *, target: str | None, events: list[str] | None = None):
    """Tell localstripe where to deliver its signed events (``target=None``: nowhere)."""
    fields = {"url": target or "http://127.0.0.1:9/nowhere", "secret": SECRET}
    body = "&".join(f"{k}={v}" for k, v in fields.items())
    if target is None:
        body += "&events[]=none.none"  # a type that never happens: deliver nothing
    for event in events or []:
        body += f"&events[]={event}"
    request = urllib.request.Request(  # noqa: S310 (loopback localstripe)
        f"{url}/_config/webhooks/nexus", data=body.encode(), method="POST"
    )
    with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 (loopback)
        assert response.status == 200


def card_confirm(intent_id: str, number: str = GOOD_CARD):
    """Do what Stripe.js does with the client secret: attach a card, confirm the intent.
    Returns the intent, or the CardError of a declined card."""
    client = stripe_client()
    method = client.v1.payment_methods.create(
        params={
            "type": "card",
            "card": {"number": number, "exp_month": 12, "exp_year": 2034, "cvc": "123"},
        }
    )
    client.v1.payment_intents.update(intent_id, params={"payment_method": method.id})
    try:
        return client.v1.payment_intents.confirm(intent_id)
    except stripe.CardError as exc:
        return exc


def localstripe_event(intent_id: str, event_type: str) -> dict:
    """The event localstripe generated about ``intent_id`` (to deliver it ourselves)."""
    client = stripe_client()
    # Filtered by type and paged through: the first page (10 by default) of a localstripe
    # shared by a whole test run can hold only other tests' events (a flaky miss under -n 2).
    events = client.v1.events.list(params={"type": event_type, "limit": 100})
    for event in events.auto_paging_iter():
        data = event.to_dict()
        if data["type"] == event_type and data["data"]["object"]["id"] == intent_id:
            return data
    raise AssertionError(f"no {event_type} event for {intent_id}")


def signature_for(payload: bytes, *, secret: str = SECRET, timestamp: int | None = None) -> str:
    """A ``Stripe-Signature`` header as Stripe computes it (HMAC-SHA256 of "t.body")."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(
        secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256
    ).hexdigest()
    return f"t={timestamp},v1={digest}"


def event_body(event_type: str, obj: dict, *, event_id: str | None = None) -> bytes:
    event_id = event_id or f"evt_test_{time.monotonic_ns()}"
    return json.dumps(
        {
            "id": event_id,
            "object": "event",
            "type": event_type,
            "created": int(time.time()),
            "livemode": False,
            "data": {"object": obj},
        }
    ).encode()


def post_event(client, body: bytes, *, signature: str | None = None):
    """POST a webhook body as Stripe does (correctly signed unless told otherwise)."""
    headers = {"HTTP_STRIPE_SIGNATURE": signature or signature_for(body)}
    return client.generic("POST", WEBHOOK_URL, body, content_type="application/json", **headers)


def intent_object(payment, *, status: str = "succeeded", amount: int | None = None, **extra):
    """A PaymentIntent object as a webhook carries it, for one of our payments."""
    from payments.providers import to_minor_units

    minor = to_minor_units(payment.amount, payment.currency) if amount is None else amount
    obj = {
        "id": payment.provider_reference,
        "object": "payment_intent",
        "amount": minor,
        "amount_received": minor if status == "succeeded" else 0,
        "currency": payment.currency.lower(),
        "status": status,
        "metadata": {"order_number": payment.order.number},
    }
    obj.update(extra)
    return obj


def wait_for(predicate, *, timeout: float = 15.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")
