"""Real concurrency against PostgreSQL: a voucher's usage_limit holds when many buyers
check out with it at once (the conditional UPDATE in the order's transaction), and the
once-per-customer rule holds for one customer's concurrent checkouts."""

from collections import Counter
from decimal import Decimal

import pytest

from nexus.testing import requires_postgres
from orders import services
from orders.errors import VoucherAlreadyUsed, VoucherUsedUp
from orders.models import Order, Voucher, VoucherRedemption
from orders.tests.factories import ADDRESS, ProductFactory, UserFactory, fill_cart
from orders.tests.test_race import _run_in_threads

pytestmark = [requires_postgres, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _checkout(user, code: str):
    return lambda: services.order_place(
        user=user, shipping_address=dict(ADDRESS), payment_method="card", voucher_code=code
    )


def test_usage_limit_3_with_20_concurrent_buyers():
    voucher = Voucher.objects.create(
        code="LIMIT3", kind="percentage", value=Decimal("10"), usage_limit=3
    )
    product = ProductFactory(stock_quantity=100)
    users = [UserFactory() for _ in range(20)]
    for user in users:
        fill_cart(user, (product, 1))

    results = _run_in_threads([_checkout(user, "limit3") for user in users])

    outcomes = Counter(type(result).__name__ for result in results)
    assert outcomes == {"Order": 3, "VoucherUsedUp": 17}, outcomes
    assert all(isinstance(r, Order | VoucherUsedUp) for r in results)
    assert Order.objects.filter(voucher_code="LIMIT3").count() == 3
    assert Order.objects.count() == 3  # the refused ones wrote nothing
    voucher.refresh_from_db()
    assert voucher.used_count == 3
    assert VoucherRedemption.objects.filter(voucher=voucher).count() == 3


def test_once_per_customer_holds_for_one_customers_concurrent_checkouts():
    Voucher.objects.create(code="ONCE", kind="fixed", value=Decimal("1.00"), once_per_customer=True)
    product = ProductFactory(stock_quantity=100)
    # Five guests with one email (their own carts), at once.
    from cart.tests.factories import CartItemFactory, GuestCartFactory

    carts = []
    for _ in range(5):
        cart = GuestCartFactory()
        CartItemFactory(cart=cart, product=product, quantity=1)
        carts.append(cart)

    def guest(cart):
        return lambda: services.order_place(
            user=None,
            cart_token=cart.token,
            email="same@example.com",
            shipping_address=dict(ADDRESS),
            payment_method="bank_transfer",
            voucher_code="once",
        )

    results = _run_in_threads([guest(cart) for cart in carts])
    outcomes = Counter(type(result).__name__ for result in results)
    assert outcomes == {"Order": 1, "VoucherAlreadyUsed": 4}, outcomes
    assert all(isinstance(r, Order | VoucherAlreadyUsed) for r in results)
    assert Voucher.objects.get(code="ONCE").used_count == 1
