"""Issue 12, item 5 (orders side): a cart whose prices rose past what an order can hold is
refused at checkout with a 400 and changes nothing (never a 500)."""

from decimal import Decimal

import pytest

from cart.models import CartItem
from cart.tests.factories import CartFactory, CartItemFactory
from catalog.models import Product
from catalog.tests.factories import variant_set
from nexus.testing import client_for, problem_codes
from orders.models import Order
from orders.tests.factories import ADDRESS, ProductFactory

pytestmark = pytest.mark.django_db


def test_checkout_of_a_cart_grown_past_an_order_is_a_400(user):
    cart = CartFactory(user=user)
    product = ProductFactory(stock_quantity=1000)
    CartItemFactory(cart=cart, product=product, quantity=1000)
    variant_set(product, price=Decimal("9999999999.99"))  # prices live on variants (issue 14)

    response = client_for(user).post(
        "/api/v1/orders/", {"shipping_address": ADDRESS, "payment_method": "card"}, format="json"
    )

    assert problem_codes(response) == (400, "order_total_too_large")
    assert not Order.objects.exists()
    assert Product.objects.get(pk=product.pk).stock_quantity == 1000
    assert CartItem.objects.filter(cart=cart).count() == 1
