"""What Nexus sends to Stripe, read off the wire: a recording HTTP server on 127.0.0.1
stands in for the API (localstripe ignores Idempotency-Key, so it cannot show it). Every
POST carries our Idempotency-Key, the amount in minor units and the order number, and
the library's own retry after a 500 reuses the same key."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import pytest

from orders.tests.factories import place_order
from payments import services
from payments.models import Payment, Refund

pytestmark = pytest.mark.django_db


class _Recorder(BaseHTTPRequestHandler):
    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = parse_qs(self.rfile.read(length).decode())
        server = self.server
        server.requests.append((self.path, dict(self.headers), body))
        if server.fail_first and len(server.requests) == 1:
            self._answer(500, {"error": {"type": "api_error", "message": "try again"}})
            return
        if self.path == "/v1/payment_intents":
            self._answer(
                200,
                {
                    "id": "pi_wire_1",
                    "object": "payment_intent",
                    "status": "requires_payment_method",
                    "amount": int(body["amount"][0]),
                    "currency": body["currency"][0],
                    "client_secret": "pi_wire_1_secret_abc",
                },
            )
        elif self.path == "/v1/refunds":
            self._answer(
                200,
                {
                    "id": "re_wire_1",
                    "object": "refund",
                    "status": "succeeded",
                    "amount": int(body["amount"][0]),
                    "currency": "usd",
                    "payment_intent": body["payment_intent"][0],
                },
            )
        else:
            self._answer(404, {"error": {"type": "invalid_request_error", "message": "no"}})

    def _answer(self, status: int, payload: dict) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def wire(settings):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    server.requests, server.fail_first = [], False
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.STRIPE_API_BASE = f"http://127.0.0.1:{server.server_address[1]}"
    settings.STRIPE_SECRET_KEY = "sk_test_wire"
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def test_a_payment_intent_is_created_in_minor_units_with_our_key(user, wire):
    order = place_order(user)

    payment, created = services.payment_start(order=order)

    assert created and payment.provider_reference == "pi_wire_1"
    [(path, headers, body)] = wire.requests
    assert path == "/v1/payment_intents"
    assert headers["Idempotency-Key"] == f"nexus-payment-{payment.pk}"
    assert headers["Authorization"] == "Bearer sk_test_wire"
    assert body["amount"] == ["1999"] and body["currency"] == ["usd"]
    assert body["metadata[order_number]"] == [order.number]
    assert body["metadata[nexus_payment_id]"] == [str(payment.pk)]


def test_the_librarys_retry_after_a_500_reuses_the_same_key(user, wire, settings):
    settings.STRIPE_MAX_NETWORK_RETRIES = 1
    wire.fail_first = True
    order = place_order(user)

    payment, _ = services.payment_start(order=order)

    keys = [headers["Idempotency-Key"] for _, headers, _ in wire.requests]
    assert keys == [f"nexus-payment-{payment.pk}"] * 2
    assert Payment.objects.get().provider_reference == "pi_wire_1"


def test_a_refund_is_sent_with_its_own_key_and_the_intent(user, staff_user, wire):
    order = place_order(user)
    payment, _ = services.payment_start(order=order)
    services._intent_succeeded(
        payment_id=payment.pk,
        intent=services.Intent(
            id="pi_wire_1",
            status="succeeded",
            amount=1999,
            amount_received=1999,
            currency="USD",
            client_secret="",
            failure_message="",
        ),
        source="test",
    )

    refund = services.refund_create(order=order, actor=staff_user, amount=None)

    path, headers, body = wire.requests[-1]
    assert path == "/v1/refunds"
    assert headers["Idempotency-Key"] == f"nexus-refund-{refund.pk}"
    assert body["payment_intent"] == ["pi_wire_1"] and body["amount"] == ["1999"]
    assert body["metadata[nexus_refund_id]"] == [str(refund.pk)]
    assert Refund.objects.get().provider_reference == "re_wire_1"
