"""Checkout: snapshots, totals, addresses, refusals that change nothing, and the email."""

import re
from decimal import Decimal

import pytest
from django.core import mail

from cart.models import CartItem
from cart.tests.factories import CartFactory, CartItemFactory
from catalog.models import Product, ProductVariant
from catalog.tests.factories import ProductVariantFactory, variant_set
from nexus.testing import problem_codes
from orders import services
from orders.models import Order, OrderEvent
from orders.tests.factories import (
    ADDRESS,
    AddressFactory,
    ProductFactory,
    fill_cart,
    place_order,
)

pytestmark = pytest.mark.django_db

ORDERS = "/api/v1/orders/"


def _checkout(client, **body):
    body.setdefault("shipping_address", ADDRESS)
    body.setdefault("payment_method", "card")
    return client.post(ORDERS, body, format="json")


def test_checkout_without_login_is_a_guest_checkout(api_client):
    # v1 answered 401; since v1.1 (issue 15) it is a guest checkout, which needs an
    # email and a guest cart (X-Cart-Token).
    response = _checkout(api_client)
    assert problem_codes(response) == (400, "validation_error")
    assert response.json()["errors"][0]["field"] == "email"
    response = api_client.post(
        ORDERS,
        {"shipping_address": ADDRESS, "payment_method": "card", "email": "g@example.com"},
        format="json",
    )
    assert problem_codes(response) == (409, "cart_empty")


def test_checkout_creates_order_with_snapshots_and_empties_cart(
    user_client, user, django_capture_on_commit_callbacks
):
    mug = ProductFactory(name="Blue mug", sku="MUG-1", price=Decimal("12.50"), stock_quantity=5)
    pen = ProductFactory(name="Pen", sku="PEN-1", price=Decimal("1.25"), stock_quantity=9)
    fill_cart(user, (mug, 2), (pen, 4))

    with django_capture_on_commit_callbacks(execute=True):
        response = _checkout(user_client, note="Leave at the door")

    assert response.status_code == 201, response.content
    body = response.json()
    assert re.fullmatch(r"NX-\d{4}-\d{6,}", body["number"])
    assert body["status"] == "pending" and body["payment_status"] == "unpaid"
    assert body["payment_method"] == "card"
    assert body["subtotal"] == "30.00"
    assert body["shipping_cost"] == "9.99"
    assert body["total"] == "39.99"
    assert body["currency"] == "USD"
    assert body["note"] == "Leave at the door"
    assert body["allowed_actions"] == ["cancel"]
    assert [
        (i["product"], i["product_name"], i["sku"], i["unit_price"], i["quantity"], i["line_total"])
        for i in body["items"]
    ] == [
        (mug.id, "Blue mug", "MUG-1", "12.50", 2, "25.00"),
        (pen.id, "Pen", "PEN-1", "1.25", 4, "5.00"),
    ]
    assert body["shipping_address"] == {**ADDRESS, "street2": "", "state": "", "phone_number": ""}
    assert body["billing_address"] == body["shipping_address"]
    assert Product.objects.get(pk=mug.pk).stock_quantity == 3  # summed over its variants
    assert Product.objects.get(pk=pen.pk).stock_quantity == 5
    assert not CartItem.objects.filter(cart__user=user).exists()
    assert OrderEvent.objects.filter(order_id=body["id"], kind="placed").count() == 1
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [user.email]
    assert body["number"] in mail.outbox[0].subject
    assert "Blue mug" in mail.outbox[0].body


def test_order_keeps_its_prices_names_and_address_after_catalog_and_book_change(user):
    product = ProductFactory(name="Lamp", sku="LAMP-1", price=Decimal("40.00"))
    address = AddressFactory(user=user, city="Paris", country="FR")
    order = place_order(user, (product, 1), shipping_address=None, shipping_address_id=address.pk)

    Product.objects.filter(pk=product.pk).update(name="Lamp v2", sku="LAMP-2")
    variant_set(product, sku="LAMP-2", price=Decimal("99.00"))
    address.city = "Lyon"
    address.save()

    order.refresh_from_db()
    item = order.items.get()
    assert (item.product_name, item.sku, item.unit_price) == ("Lamp", "LAMP-1", Decimal("40.00"))
    assert order.shipping_address["city"] == "Paris"
    assert order.billing_address["city"] == "Paris"


