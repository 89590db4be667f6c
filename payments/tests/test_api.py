"""The payment endpoints' rules that need no provider: who may call them, which orders
can be paid, card payments switched off, refunds of orders paid by hand, the order's
new fields, minor units and the expiry job's choices."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.utils import timezone

from catalog.models import Product
from nexus.testing import problem_codes
from orders import services as order_services
from orders.models import Order, OrderEvent
from orders.tests.factories import ADDRESS, ProductFactory, fill_cart, place_order
from payments import services
from payments.models import Payment, Refund
from payments.providers import from_minor_units, to_minor_units
from payments.tests.factories import PaymentFactory

pytestmark = pytest.mark.django_db


def _pay_url(order) -> str:
    return f"/api/v1/orders/{order.pk}/payments/"


def _refund_url(order) -> str:
    return f"/api/v1/orders/{order.pk}/refunds/"


def test_checkout_refuses_card_while_card_payments_are_off(user_client, user, settings):
    settings.STRIPE_SECRET_KEY = ""
    fill_cart(user, (ProductFactory(), 1))

    response = user_client.post(
        "/api/v1/orders/", {"shipping_address": ADDRESS, "payment_method": "card"}, format="json"
    )

    assert problem_codes(response) == (400, "payment_method_unavailable")
    assert not Order.objects.exists()
    other = user_client.post(
        "/api/v1/orders/",
        {"shipping_address": ADDRESS, "payment_method": "bank_transfer"},
        format="json",
    )
    assert other.status_code == 201


def test_starting_a_payment_needs_login_and_the_owner(api_client, other_client, staff_client, user):
    order = place_order(user)

    assert api_client.post(_pay_url(order)).status_code == 401
    assert problem_codes(other_client.post(_pay_url(order))) == (404, "not_found")
    assert problem_codes(staff_client.post(_pay_url(order))) == (403, "permission_denied")
    assert problem_codes(other_client.post("/api/v1/orders/999999/payments/"))[0] == 404


@pytest.mark.parametrize(
    "change, code",
    [
        ({"status": "cancelled"}, "order_not_payable"),
        ({"payment_status": "paid"}, "order_not_payable"),
        ({"payment_status": "refunded"}, "order_not_payable"),
        ({"payment_method": "bank_transfer"}, "payment_method_not_online"),
        ({"payment_method": "cash_on_delivery"}, "payment_method_not_online"),
    ],
)
def test_orders_that_cannot_be_paid_online_are_409(user_client, user, change, code):
    order = place_order(user)
    Order.objects.filter(pk=order.pk).update(**change)

    assert problem_codes(user_client.post(_pay_url(order))) == (409, code)
    assert not Payment.objects.exists()


def test_a_card_order_placed_before_stripe_was_switched_off_is_400(user_client, user, settings):
    order = place_order(user)
    settings.STRIPE_SECRET_KEY = ""

    assert problem_codes(user_client.post(_pay_url(order))) == (400, "payment_method_unavailable")


def test_stripe_unreachable_is_a_502_and_the_retry_reuses_the_payment(user_client, user, settings):
    settings.STRIPE_MAX_NETWORK_RETRIES = 0  # the API base is a closed port in tests
    order = place_order(user)

    first = user_client.post(_pay_url(order))
    second = user_client.post(_pay_url(order))

    assert problem_codes(first) == (502, "payment_provider_error")
    assert problem_codes(second) == (502, "payment_provider_error")
    payment = Payment.objects.get()
    assert (payment.status, payment.provider_reference) == ("pending", "")


def test_one_pending_payment_per_order_is_a_database_rule(user):
    from django.db import IntegrityError, transaction

    order = place_order(user)
    PaymentFactory(order=order)
    with pytest.raises(IntegrityError), transaction.atomic():
        PaymentFactory(order=order)
    PaymentFactory(order=order, status="failed")  # closed ones may be many


def test_a_provider_reference_is_stored_once(user):
    from django.db import IntegrityError, transaction

    PaymentFactory(order=place_order(user), provider_reference="pi_same", status="failed")
    with pytest.raises(IntegrityError), transaction.atomic():
        PaymentFactory(order=place_order(user), provider_reference="pi_same")


def test_the_order_shows_its_payments_and_money(user_client, user):
    order = place_order(user)
    payment = PaymentFactory(order=order, status="failed")

    body = user_client.get(f"/api/v1/orders/{order.pk}/").json()

    assert body["payments"] == [
        {
            "id": payment.pk,
            "provider": "stripe",
            "status": "failed",
            "amount": "19.99",
            "created_at": body["payments"][0]["created_at"],
        }
    ]
    assert (body["amount_paid"], body["amount_refunded"]) == ("0.00", "0.00")


def test_the_order_list_costs_the_same_queries_whatever_the_payments(
    user_client, user, django_assert_max_num_queries
):
    for _ in range(3):
        PaymentFactory(order=place_order(user), status="failed")
    with django_assert_max_num_queries(8):
        assert user_client.get("/api/v1/orders/").status_code == 200


# --------------------------------------------------------------------------- refunds


@pytest.fixture
def paid_by_hand(user, staff_user):
    order = place_order(user, payment_method="bank_transfer")
    return order_services.order_mark_paid(order=order, actor=staff_user, reference="BANK-1")


def test_refunds_are_for_staff_only(user_client, other_client, paid_by_hand):
    assert problem_codes(user_client.post(_refund_url(paid_by_hand), {}))[0] == 403
    assert problem_codes(other_client.post(_refund_url(paid_by_hand), {}))[0] == 404


def test_a_manual_payment_is_refunded_in_parts_and_never_beyond(staff_client, paid_by_hand):
    url = _refund_url(paid_by_hand)
    assert Order.objects.get(pk=paid_by_hand.pk).amount_paid == Decimal("19.99")

    part = staff_client.post(url, {"amount": "4.99", "reason": "late"}, format="json")
    assert part.status_code == 201, part.content
    assert part.json()["status"] == "succeeded"
    assert Order.objects.get(pk=paid_by_hand.pk).payment_status == "partially_refunded"

    too_much = staff_client.post(url, {"amount": "15.01"}, format="json")
    assert problem_codes(too_much) == (409, "refund_exceeds_payment")
    assert too_much.json()["refundable"] == "15.00"

    rest = staff_client.post(url, {}, format="json")
    assert (rest.status_code, rest.json()["amount"]) == (201, "15.00")
    order = Order.objects.get(pk=paid_by_hand.pk)
    assert (order.payment_status, order.amount_refunded) == ("refunded", Decimal("19.99"))
    assert problem_codes(staff_client.post(url, {}, format="json")) == (
        409,
        "refund_exceeds_payment",
    )
    assert [e.to_value for e in OrderEvent.objects.filter(order=order, kind="payment")] == [
        "paid",
        "partially_refunded",
        "refunded",
    ]


def test_a_refund_retried_with_its_idempotency_key_is_made_once(staff_client, paid_by_hand):
    url = _refund_url(paid_by_hand)
    headers = {"HTTP_IDEMPOTENCY_KEY": "refund-1"}

    first = staff_client.post(url, {"amount": "2.00"}, format="json", **headers)
    again = staff_client.post(url, {"amount": "2.00"}, format="json", **headers)

    assert (first.status_code, again.status_code) == (201, 201)
    assert again["Idempotent-Replayed"] == "true"
    assert first.json() == again.json()
    assert Refund.objects.count() == 1
    assert Order.objects.get(pk=paid_by_hand.pk).amount_refunded == Decimal("2.00")


def test_an_unpaid_order_has_nothing_to_refund(staff_client, user):
    order = place_order(user)
    assert problem_codes(staff_client.post(_refund_url(order), {}, format="json")) == (
        409,
        "refund_exceeds_payment",
    )


@pytest.mark.parametrize("amount", ["0", "-1", "abc", "0.001", "", None, "1" * 20])
def test_a_bad_refund_amount_is_a_400(staff_client, paid_by_hand, amount):
    response = staff_client.post(_refund_url(paid_by_hand), {"amount": amount}, format="json")
    assert problem_codes(response) == (400, "validation_error")
    assert not Refund.objects.exists()


# --------------------------------------------------------------------------- units


@pytest.mark.parametrize(
    "amount, currency, minor",
    [
        ("19.99", "USD", 1999),
        ("0.01", "eur", 1),
        ("1000.00", "JPY", 1000),
        ("12.34", "KWD", 12340),
        ("10.005", "USD", 1001),
    ],
)
def test_minor_units(amount, currency, minor):
    assert to_minor_units(Decimal(amount), currency) == minor
    if amount != "10.005":
        assert from_minor_units(minor, currency) == Decimal(amount).quantize(Decimal("0.01"))


# --------------------------------------------------------------------------- expiry


def _age(order, minutes: int) -> None:
    Order.objects.filter(pk=order.pk).update(created_at=timezone.now() - timedelta(minutes=minutes))


def test_expiry_cancels_old_unpaid_card_orders_only(user, settings):
    settings.NEXUS_UNPAID_ORDER_TTL_MINUTES = 30
    product = ProductFactory(stock_quantity=10)
    old = place_order(user, (product, 3))
    young = place_order(user, (ProductFactory(), 1))
    paid = place_order(user, (ProductFactory(), 1))
    by_hand = place_order(user, (ProductFactory(), 1), payment_method="bank_transfer")
    failed = place_order(user, (ProductFactory(), 1))
    for order in (old, paid, by_hand, failed):
        _age(order, 31)
    _age(young, 29)
    Order.objects.filter(pk=paid.pk).update(payment_status="paid")
    Order.objects.filter(pk=failed.pk).update(payment_status="failed")
    pending_payment = PaymentFactory(order=old, provider_reference="")

    expired = services.unpaid_orders_expire()

    assert sorted(expired) == sorted([old.number, failed.number])
    assert Product.objects.get(pk=product.pk).stock_quantity == 10
    statuses = dict(Order.objects.values_list("number", "status"))
    assert statuses[young.number] == statuses[paid.number] == statuses[by_hand.number] == "pending"
    event = OrderEvent.objects.get(order=old, kind="status", to_value="cancelled")
    assert event.actor is None and "Not paid within 30 minutes" in event.note
    assert Payment.objects.get(pk=pending_payment.pk).status == "cancelled"
    assert services.unpaid_orders_expire() == []  # once


def test_the_expiry_command_reports_what_it_did(user, capsys):
    order = place_order(user)
    _age(order, 120)

    call_command("orders_expire_unpaid")

    out = capsys.readouterr().out
    assert f"expired 1 unpaid order(s): {order.number}" in out
    assert "resent 0 automatic refund(s)" in out
