"""Card payments end to end against localstripe: the API creates real PaymentIntents,
the test confirms them as Stripe.js would, and localstripe delivers its own signed
webhooks to a live Nexus server (or the test delivers localstripe's events itself when
it needs to choose the moment)."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.utils import timezone

from catalog.models import Product
from nexus.testing import client_for, problem_codes
from orders.models import Order, OrderEvent
from orders.tests.factories import ADDRESS, ProductFactory, fill_cart
from payments import services
from payments.models import Payment, Refund, StripeEvent
from payments.tests.helpers import (
    DECLINED_CARD,
    THREE_DS_CARD,
    WEBHOOK_URL,
    card_confirm,
    event_body,
    localstripe_event,
    localstripe_webhooks,
    post_event,
    stripe_client,
    wait_for,
)

pytestmark = [pytest.mark.localstripe, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def webhooks_to_nexus(stripe_on, live_server):
    """localstripe delivers its signed events to this test's live server."""
    localstripe_webhooks(stripe_on, target=f"{live_server.url}{WEBHOOK_URL}")


@pytest.fixture
def webhooks_held(stripe_on):
    """localstripe delivers nothing: the test hands events over when it chooses."""
    localstripe_webhooks(stripe_on, target=None)


def _place_card_order(user, *, price="19.99", quantity=1, stock=5) -> Order:
    product = ProductFactory(price=Decimal(price), stock_quantity=stock)
    fill_cart(user, (product, quantity))
    response = client_for(user).post(
        "/api/v1/orders/", {"shipping_address": ADDRESS, "payment_method": "card"}, format="json"
    )
    assert response.status_code == 201, response.content
    return Order.objects.get(pk=response.json()["id"])


def _start(user, order: Order):
    return client_for(user).post(f"/api/v1/orders/{order.pk}/payments/")


def _confirm(user, order: Order, payment_id: int):
    return client_for(user).post(f"/api/v1/orders/{order.pk}/payments/{payment_id}/confirm/")


def _paid_emails(order: Order) -> list:
    return [
        m
        for m in mail.outbox
        if m.subject == f"Payment received for your Nexus order {order.number}"
    ]


def _payment_status(order: Order) -> str:
    return Order.objects.values_list("payment_status", flat=True).get(pk=order.pk)


def test_happy_path_order_intent_confirm_webhook_paid_and_one_email(user, webhooks_to_nexus):
    order = _place_card_order(user, price="12.50", quantity=2)  # 25.00 + 9.99 shipping

    response = _start(user, order)

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["provider"] == "stripe"
    assert (body["status"], body["amount"], body["currency"]) == ("pending", "34.99", "USD")
    assert body["client_secret"].startswith(Payment.objects.get().provider_reference)
    intent = stripe_client().v1.payment_intents.retrieve(Payment.objects.get().provider_reference)
    assert (intent.amount, intent.currency) == (3499, "usd")
    assert intent.metadata["order_number"] == order.number

    confirmed = card_confirm(intent.id)
    assert confirmed.status == "succeeded"
    wait_for(lambda: _payment_status(order) == "paid", what="the succeeded webhook")

    detail = client_for(user).get(f"/api/v1/orders/{order.pk}/").json()
    assert (detail["payment_status"], detail["amount_paid"], detail["amount_refunded"]) == (
        "paid",
        "34.99",
        "0.00",
    )
    assert [(p["provider"], p["status"], p["amount"]) for p in detail["payments"]] == [
        ("stripe", "succeeded", "34.99")
    ]
    assert StripeEvent.objects.get(object_id=intent.id).outcome == "handled"
    assert OrderEvent.objects.filter(order=order, kind="payment", to_value="paid").count() == 1
    # The client's confirmation after the webhook changes nothing, and a paid order is 409.
    assert _confirm(user, order, body["id"]).json()["status"] == "succeeded"
    assert problem_codes(_start(user, order)) == (409, "order_not_payable")
    assert len(_paid_emails(order)) == 1


def test_an_open_intent_is_returned_again_not_duplicated(user, webhooks_held):
    order = _place_card_order(user)

    first, second = _start(user, order), _start(user, order)

    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json() == second.json()
    assert Payment.objects.filter(order=order).count() == 1


