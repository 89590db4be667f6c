"""Race tests: real threads against PostgreSQL (each thread has its own connection)."""

import threading

import pytest
from django.db import connection
from rest_framework.test import APIClient

from cart import services
from cart.models import Cart, CartItem
from cart.tests.factories import CartItemFactory, GuestCartFactory, ProductFactory
from nexus.testing import client_for, requires_postgres
from users.tests.factories import UserFactory

pytestmark = [requires_postgres, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

THREADS = 8


def run_together(target, count: int = THREADS) -> list:
    """Start ``count`` threads on ``target`` at once; return what each returned or raised."""
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def worker(index: int) -> None:
        try:
            barrier.wait()
            results[index] = target()
        except Exception as exc:  # reported to the test, which asserts on it
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results


def test_cart_concurrent_adds_of_one_product_make_one_line():
    # A user without a cart yet: the cart row creation races too.
    user = UserFactory()
    product = ProductFactory(stock_quantity=100)

    def add():
        return client_for(user).post("/api/v1/cart/", {"product": product.pk, "quantity": 2})

    responses = run_together(add)

    assert [getattr(r, "status_code", r) for r in responses] == [201] * THREADS
    assert Cart.objects.filter(user=user).count() == 1
    line = CartItem.objects.get(cart__user=user)
    assert line.quantity == 2 * THREADS


def test_cart_concurrent_adds_never_pass_the_stock():
    user = UserFactory()
    product = ProductFactory(stock_quantity=5)

    def add():
        return client_for(user).post("/api/v1/cart/", {"product": product.pk, "quantity": 1})

    statuses = sorted(getattr(r, "status_code", r) for r in run_together(add))

    assert statuses == [201] * 5 + [409] * (THREADS - 5)
    assert CartItem.objects.get(cart__user=user).quantity == 5


def test_cart_concurrent_guest_adds_share_one_line():
    guest = GuestCartFactory()
    product = ProductFactory(stock_quantity=100)

    def add():
        client = APIClient()
        client.credentials(HTTP_X_CART_TOKEN=guest.token)
        return client.post("/api/v1/cart/", {"product": product.pk, "quantity": 1})

    responses = run_together(add)

    assert [getattr(r, "status_code", r) for r in responses] == [201] * THREADS
    assert CartItem.objects.get(cart=guest).quantity == THREADS


def test_cart_concurrent_merges_of_one_token_merge_once():
    user = UserFactory()
    product = ProductFactory(stock_quantity=100)
    guest = GuestCartFactory()
    CartItemFactory(cart=guest, product=product, quantity=3)

    results = run_together(lambda: services.cart_merge(user=user, token=guest.token))

    assert [r for r in results if isinstance(r, Exception)] == []
    assert Cart.objects.filter(user=user).count() == 1
    assert CartItem.objects.get(cart__user=user).quantity == 3
    assert not Cart.objects.filter(pk=guest.pk).exists()
