"""Property test (hypothesis, database): for random carts, shipping methods, tax rates and
vouchers, ``checkout/preview/`` answers exactly the amounts the order placed right after
it stores, line by line. Each example runs in a savepoint rolled back at its end."""

from decimal import Decimal

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orders.models import Order, ShippingMethod, TaxRate, Voucher
from orders.tests.factories import ADDRESS, ProductFactory, fill_cart
from users.tests.factories import UserFactory

pytestmark = pytest.mark.django_db

KEYS = [
    "subtotal",
    "discount_total",
    "shipping_cost",
    "shipping_tax_amount",
    "tax_total",
    "total",
    "voucher_code",
    "shipping_method",
    "prices_include_tax",
]
LINE_KEYS = ["line_total", "discount_amount", "tax_rate", "tax_amount"]


class _Rollback(Exception):
    pass


cents = st.integers(0, 200_000).map(lambda c: Decimal(c) / 100)


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    lines=st.lists(st.tuples(cents, st.integers(1, 5)), min_size=1, max_size=4),
    methods=st.lists(
        st.tuples(cents, st.one_of(st.none(), cents), st.booleans()), min_size=0, max_size=3
    ),
    rate=st.one_of(st.none(), st.integers(0, 2500).map(lambda bp: Decimal(bp) / 100)),
    taxed_shipping=st.booleans(),
    voucher=st.one_of(
        st.none(),
        st.tuples(
            st.sampled_from(["percentage", "fixed", "free_shipping"]),
            st.integers(1, 10000).map(lambda bp: Decimal(bp) / 100),
            st.booleans(),
        ),
    ),
    inclusive=st.booleans(),
)
def test_preview_equals_the_placed_order(
    django_settings, lines, methods, rate, taxed_shipping, voucher, inclusive
):
    django_settings.NEXUS_PRICES_INCLUDE_TAX = inclusive
    try:
        with transaction.atomic():
            _example(lines, methods, rate, taxed_shipping, voucher)
            raise _Rollback
    except _Rollback:
        pass


@pytest.fixture
def django_settings(settings):
    return settings


def _example(lines, methods, rate, taxed_shipping, voucher):
    from nexus.testing import client_for

    user = UserFactory()
    products = [ProductFactory(price=price, stock_quantity=10) for price, _ in lines]
    fill_cart(user, *[(p, qty) for p, (_, qty) in zip(products, lines, strict=True)])
    for i, (price, free_above, serves_gb) in enumerate(methods):
        ShippingMethod.objects.create(
            code=f"m{i}",
            name=f"M{i}",
            price=price,
            free_above=free_above,
            countries=["GB"] if serves_gb else [],
        )
    if rate is not None:
        TaxRate.objects.create(country="GB", rate=rate, applies_to_shipping=taxed_shipping)
    body = {"shipping_address": ADDRESS, "payment_method": "card"}
    if voucher is not None:
        kind, value, restricted = voucher
        if kind == "percentage":
            value = min(value, Decimal("100"))
        made = Voucher.objects.create(code="PROP", kind=kind, value=value)
        if restricted:
            made.products.set(products[:1])
        body["voucher_code"] = "prop"
    client = client_for(user)

    preview = client.post("/api/v1/checkout/preview/", body, format="json")
    placed = client.post("/api/v1/orders/", body, format="json")

    if preview.status_code != 200:  # a refusal: the order is refused the same way
        assert placed.status_code == preview.status_code
        assert placed.json()["code"] == preview.json()["code"]
        assert not Order.objects.filter(user=user).exists()
        return
    assert placed.status_code == 201, placed.content
    quote, order = preview.json(), placed.json()
    assert {k: quote[k] for k in KEYS} == {k: order[k] for k in KEYS}
    assert [{k: line[k] for k in LINE_KEYS} for line in quote["items"]] == [
        {k: line[k] for k in LINE_KEYS} for line in order["items"]
    ]
    assert [line["variant"] for line in quote["items"]] == [
        line["variant"] for line in order["items"]
    ]
