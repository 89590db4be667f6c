"""Cart lines per variant: adding by variant, or by product when it has exactly one active
variant (v1 clients), per-variant stock checks and warnings, merges by variant."""

from decimal import Decimal

import pytest

from cart import services
from cart.models import CartItem
from cart.tests.factories import CartFactory, CartItemFactory, GuestCartFactory, ProductFactory
from catalog.models import ProductVariant
from catalog.tests.factories import ProductVariantFactory, default_variant
from nexus.testing import problem_codes

pytestmark = pytest.mark.django_db

CART = "/api/v1/cart/"


def _shirt():
    product = ProductFactory(name="Tee", variants=False)
    small = ProductVariantFactory(
        product=product,
        sku="TEE-S",
        options={"Size": "S"},
        price=Decimal("20.00"),
        stock_quantity=2,
    )
    large = ProductVariantFactory(
        product=product, sku="TEE-L", options={"Size": "L"}, price=Decimal("22.00"),
        stock_quantity=9,
    )  # fmt: skip
    return product, small, large


def test_add_by_variant_shows_the_variant_on_the_line(user_client):
    product, small, large = _shirt()

    response = user_client.post(CART, {"variant": large.pk, "quantity": 2}, format="json")

    assert response.status_code == 201, response.content
    line = response.json()
    assert line["variant"] == {
        "id": large.pk,
        "sku": "TEE-L",
        "name": "L",
        "options": {"Size": "L"},
    }
    assert (line["unit_price"], line["line_total"]) == ("22.00", "44.00")
    assert line["product"]["id"] == product.pk and line["product"]["price"] == "22.00"
    # Two variants of one product are two lines.
    user_client.post(CART, {"variant": small.pk}, format="json")
    body = user_client.get(CART).json()
    assert [item["variant"]["sku"] for item in body["items"]] == ["TEE-L", "TEE-S"]
    assert (body["subtotal"], body["total_items"]) == ("64.00", 3)


def test_add_by_product_needs_exactly_one_active_variant(user_client):
    product, small, large = _shirt()
    single = ProductFactory(stock_quantity=5)

    assert user_client.post(CART, {"product": single.pk}, format="json").status_code == 201
    response = user_client.post(CART, {"product": product.pk}, format="json")
    assert problem_codes(response) == (400, "variant_required")
    assert response.json()["errors"][0]["field"] == "variant"

    ProductVariant.objects.filter(pk=small.pk).update(is_active=False)
    response = user_client.post(CART, {"product": product.pk}, format="json")
    assert response.status_code == 201 and response.json()["variant"]["id"] == large.pk


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({}, (400, "validation_error")),
        ({"variant": 0}, (400, "validation_error")),
        ({"variant": "x"}, (400, "validation_error")),
        ({"variant": 99_999_999}, (400, "validation_error")),
        ({"variant": 2**70}, (400, "validation_error")),
    ],
)
def test_add_bad_variant_input_is_400(user_client, body, expected):
    assert problem_codes(user_client.post(CART, body, format="json")) == expected
    assert not CartItem.objects.exists()


def test_add_variant_of_another_product_inactive_or_short(user_client):
    product, small, _ = _shirt()
    other = ProductFactory()

    mismatch = user_client.post(CART, {"product": other.pk, "variant": small.pk}, format="json")
    assert problem_codes(mismatch) == (400, "validation_error")
    short = user_client.post(CART, {"variant": small.pk, "quantity": 3}, format="json")
    assert problem_codes(short) == (409, "out_of_stock")
    error = short.json()["errors"][0]
    assert (error["variant_id"], error["available"], error["product_id"]) == (
        small.pk,
        2,
        product.pk,
    )
    ProductVariant.objects.filter(pk=small.pk).update(is_active=False)
    inactive = user_client.post(CART, {"variant": small.pk}, format="json")
    assert problem_codes(inactive) == (409, "product_unavailable")
    assert not CartItem.objects.exists()


def test_guest_first_add_by_variant_creates_the_cart(api_client):
    _, small, _ = _shirt()
    response = api_client.post(CART, {"variant": small.pk}, format="json")
    assert response.status_code == 201 and response["X-Cart-Token"]


def test_warnings_are_per_variant(user, user_client):
    _, small, large = _shirt()
    cart = CartFactory(user=user)
    small_line = CartItemFactory(cart=cart, variant=small, quantity=2)
    large_line = CartItemFactory(cart=cart, variant=large, quantity=1)
    ProductVariant.objects.filter(pk=small.pk).update(stock_quantity=1)
    ProductVariant.objects.filter(pk=large.pk).update(price=Decimal("25.00"))

    warnings = user_client.get(CART).json()["warnings"]

    assert {(w["code"], w["item_id"]) for w in warnings} == {
        ("insufficient_stock", small_line.pk),
        ("price_changed", large_line.pk),
    }
    assert "Tee (L)" in next(w["message"] for w in warnings if w["code"] == "price_changed")
    ProductVariant.objects.filter(pk=large.pk).update(is_active=False)
    codes = {(w["code"], w["item_id"]) for w in user_client.get(CART).json()["warnings"]}
    assert ("product_inactive", large_line.pk) in codes


def test_merge_adds_up_per_variant(user):
    _, small, large = _shirt()
    mine = CartFactory(user=user)
    CartItemFactory(cart=mine, variant=large, quantity=2)
    guest = GuestCartFactory()
    CartItemFactory(cart=guest, variant=large, quantity=3)
    CartItemFactory(cart=guest, variant=small, quantity=5)  # only 2 left

    warnings = services.cart_merge(user=user, token=guest.token)

    assert warnings == []
    lines = {item.variant_id: item for item in CartItem.objects.filter(cart=mine)}
    assert (lines[large.pk].quantity, lines[small.pk].quantity) == (5, 2)
    assert lines[small.pk].quantity_requested == 5


def test_update_quantity_checks_the_variant_stock(user, user_client):
    _, small, _ = _shirt()
    line = CartItemFactory(cart=CartFactory(user=user), variant=small, quantity=1)
    assert problem_codes(user_client.patch(f"{CART}{line.pk}/", {"quantity": 3})) == (
        409,
        "out_of_stock",
    )
    assert user_client.patch(f"{CART}{line.pk}/", {"quantity": 2}).status_code == 200


def test_factory_lines_use_the_default_variant(user):
    product = ProductFactory()
    line = CartItemFactory(cart=CartFactory(user=user), product=product)
    assert line.variant == default_variant(product)
