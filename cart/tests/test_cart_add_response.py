"""The cart add's 201 body (``cart.serializers.cart_item_added_data``) equals what
``CartItemSerializer`` gives for the same freshly added line, key for key and byte for
byte: signed in and guest, with and without options and image, with or without a
request to build absolute URLs from."""

import json
from decimal import Decimal

import pytest
from rest_framework.test import APIRequestFactory

from cart import selectors, services
from cart.serializers import CartItemSerializer, cart_item_added_data
from cart.tests.factories import ProductFactory, ProductImageFactory
from catalog.tests.factories import ProductVariantFactory
from users.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _request():
    return APIRequestFactory().post("/api/v1/cart/")


def _variants() -> list:
    with_image = ProductImageFactory().product.variants.get()
    with_options = ProductVariantFactory(
        product=ProductFactory(variants=False), options={"Size": "M", "Color": "Red"}
    )
    odd_price = ProductVariantFactory(price=Decimal("1234567.5"), stock_quantity=0)
    odd_price.stock_quantity = 5  # in stock again for the add, priced with one decimal
    odd_price.save(update_fields=["stock_quantity"])
    return [with_image, with_options, odd_price]


def _same(item, request) -> None:
    item = selectors.cart_item_shape_added(item=item)
    context = {"request": request, "cart": item.cart}
    expected = CartItemSerializer(item, context=context).data
    got = cart_item_added_data(item, request=request, cart=item.cart)
    assert got == dict(expected)
    assert json.dumps(got) == json.dumps(expected)


@pytest.mark.parametrize("with_request", [True, False])
def test_signed_in_add_answer_equals_the_serializer(with_request):
    user = UserFactory()
    for quantity, variant in enumerate(_variants(), start=1):
        item = services.cart_item_add_for_user(user=user, variant_id=variant.pk, quantity=quantity)
        _same(item, _request() if with_request else None)
        # Adding again to the same line (quantities add up).
        again = services.cart_item_add_for_user(user=user, variant_id=variant.pk, quantity=1)
        assert again.quantity == quantity + 1
        _same(again, _request() if with_request else None)


def test_guest_add_answer_equals_the_serializer():
    for variant in _variants():
        item = services.cart_guest_create_with_item(variant_id=variant.pk, quantity=2)
        assert item.cart.is_guest
        _same(item, _request())
        more = services.cart_item_add(cart=item.cart, product_id=variant.product_id, quantity=1)
        _same(more, _request())
