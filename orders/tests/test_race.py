"""Real concurrency against PostgreSQL: threads checking out the last units (of a product,
or of one variant while another variant of it sells freely) never oversell or deadlock,
and two requests with one Idempotency-Key make one order."""

import threading
from collections import Counter

import pytest
from django.db import connection

from cart.tests.factories import CartFactory, CartItemFactory
from catalog.models import Product
from catalog.tests.factories import ProductVariantFactory
from nexus.testing import client_for, requires_postgres
from orders import services
from orders.errors import CartEmpty
from orders.models import Order, OrderItem
from orders.tests.factories import ADDRESS, ProductFactory, UserFactory, fill_cart

pytestmark = [requires_postgres, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _run_in_threads(targets) -> list:
    """Start every target at once (a barrier), return what each returned or raised."""
    barrier = threading.Barrier(len(targets))
    results: list = [None] * len(targets)

    def run(index, target):
        try:
            barrier.wait(timeout=10)
            results[index] = target()
        except Exception as exc:  # the test inspects every outcome, errors included
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, t)) for i, t in enumerate(targets)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a checkout hung (deadlock?)"
    return results


def _checkout(user):
    return lambda: services.order_place(
        user=user, shipping_address=dict(ADDRESS), payment_method="card"
    )


def test_buyers_racing_for_the_last_units_never_oversell():
    stock, buyers = 3, 8
    product = ProductFactory(stock_quantity=stock)
    users = [UserFactory() for _ in range(buyers)]
    for user in users:
        fill_cart(user, (product, 1))

    results = _run_in_threads([_checkout(user) for user in users])

    outcomes = Counter(type(result).__name__ for result in results)
    assert outcomes == {"Order": stock, "OutOfStock": buyers - stock}, results
    assert Product.objects.get(pk=product.pk).stock_quantity == 0
    assert sum(OrderItem.objects.values_list("quantity", flat=True)) == stock


def test_carts_locking_products_in_opposite_orders_do_not_deadlock():
    first, second = ProductFactory(stock_quantity=50), ProductFactory(stock_quantity=50)
    users = [UserFactory() for _ in range(10)]
    for index, user in enumerate(users):
        lines = [(first, 2), (second, 3)] if index % 2 else [(second, 3), (first, 2)]
        fill_cart(user, *lines)

    results = _run_in_threads([_checkout(user) for user in users])

    assert all(isinstance(result, Order) for result in results), results
    assert Product.objects.get(pk=first.pk).stock_quantity == 30
    assert Product.objects.get(pk=second.pk).stock_quantity == 20


def test_one_user_checking_out_twice_at_once_orders_the_cart_once():
    product = ProductFactory(stock_quantity=10)
    user = UserFactory()
    fill_cart(user, (product, 2))

    results = _run_in_threads([_checkout(user), _checkout(user)])

    assert sorted(type(r).__name__ for r in results) == ["CartEmpty", "Order"], results
    assert Product.objects.get(pk=product.pk).stock_quantity == 8
    assert isinstance(next(r for r in results if not isinstance(r, Order)), CartEmpty)


def test_two_requests_with_one_key_make_one_order():
    product = ProductFactory(stock_quantity=10)
    user = UserFactory()
    fill_cart(user, (product, 1))
    body = {"shipping_address": ADDRESS, "payment_method": "card"}

    def post():
        response = client_for(user).post(
            "/api/v1/orders/", body, format="json", HTTP_IDEMPOTENCY_KEY="same-key"
        )
        return response.status_code, response.json()

    results = _run_in_threads([post for _ in range(4)])

    assert Order.objects.count() == 1
    assert Product.objects.get(pk=product.pk).stock_quantity == 9
    order_id = Order.objects.get().pk
    for status_code, body in results:
        # Each request either made the order, replayed it, or was told the first still runs.
        assert (status_code == 201 and body["id"] == order_id) or (
            status_code == 409 and body["code"] == "idempotency_key_in_use"
        ), (status_code, body)
    assert any(status_code == 201 for status_code, _ in results)


def test_last_units_of_one_variant_while_another_variant_sells_freely():
    # Given a product with a scarce variant (5 left) and a plentiful one (100)
    product = ProductFactory(stock_quantity=0, variants=False)
    scarce = ProductVariantFactory(product=product, options={"Size": "S"}, stock_quantity=5)
    plenty = ProductVariantFactory(product=product, options={"Size": "L"}, stock_quantity=100)
    # 20 buyers want the scarce one (every other one also takes the plentiful one, listed
    # first in the cart, so lines lock in the other order); 10 more buy only the plentiful
    scarce_buyers = [UserFactory() for _ in range(20)]
    for index, user in enumerate(scarce_buyers):
        lines = [(plenty, 1), (scarce, 1)] if index % 2 else [(scarce, 1)]
        cart = CartFactory(user=user)
        for variant, quantity in lines:
            CartItemFactory(cart=cart, variant=variant, quantity=quantity)
    plenty_buyers = [UserFactory() for _ in range(10)]
    for user in plenty_buyers:
        CartItemFactory(cart=CartFactory(user=user), variant=plenty, quantity=2)

    # When all 30 check out at once
    results = _run_in_threads([_checkout(user) for user in scarce_buyers + plenty_buyers])

    # Then exactly the 5 scarce units are sold, never more, and nobody deadlocks
    scarce_results, plenty_results = results[:20], results[20:]
    outcomes = Counter(type(result).__name__ for result in scarce_results)
    assert outcomes == {"Order": 5, "OutOfStock": 15}, results
    assert all(isinstance(result, Order) for result in plenty_results), plenty_results
    scarce.refresh_from_db()
    plenty.refresh_from_db()
    assert scarce.stock_quantity == 0
    sold_plenty = sum(OrderItem.objects.filter(variant=plenty).values_list("quantity", flat=True))
    assert sold_plenty == 20 + sum(
        1 for index, r in enumerate(scarce_results) if index % 2 and isinstance(r, Order)
    )
    assert plenty.stock_quantity == 100 - sold_plenty
    assert sum(OrderItem.objects.filter(variant=scarce).values_list("quantity", flat=True)) == 5
    assert set(OrderItem.objects.values_list("variant_name", flat=True)) == {"S", "L"}


def test_multi_line_carts_racing_take_all_their_lines_or_none():
    """The reservation is one UPDATE for every line (issue 18): a buyer refused for the
    scarce line takes nothing of the plentiful ones, and the scarce one never oversells."""
    scarce = ProductFactory(stock_quantity=3)
    plenty = [ProductFactory(stock_quantity=100) for _ in range(2)]
    users = [UserFactory() for _ in range(6)]
    for index, user in enumerate(users):
        lines = [(scarce, 1), (plenty[0], 2), (plenty[1], 3)]
        fill_cart(user, *(lines if index % 2 else lines[::-1]))

    results = _run_in_threads([_checkout(user) for user in users])

    outcomes = Counter(type(result).__name__ for result in results)
    assert outcomes == {"Order": 3, "OutOfStock": 3}, results
    assert Product.objects.get(pk=scarce.pk).stock_quantity == 0
    assert [Product.objects.get(pk=p.pk).stock_quantity for p in plenty] == [94, 91]
    assert OrderItem.objects.count() == 9