def test_a_declined_card_fails_then_the_customer_pays_again(user, webhooks_to_nexus):
    order = _place_card_order(user)
    first = _start(user, order).json()

    declined = card_confirm(Payment.objects.get(pk=first["id"]).provider_reference, DECLINED_CARD)

    assert getattr(declined, "code", None) == "card_declined"
    wait_for(lambda: _payment_status(order) == "failed", what="the payment_failed webhook")
    assert Payment.objects.get(pk=first["id"]).status == "failed"

    again = _start(user, order)
    assert again.status_code == 201, again.content
    second = again.json()
    assert second["id"] != first["id"] and second["client_secret"] != first["client_secret"]
    card_confirm(Payment.objects.get(pk=second["id"]).provider_reference)
    # The client tells Nexus at once; the webhook follows a second later.
    assert _confirm(user, order, second["id"]).json()["status"] == "succeeded"
    assert _payment_status(order) == "paid"
    wait_for(
        lambda: StripeEvent.objects.filter(
            object_id=Payment.objects.get(pk=second["id"]).provider_reference,
            type="payment_intent.succeeded",
        ).exists(),
        what="the succeeded webhook",
    )
    assert len(_paid_emails(order)) == 1
    events = OrderEvent.objects.filter(order=order, kind="payment")
    assert [(e.from_value, e.to_value) for e in events] == [
        ("unpaid", "failed"),
        ("failed", "paid"),
    ]


def test_3d_secure_waits_for_authentication_then_pays(user, webhooks_held):
    order = _place_card_order(user)
    started = _start(user, order).json()
    intent_id = Payment.objects.get(pk=started["id"]).provider_reference

    assert card_confirm(intent_id, THREE_DS_CARD).status == "requires_action"
    assert _confirm(user, order, started["id"]).json()["status"] == "pending"
    assert _payment_status(order) == "unpaid"

    # The customer passes the 3-D Secure page (localstripe's stand-in for it).
    stripe_client().raw_request(
        "post",
        f"/v1/payment_intents/{intent_id}/_authenticate",
        client_secret=started["client_secret"],
        success="true",
    )
    assert _confirm(user, order, started["id"]).json()["status"] == "succeeded"
    assert _payment_status(order) == "paid"


def _paid_order(user) -> tuple[Order, Payment]:
    order = _place_card_order(user)
    payment_id = _start(user, order).json()["id"]
    card_confirm(Payment.objects.get(pk=payment_id).provider_reference)
    assert _confirm(user, order, payment_id).json()["status"] == "succeeded"
    return order, Payment.objects.get(pk=payment_id)


def test_refund_part_then_the_rest_then_nothing_more(user, staff_user, webhooks_held):
    order, payment = _paid_order(user)  # 19.99 + 9.99
    staff = client_for(staff_user)
    url = f"/api/v1/orders/{order.pk}/refunds/"

    part = staff.post(url, {"amount": "5.00", "reason": "Damaged box"}, format="json")

    assert part.status_code == 201, part.content
    assert (part.json()["amount"], part.json()["status"]) == ("5.00", "succeeded")
    stored = Refund.objects.get(pk=part.json()["id"])
    at_stripe = stripe_client().v1.refunds.retrieve(stored.provider_reference)
    assert (at_stripe.amount, at_stripe.payment_intent) == (500, payment.provider_reference)
    assert _payment_status(order) == "partially_refunded"

    rest = staff.post(url, {}, format="json")

    assert (rest.status_code, rest.json()["amount"]) == (201, "24.98")
    order.refresh_from_db()
    assert (order.payment_status, order.amount_paid, order.amount_refunded) == (
        "refunded",
        Decimal("29.98"),
        Decimal("29.98"),
    )
    over = staff.post(url, {"amount": "0.01"}, format="json")
    assert problem_codes(over) == (409, "refund_exceeds_payment")
    assert over.json()["refundable"] == "0.00"
    assert Refund.objects.filter(order=order).count() == 2
    assert [e.to_value for e in OrderEvent.objects.filter(order=order, kind="payment")] == [
        "paid",
        "partially_refunded",
        "refunded",
    ]


def test_a_refund_above_what_remains_is_refused_before_reaching_stripe(
    user, staff_user, webhooks_held
):
    order, payment = _paid_order(user)
    staff = client_for(staff_user)

    response = staff.post(f"/api/v1/orders/{order.pk}/refunds/", {"amount": "30.00"}, format="json")

    assert problem_codes(response) == (409, "refund_exceeds_payment")
    assert response.json()["refundable"] == "29.98"
    assert not Refund.objects.exists()
    at_stripe = stripe_client().v1.refunds.list().data
    assert not [r for r in at_stripe if r.payment_intent == payment.provider_reference]