def test_checkout_charges_the_current_price_not_the_price_when_added(user):
    product = ProductFactory(price=Decimal("10.00"))
    fill_cart(user, (product, 1))
    variant_set(product, price=Decimal("12.00"))  # prices live on variants
    order = place_order(user)  # adds one more line of a fresh product
    assert order.items.get(product=product).unit_price == Decimal("12.00")


def test_checkout_uses_address_book_ids_for_shipping_and_billing(user_client, user):
    ship = AddressFactory(user=user, city="Berlin", country="DE")
    bill = AddressFactory(user=user, city="Munich", country="DE")
    fill_cart(user, (ProductFactory(), 1))
    response = user_client.post(
        ORDERS,
        {"shipping_address_id": ship.pk, "billing_address_id": bill.pk, "payment_method": "paypal"},
    )
    assert response.status_code == 201, response.content
    assert response.json()["shipping_address"]["city"] == "Berlin"
    assert response.json()["billing_address"]["city"] == "Munich"


def test_checkout_falls_back_to_the_default_shipping_address(user_client, user):
    AddressFactory(user=user, city="Rome", country="IT", is_default_shipping=True)
    fill_cart(user, (ProductFactory(), 1))
    response = user_client.post(ORDERS, {"payment_method": "bank_transfer"})
    assert response.status_code == 201, response.content
    assert response.json()["shipping_address"]["city"] == "Rome"


def test_checkout_without_any_address_is_400(user_client, user):
    fill_cart(user, (ProductFactory(), 1))
    response = user_client.post(ORDERS, {"payment_method": "card"})
    assert problem_codes(response) == (400, "validation_error")
    assert response.json()["errors"][0]["field"] == "shipping_address"
    assert not Order.objects.exists()


def test_checkout_refuses_another_users_address_id(user_client, user, other_user):
    theirs = AddressFactory(user=other_user)
    product = ProductFactory(stock_quantity=3)
    fill_cart(user, (product, 1))
    for body in (
        {"shipping_address_id": theirs.pk},
        {"shipping_address_id": 999999},
        {"shipping_address": ADDRESS, "billing_address_id": theirs.pk},
    ):
        response = user_client.post(ORDERS, {**body, "payment_method": "card"}, format="json")
        assert problem_codes(response) == (400, "validation_error")
        assert response.json()["errors"][0]["code"] == "does_not_exist"
    assert not Order.objects.exists()
    assert Product.objects.get(pk=product.pk).stock_quantity == 3


@pytest.mark.parametrize(
    "body, field",
    [
        ({"payment_method": "bitcoin"}, "payment_method"),
        ({"payment_method": None}, "payment_method"),
        ({"shipping_address": {**ADDRESS, "country": "XX"}}, "shipping_address.country"),
        ({"shipping_address": {"city": "Nowhere"}}, "shipping_address.full_name"),
        ({"shipping_address_id": 1}, "shipping_address_id"),
        ({"note": "x" * 1001}, "note"),
    ],
)
def test_checkout_rejects_bad_input(user_client, user, body, field):
    fill_cart(user, (ProductFactory(), 1))
    response = _checkout(user_client, **body)
    assert problem_codes(response) == (400, "validation_error")
    assert field in [error["field"] for error in response.json()["errors"]]


def test_empty_cart_is_409_cart_empty(user_client, user):
    assert problem_codes(_checkout(user_client)) == (409, "cart_empty")
    fill_cart(user)  # a cart with no lines
    assert problem_codes(_checkout(user_client)) == (409, "cart_empty")
    assert not Order.objects.exists()


def test_out_of_stock_lists_every_short_line_and_changes_nothing(user_client, user):
    plenty = ProductFactory(stock_quantity=10)
    short_a = ProductFactory(name="Blue mug", stock_quantity=2)
    short_b = ProductFactory(stock_quantity=1)
    fill_cart(user, (plenty, 3), (short_a, 3), (short_b, 5))

    response = _checkout(user_client)

    assert problem_codes(response) == (409, "out_of_stock")
    errors = response.json()["errors"]
    assert {(e["product_id"], e["requested"], e["available"]) for e in errors} == {
        (short_a.id, 3, 2),
        (short_b.id, 5, 1),
    }
    assert "Only 2 of Blue mug left." in response.json()["detail"]
    assert [p.stock_quantity for p in Product.objects.order_by("pk")] == [10, 2, 1]
    assert CartItem.objects.filter(cart__user=user).count() == 3
    assert not Order.objects.exists()


