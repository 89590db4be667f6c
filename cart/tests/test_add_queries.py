"""Issue 18: a cart add runs a fixed, small number of SQL statements whatever the cart
holds (signed in, as the bench adds), and its answer is the line as GET cart/ lists it.

Counted as production runs the request: a real transaction (``transaction=True``, so
``cart_item_add``'s atomic block is the outermost one), every statement Django sends
(``BEGIN``/``COMMIT`` included), the Bearer token's user lookup included. On failure
the captured SQL of every size is printed.
"""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cart.tests.factories import (
    CartFactory,
    CartItemFactory,
    GuestCartFactory,
    ProductFactory,
    ProductImageFactory,
)
from catalog.tests.factories import ProductVariantFactory
from nexus.testing import client_for, requires_postgres
from users.tests.factories import UserFactory

pytestmark = [requires_postgres, pytest.mark.django_db(transaction=True)]

CART = "/api/v1/cart/"
# The user (with the token's revocation flags), BEGIN, the user's cart found, locked and
# bumped (one UPDATE ... RETURNING), the variant with its product, image and this
# cart's line, the line's INSERT or UPDATE, COMMIT. A variant with options costs one more
# (its option values); a guest has no user to load but its cart is read by token first.
BUDGET = 6
SIZES = (0, 3, 10)


def _measure(post) -> tuple[int, list[str], dict]:
    with CaptureQueriesContext(connection) as queries:
        response = post()
    assert response.status_code == 201, response.content
    return len(queries), [query["sql"] for query in queries.captured_queries], response.json()


def _check(counts: dict, statements: dict, budget: int) -> None:
    lines = [f"statements per cart add: {counts} (budget {budget}, same for every size)"]
    for size, sql in statements.items():
        lines.append(f"--- {size}: {len(sql)} statements")
        lines.extend(f"{n:3}. {text[:300]}" for n, text in enumerate(sql, 1))
    report = "\n".join(lines)
    print(report)
    assert len(set(counts.values())) == 1, report
    assert max(counts.values()) <= budget, report


def _cart_with(user=None, lines: int = 0):
    cart = CartFactory(user=user) if user is not None else GuestCartFactory()
    for _ in range(lines):
        CartItemFactory(cart=cart, product=ProductImageFactory().product, quantity=2)
    return cart


@pytest.mark.parametrize("existing_line", [False, True], ids=["new-line", "existing-line"])
def test_signed_in_cart_add_statements_do_not_grow_with_the_cart(existing_line):
    counts, statements = {}, {}
    for size in SIZES:
        user = UserFactory()
        cart = _cart_with(user, size)
        product = ProductImageFactory().product
        if existing_line:
            CartItemFactory(cart=cart, product=product, quantity=1)
        client = client_for(user)
        counts[size], statements[size], line = _measure(
            lambda client=client, product=product: client.post(
                CART, {"product": product.pk, "quantity": 2}, format="json"
            )
        )
        assert line["quantity"] == (3 if existing_line else 2)
        assert cart.items.count() == size + 1
    _check(counts, statements, BUDGET)


def test_guest_cart_add_statements_do_not_grow_with_the_cart(api_client):
    counts, statements = {}, {}
    for size in SIZES:
        cart = _cart_with(lines=size)
        product = ProductFactory()
        counts[size], statements[size], _ = _measure(
            lambda cart=cart, product=product: api_client.post(
                CART, {"product": product.pk}, format="json", HTTP_X_CART_TOKEN=cart.token
            )
        )
    _check(counts, statements, BUDGET)


def test_cart_add_of_a_variant_with_options_reads_its_values_once():
    counts, statements = {}, {}
    for size in SIZES:
        user = UserFactory()
        _cart_with(user, size)
        variant = ProductVariantFactory(
            product=ProductFactory(variants=False), options={"Size": "M", "Color": "Red"}
        )
        client = client_for(user)
        counts[size], statements[size], line = _measure(
            lambda client=client, variant=variant: client.post(
                CART, {"variant": variant.pk}, format="json"
            )
        )
        assert line["variant"]["options"] == {"Size": "M", "Color": "Red"}
    _check(counts, statements, BUDGET + 1)