def test_the_refund_webhook_for_a_refund_made_here_does_not_count_it_twice(
    user, staff_user, webhooks_held, client
):
    order, _ = _paid_order(user)
    made = client_for(staff_user).post(
        f"/api/v1/orders/{order.pk}/refunds/", {"amount": "10.00"}, format="json"
    )
    refund = Refund.objects.get(pk=made.json()["id"])
    obj = stripe_client().v1.refunds.retrieve(refund.provider_reference).to_dict()

    # localstripe sends no refund webhooks: deliver Stripe's, signed as Stripe would.
    for event_type in ("refund.created", "refund.updated"):
        assert post_event(client, event_body(event_type, obj)).status_code == 200

    order.refresh_from_db()
    assert (order.amount_refunded, order.payment_status) == (Decimal("10.00"), "partially_refunded")
    assert Refund.objects.count() == 1


def test_the_admin_refund_action_uses_the_same_service(user, admin_user, webhooks_held, client):
    order, payment = _paid_order(user)
    client.force_login(admin_user)

    response = client.post(
        "/admin/payments/payment/",
        {"action": "refund_remaining", "_selected_action": [payment.pk]},
    )

    assert response.status_code == 302
    order.refresh_from_db()
    assert (order.payment_status, order.amount_refunded) == ("refunded", order.total)
    assert Refund.objects.get().provider_reference.startswith("re_")


def test_expiry_cancels_restocks_and_cancels_the_intent(user, webhooks_held):
    order = _place_card_order(user, quantity=2, stock=5)
    payment_id = _start(user, order).json()["id"]
    intent_id = Payment.objects.get(pk=payment_id).provider_reference
    Order.objects.filter(pk=order.pk).update(created_at=timezone.now() - timedelta(minutes=31))

    assert services.unpaid_orders_expire() == [order.number]

    order.refresh_from_db()
    assert order.status == "cancelled"
    assert Product.objects.get(pk=order.items.get().product_id).stock_quantity == 5
    assert "Not paid within 30 minutes" in OrderEvent.objects.get(order=order, kind="status").note
    assert Payment.objects.get(pk=payment_id).status == "cancelled"
    assert stripe_client().v1.payment_intents.retrieve(intent_id).status == "canceled"
    assert services.unpaid_orders_expire() == []


def test_a_payment_that_succeeds_after_expiry_is_refunded_and_staff_are_told(
    user, webhooks_held, client
):
    order = _place_card_order(user)
    payment_id = _start(user, order).json()["id"]
    intent_id = Payment.objects.get(pk=payment_id).provider_reference
    card_confirm(intent_id)  # paid at Stripe, but Nexus has not heard yet
    Order.objects.filter(pk=order.pk).update(created_at=timezone.now() - timedelta(minutes=45))
    assert services.unpaid_orders_expire() == [order.number]

    event = localstripe_event(intent_id, "payment_intent.succeeded")
    body = event_body(event["type"], event["data"]["object"], event_id=event["id"])
    assert post_event(client, body).json()["outcome"] == "handled"

    order.refresh_from_db()
    assert (order.status, order.payment_status) == ("cancelled", "refunded")
    assert order.amount_paid == order.amount_refunded == order.total
    refund = Refund.objects.get()
    assert refund.automatic and refund.status == "succeeded"
    at_stripe = stripe_client().v1.refunds.retrieve(refund.provider_reference)
    assert (at_stripe.amount, at_stripe.payment_intent) == (2998, intent_id)
    notes = [e.note for e in OrderEvent.objects.filter(order=order, kind="note")]
    assert any("being refunded automatically" in note for note in notes)
    assert any("Automatic refund" in note and "succeeded" in note for note in notes)
    assert _paid_emails(order) == []


def test_a_guest_pays_its_order_by_token(api_client, webhooks_held):
    product = ProductFactory(price=Decimal("15.00"), stock_quantity=3)
    added = api_client.post("/api/v1/cart/", {"product": product.pk, "quantity": 1}, format="json")
    assert added.status_code == 201, added.content
    placed = api_client.post(
        "/api/v1/orders/",
        {"shipping_address": ADDRESS, "email": "guest@example.com", "payment_method": "card"},
        format="json",
        HTTP_X_CART_TOKEN=added["X-Cart-Token"],
    )
    assert placed.status_code == 201, placed.content
    guest_token = placed.json()["guest_token"]

    started = api_client.post(f"/api/v1/orders/guest/{guest_token}/payments/")
    assert started.status_code == 201, started.content
    body = started.json()
    assert body["provider"] == "stripe" and body["client_secret"]
    order = Order.objects.get(pk=placed.json()["id"])
    assert Payment.objects.filter(order=order).count() == 1
    # The still-open intent is returned again, not a second one.
    again = api_client.post(f"/api/v1/orders/guest/{guest_token}/payments/")
    assert again.status_code == 200 and again.json()["id"] == body["id"]
    assert problem_codes(api_client.post(f"/api/v1/orders/guest/{'x' * 43}/payments/")) == (
        404,
        "not_found",
    )
