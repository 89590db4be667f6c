"""Issue 18: the checkout's answer is built without serializer fields
(``orders.serializers.order_placed_data``) and is byte for byte what the serializers
write: ``OrderSerializer`` for a signed-in caller, ``GuestOrderCreatedSerializer`` for a
guest, and what ``GET orders/{id}/`` answers for the same order."""

from decimal import Decimal
from types import SimpleNamespace

import pytest
from rest_framework.renderers import JSONRenderer

from cart.tests.factories import CartItemFactory, GuestCartFactory
from catalog.tests.factories import ProductVariantFactory
from orders import selectors, services
from orders.models import ShippingMethod, TaxRate, Voucher
from orders.serializers import GuestOrderCreatedSerializer, OrderSerializer, order_placed_data
from orders.tests.factories import ADDRESS, ProductFactory, fill_cart

pytestmark = pytest.mark.django_db

ORDERS = "/api/v1/orders/"
BILLING = {
    **ADDRESS,
    "full_name": "Charles Babbage",
    "street2": "Flat 2",
    "phone_number": "+442071234567",
}


@pytest.fixture
def rules(db):
    ShippingMethod.objects.create(code="dhl", name="DHL", price=Decimal("4.90"), countries=["GB"])
    TaxRate.objects.create(country="GB", rate=Decimal("20.00"), applies_to_shipping=True)
    Voucher.objects.create(code="TENOFF", kind="percentage", value=Decimal("10.00"))


def _cart_lines():
    product = ProductFactory(price=Decimal("12.34"), stock_quantity=50)
    variant = ProductVariantFactory(options={"Size": "M"}, price=Decimal("7.05"), stock_quantity=9)
    return [(product, 3), (variant.product, 1)]


def _render(data) -> bytes:
    return JSONRenderer().render(data)


@pytest.mark.parametrize(
    "extra",
    [
        {},
        {"shipping_method": "dhl", "voucher_code": "TENOFF", "billing_address": BILLING},
        {"note": "Leave it at the door", "payment_method": "card"},
    ],
    ids=["plain", "voucher-shipping-billing", "note"],
)
def test_signed_in_answer_is_the_serializers_byte_for_byte(rules, user, user_client, extra):
    fill_cart(user, *_cart_lines())
    body = {"shipping_address": ADDRESS, "payment_method": "bank_transfer", **extra}
    response = user_client.post(ORDERS, body, format="json")
    assert response.status_code == 201, response.content

    detail = user_client.get(f"{ORDERS}{response.json()['id']}/")
    assert detail.status_code == 200
    assert response.content == detail.content
    assert len(response.json()["items"]) == 2


def test_guest_answer_is_the_serializers_byte_for_byte(rules, api_client):
    cart = GuestCartFactory()
    for product, quantity in _cart_lines():
        CartItemFactory(cart=cart, product=product, quantity=quantity)
    response = api_client.post(
        ORDERS,
        {
            "shipping_address": ADDRESS,
            "billing_address": BILLING,
            "payment_method": "bank_transfer",
            "email": "guest@example.com",
            "shipping_method": "dhl",
            "voucher_code": "TENOFF",
        },
        format="json",
        HTTP_X_CART_TOKEN=cart.token,
    )
    assert response.status_code == 201, response.content
    answer = response.json()
    token = answer["guest_token"]
    assert token

    detail = api_client.get(f"{ORDERS}guest/{token}/")
    assert detail.status_code == 200
    assert _render({k: v for k, v in answer.items() if k != "guest_token"}) == detail.content


@pytest.mark.parametrize("guest", [False, True], ids=["signed-in", "guest"])
def test_placed_data_equals_the_serializer_on_the_same_instance(rules, user, guest):
    if guest:
        cart = GuestCartFactory()
        for product, quantity in _cart_lines():
            CartItemFactory(cart=cart, product=product, quantity=quantity)
        order = services.order_place(
            user=None,
            cart_token=cart.token,
            email="guest@example.com",
            shipping_address=dict(ADDRESS),
            payment_method="bank_transfer",
            voucher_code="TENOFF",
        )
        caller = SimpleNamespace(is_staff=False, is_authenticated=False, pk=None)
    else:
        fill_cart(user, *_cart_lines())
        order = services.order_place(
            user=user,
            shipping_address=dict(ADDRESS),
            billing_address=dict(BILLING),
            payment_method="bank_transfer",
            shipping_method="dhl",
        )
        caller = user
    context = {"request": SimpleNamespace(user=caller), "guest": guest}
    serializer_class = OrderSerializer
    if guest:
        context["guest_token"] = order.guest_token
        serializer_class = GuestOrderCreatedSerializer
    expected = serializer_class(selectors.order_as_placed(order), context=context).data

    data = order_placed_data(order, user=caller, guest=guest, guest_token=order.guest_token)

    assert data == expected
    assert _render(data) == _render(expected)
    assert list(data) == list(expected)
    assert data["allowed_actions"] == ["cancel"]


def test_checkout_builds_no_order_serializer(user, user_client, monkeypatch):
    # The answer comes from order_placed_data: the serializer is never asked for it.
    def refuse(self, instance):
        raise AssertionError("OrderSerializer.to_representation called during checkout")

    monkeypatch.setattr(OrderSerializer, "to_representation", refuse)
    fill_cart(user, *_cart_lines())
    response = user_client.post(
        ORDERS, {"shipping_address": ADDRESS, "payment_method": "bank_transfer"}, format="json"
    )
    assert response.status_code == 201, response.content