@pytest.mark.parametrize("existing_line", [False, True], ids=["new-line", "existing-line"])
def test_cart_add_answers_the_line_as_the_cart_lists_it(existing_line):
    """The add's answer is built from what the add read, not read back: it must be the
    very line GET cart/ shows (options in option order, primary image, line total)."""
    user = UserFactory()
    cart = _cart_with(user, 2)
    product = ProductFactory(variants=False)
    variant = ProductVariantFactory(
        product=product, options={"Size": "L", "Color": "Blue"}, price=Decimal("19.99")
    )
    ProductImageFactory(product=product)
    ProductImageFactory(product=product, is_primary=False)
    if existing_line:
        CartItemFactory(cart=cart, variant=variant, quantity=4, unit_price_at_add=Decimal("1.00"))
    client = client_for(user)

    added = client.post(CART, {"variant": variant.pk, "quantity": 3}, format="json").json()

    listed = {item["id"]: item for item in client.get(CART).json()["items"]}
    assert added == {**listed[added["id"]], "cart_token": None}
    assert added["line_total"] == str(Decimal("19.99") * added["quantity"])
    assert added["product"]["image"].endswith(".png")
    assert added["quantity"] == (7 if existing_line else 3)


def _fields(instance) -> dict:
    return {
        field.attname: getattr(instance, field.attname) for field in instance._meta.concrete_fields
    }


def _same(raw, orm) -> None:
    assert type(raw) is type(orm)
    assert _fields(raw) == _fields(orm)
    assert {name: type(value) for name, value in _fields(raw).items()} == {
        name: type(value) for name, value in _fields(orm).items()
    }
    for name in ("product_image", "line_id", "line_quantity"):
        assert getattr(raw, name) == getattr(orm, name), name
    assert raw._state.db == orm._state.db and raw._state.adding is orm._state.adding is False


def test_variants_for_add_answers_what_the_orm_query_answers():
    from cart.selectors import _variants_for_add_orm, variants_for_add

    # A product with a primary image, rating and JSON fields, two active variants (with
    # options) and an inactive one; the cart holds a line of one of them.
    product = ProductFactory(variants=False)
    ProductImageFactory(product=product, is_primary=True)
    product.rating_histogram = {"5": 2, "4": 1}
    product.save()
    first = ProductVariantFactory(product=product, options={"Size": "S"}, price=Decimal("3.10"))
    ProductVariantFactory(product=product, options={"Size": "L"}, is_active=False)
    ProductVariantFactory(product=product, options={"Size": "M"})
    cart = CartFactory(user=UserFactory())
    CartItemFactory(cart=cart, variant=first, quantity=4)
    lonely = ProductFactory()
    other_cart = CartFactory(user=UserFactory())

    cases = [
        {"product_id": product.pk},
        {"product_id": lonely.pk},
        {"product_id": 10**9},
        {"variant_id": first.pk},
        {"variant_id": 10**9},
    ]
    for target in (cart, other_cart):
        for kwargs in cases:
            raw = variants_for_add(cart=target, **kwargs)
            orm = _variants_for_add_orm(cart=target, **kwargs)
            assert [v.pk for v in raw] == [v.pk for v in orm], kwargs
            for raw_variant, orm_variant in zip(raw, orm, strict=True):
                _same(raw_variant, orm_variant)
                with CaptureQueriesContext(connection) as queries:
                    raw_product = raw_variant.product  # read with the variant: no query
                assert len(queries) == 0
                assert _fields(raw_product) == _fields(orm_variant.product)
    assert variants_for_add(cart=cart, variant_id=first.pk)[0].line_quantity == 4
    assert len(variants_for_add(cart=cart, product_id=product.pk)) == 2