def test_inactive_product_cannot_be_checked_out(user_client, user):
    product = ProductFactory(is_active=False, stock_quantity=5)
    fill_cart(user, (product, 1))
    assert problem_codes(_checkout(user_client)) == (409, "out_of_stock")


def test_shipping_is_free_from_the_threshold(user, settings):
    settings.NEXUS_SHIPPING_FLAT_RATE = "5.00"
    settings.NEXUS_FREE_SHIPPING_THRESHOLD = "50.00"
    below = place_order(user, (ProductFactory(price=Decimal("49.99")), 1))
    assert (below.shipping_cost, below.total) == (Decimal("5.00"), Decimal("54.99"))
    at = place_order(user, (ProductFactory(price=Decimal("25.00")), 2))
    assert (at.shipping_cost, at.total) == (Decimal("0.00"), Decimal("50.00"))


def test_order_numbers_are_unique_and_follow_the_id(user):
    first, second = place_order(user), place_order(user)
    assert first.number != second.number
    assert first.number == f"NX-{first.created_at.year}-{first.pk:06d}"
    assert Order.objects.get(pk=second.pk).number == second.number


def test_no_email_when_checkout_fails(user_client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        _checkout(user_client)
    assert mail.outbox == []


def test_a_mail_server_failure_does_not_fail_the_checkout(
    user_client, user, settings, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 1, 1
    fill_cart(user, (ProductFactory(), 1))
    with django_capture_on_commit_callbacks(execute=True):
        response = _checkout(user_client)
    assert response.status_code == 201
    assert Order.objects.count() == 1


def test_order_lines_carry_the_variant_its_name_and_sku(
    user_client, user, django_capture_on_commit_callbacks
):
    product = ProductFactory(name="Tee", variants=False)
    red = ProductVariantFactory(
        product=product, sku="TEE-RED-M", options={"Color": "Red", "Size": "M"},
        price=Decimal("21.00"), stock_quantity=3,
    )  # fmt: skip
    blue = ProductVariantFactory(
        product=product, sku="TEE-BLUE-M", options={"Color": "Blue", "Size": "M"},
        price=Decimal("23.00"), stock_quantity=3,
    )  # fmt: skip
    cart = CartFactory(user=user)
    CartItemFactory(cart=cart, variant=red, quantity=2)
    CartItemFactory(cart=cart, variant=blue, quantity=1)

    with django_capture_on_commit_callbacks(execute=True):
        response = user_client.post(
            ORDERS, {"shipping_address": ADDRESS, "payment_method": "card"}, format="json"
        )

    assert response.status_code == 201, response.content
    items = response.json()["items"]
    assert [
        (
            i["product"],
            i["variant"],
            i["product_name"],
            i["variant_name"],
            i["sku"],
            i["unit_price"],
        )
        for i in items
    ] == [
        (product.pk, red.pk, "Tee", "Red / M", "TEE-RED-M", "21.00"),
        (product.pk, blue.pk, "Tee", "Blue / M", "TEE-BLUE-M", "23.00"),
    ]
    assert response.json()["subtotal"] == "65.00"
    red.refresh_from_db()
    blue.refresh_from_db()
    assert (red.stock_quantity, blue.stock_quantity) == (1, 2)
    assert "Tee - Red / M (TEE-RED-M)" in mail.outbox[0].body

    # Cancelling puts each variant's units back.
    order = Order.objects.get(pk=response.json()["id"])
    services.order_cancel(order=order, actor=user)
    red.refresh_from_db()
    blue.refresh_from_db()
    assert (red.stock_quantity, blue.stock_quantity) == (3, 3)


def test_out_of_stock_at_checkout_names_the_short_variant(user_client, user):
    product = ProductFactory(name="Tee", variants=False)
    small = ProductVariantFactory(product=product, options={"Size": "S"}, stock_quantity=1)
    CartItemFactory(cart=CartFactory(user=user), variant=small, quantity=1)
    ProductVariant.objects.filter(pk=small.pk).update(stock_quantity=0)

    response = user_client.post(
        ORDERS, {"shipping_address": ADDRESS, "payment_method": "card"}, format="json"
    )

    assert problem_codes(response) == (409, "out_of_stock")
    error = response.json()["errors"][0]
    assert (error["variant_id"], error["product_id"], error["available"]) == (
        small.pk,
        product.pk,
        0,
    )
    assert "Tee (S)" in response.json()["detail"]
