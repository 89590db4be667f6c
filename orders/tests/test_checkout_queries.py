"""Issue 18: the number of SQL statements a checkout runs does not grow with the cart, and
stays within budget (at most 15), signed in and as a guest.

Counted as production runs the request: a real transaction (``transaction=True``, so
``order_place``'s atomic block is the outermost one and its savepoints are the real ones),
every statement Django sends (``SAVEPOINT``/``RELEASE`` included), the confirmation email
handed to the broker after the commit (``NEXUS_OUTBOX_DISPATCH=celery``; the publish is
recorded, not sent: delivery is the worker's work, not the request's). A shipping
method and a tax rate are in force, as in a real shop; each cart line is another
product. A voucher and an Idempotency-Key each add a fixed number of statements
(VOUCHER_EXTRA, IDEMPOTENCY_EXTRA), whatever the size too. On failure the captured SQL
of every size is printed.
"""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cart.tests.factories import CartItemFactory, GuestCartFactory
from nexus import outbox
from nexus.models import OutboxMessage
from nexus.testing import client_for, requires_postgres
from orders.models import Order, ShippingMethod, TaxRate, Voucher
from orders.tests.factories import ADDRESS, ProductFactory, UserFactory, fill_cart

pytestmark = [requires_postgres, pytest.mark.django_db(transaction=True)]

ORDERS = "/api/v1/orders/"
BUDGET = 15  # issue 18: a checkout (shipping method and tax rate in force), whatever its size
# What the options cost on top, whatever the size: a voucher is read, its use taken and
# its redemption recorded (3); an Idempotency-Key is claimed, the checkout runs in a
# savepoint of the key's transaction and the response is stored on the key (4).
VOUCHER_EXTRA = 3
IDEMPOTENCY_EXTRA = 4
SIZES = (1, 3, 10)


@pytest.fixture
def published(settings, monkeypatch):
    settings.NEXUS_OUTBOX_DISPATCH = "celery"
    sent: list[int] = []
    monkeypatch.setattr(outbox, "_publish", lambda message_id, **_: sent.append(message_id) or True)
    return sent


@pytest.fixture
def rules(db):
    ShippingMethod.objects.create(code="dhl", name="DHL", price=Decimal("4.90"), countries=["GB"])
    TaxRate.objects.create(country="GB", rate=Decimal("20.00"), applies_to_shipping=True)
    Voucher.objects.create(code="TENOFF", kind="percentage", value=Decimal("10.00"))


def _body(voucher=False, **extra):
    body = {
        "shipping_address": dict(ADDRESS),
        "payment_method": "bank_transfer",
        "shipping_method": "dhl",
        **extra,
    }
    if voucher:
        body["voucher_code"] = "TENOFF"
    return body


def _products(count):
    return [(ProductFactory(stock_quantity=100), 1 + index % 3) for index in range(count)]


def _measure(post) -> tuple[int, list[str]]:
    with CaptureQueriesContext(connection) as queries:
        response = post()
    assert response.status_code == 201, response.content
    return len(queries), [query["sql"] for query in queries.captured_queries]


def _report(counts: dict[int, int], statements: dict[int, list[str]]) -> str:
    lines = [f"statements per checkout: {counts} (budget {BUDGET}, same for every size)"]
    for size, sql in statements.items():
        lines.append(f"--- {size} line(s): {len(sql)} statements")
        lines.extend(f"{n:3}. {text[:300]}" for n, text in enumerate(sql, 1))
    return "\n".join(lines)


def _check(counts, statements, budget=BUDGET):
    report = _report(counts, statements)
    print(report)
    assert len(set(counts.values())) == 1, report
    assert max(counts.values()) <= budget, report


@pytest.mark.parametrize("voucher", [False, True], ids=["no-voucher", "voucher"])
@pytest.mark.parametrize("idempotency_key", [False, True], ids=["plain", "idempotency-key"])
def test_signed_in_checkout_statements_do_not_grow_with_lines(
    rules, published, idempotency_key, voucher
):
    counts, statements = {}, {}
    for size in SIZES:
        user = UserFactory()
        fill_cart(user, *_products(size))
        client = client_for(user)
        headers = {"HTTP_IDEMPOTENCY_KEY": f"key-{size}"} if idempotency_key else {}
        counts[size], statements[size] = _measure(
            lambda client=client, headers=headers: client.post(
                ORDERS, _body(voucher), format="json", **headers
            )
        )
        order = Order.objects.get(user=user)
        assert order.items.count() == size
        assert order.tax_total > 0 and order.shipping_method_code == "dhl"
        assert order.voucher_code == ("TENOFF" if voucher else "")
    assert len(published) == len(SIZES)  # one confirmation email each, to the broker
    _check(
        counts,
        statements,
        BUDGET + VOUCHER_EXTRA * voucher + IDEMPOTENCY_EXTRA * idempotency_key,
    )


@pytest.mark.parametrize("voucher", [False, True], ids=["no-voucher", "voucher"])
def test_guest_checkout_statements_do_not_grow_with_lines(rules, published, api_client, voucher):
    counts, statements = {}, {}
    for size in SIZES:
        cart = GuestCartFactory()
        for product, quantity in _products(size):
            CartItemFactory(cart=cart, product=product, quantity=quantity)
        counts[size], statements[size] = _measure(
            lambda cart=cart: api_client.post(
                ORDERS,
                _body(voucher, email=f"guest{cart.pk}@example.com"),
                format="json",
                HTTP_X_CART_TOKEN=cart.token,
            )
        )
        assert Order.objects.get(email=f"guest{cart.pk}@example.com").items.count() == size
    assert OutboxMessage.objects.count() == len(SIZES)
    _check(counts, statements, BUDGET + VOUCHER_EXTRA * voucher)
