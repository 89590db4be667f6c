"""Issue 12, item 5: a line whose total an order cannot hold is refused before anything is
written, and a cart whose prices grew past that afterwards still reads (no 500)."""

from decimal import Decimal

import pytest

from cart.models import CartItem
from cart.tests.factories import CartFactory, CartItemFactory, ProductFactory
from catalog.models import ProductVariant
from nexus.testing import client_for, problem_codes

pytestmark = pytest.mark.django_db

CART = "/api/v1/cart/"
TOP_PRICE = Decimal("9999999999.99")


def test_cart_refuses_a_line_total_that_cannot_be_represented(user):
    product = ProductFactory(price=TOP_PRICE, stock_quantity=500)
    client = client_for(user)

    response = client.post(CART, {"product": product.pk, "quantity": 101})

    assert problem_codes(response) == (400, "line_total_too_large")
    assert response.json()["errors"][0]["field"] == "quantity"
    assert not CartItem.objects.filter(cart__user=user).exists()
    assert client.get(CART).status_code == 200


def test_cart_refuses_growing_a_line_past_the_largest_total(user):
    product = ProductFactory(price=Decimal("5000000000.00"), stock_quantity=500)
    client = client_for(user)
    assert client.post(CART, {"product": product.pk, "quantity": 1}).status_code == 201
    item_id = CartItem.objects.get(cart__user=user).pk

    assert problem_codes(client.post(CART, {"product": product.pk, "quantity": 1})) == (
        400,
        "line_total_too_large",
    )
    assert problem_codes(client.patch(f"{CART}{item_id}/", {"quantity": 2})) == (
        400,
        "line_total_too_large",
    )
    assert CartItem.objects.get(pk=item_id).quantity == 1


def test_cart_reads_after_prices_rose_past_what_an_order_holds(user):
    # Accepted at a small price; staff then raised it to the top: GET cart/ was a 500.
    cart = CartFactory(user=user)
    product = ProductFactory(stock_quantity=1000)
    CartItemFactory(cart=cart, product=product, quantity=1000)
    second = ProductFactory(stock_quantity=1000)
    CartItemFactory(cart=cart, product=second, quantity=1000)
    # Prices live on variants (issue 14).
    ProductVariant.objects.filter(product__in=[product, second]).update(price=TOP_PRICE)

    response = client_for(user).get(CART)

    assert response.status_code == 200
    assert Decimal(response.json()["subtotal"]) == TOP_PRICE * 2000
