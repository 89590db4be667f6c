"""Contract tests of the cart endpoints through the HTTP API."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from cart.models import Cart, CartItem
from cart.tests.factories import (
    CartFactory,
    CartItemFactory,
    GuestCartFactory,
    ProductFactory,
    ProductImageFactory,
)
from catalog.tests.factories import variant_set
from nexus.testing import client_for, problem_codes
from users.tests.factories import UserFactory

pytestmark = pytest.mark.django_db

CART = "/api/v1/cart/"


def item_url(item_id: int) -> str:
    return f"{CART}{item_id}/"


def guest(token: str | None = None) -> APIClient:
    client = APIClient()
    if token:
        client.credentials(HTTP_X_CART_TOKEN=token)
    return client


# --------------------------------------------------------------------------- GET cart/


def test_cart_get_guest_without_token_is_empty_and_creates_nothing(api_client):
    response = api_client.get(CART)

    assert response.status_code == 200
    assert response.json() == {
        "id": None,
        "cart_token": None,
        "items": [],
        "total_items": 0,
        "subtotal": "0.00",
        "currency": "USD",
        "warnings": [],
        "updated_at": None,
    }
    assert "X-Cart-Token" not in response
    assert not Cart.objects.exists()


def test_cart_get_guest_unknown_token_is_empty():
    response = guest("not-a-real-token").get(CART)

    assert response.status_code == 200
    assert response.json()["id"] is None
    assert not Cart.objects.exists()


def test_cart_get_user_shape_and_money(user, user_client):
    product = ProductFactory(name="Blue mug", price=Decimal("12.50"), stock_quantity=3)
    ProductImageFactory(product=product, image="products/1/mug.png")
    ProductImageFactory(product=product, image="products/1/other.png", is_primary=False)
    cart = CartFactory(user=user)
    item = CartItemFactory(cart=cart, product=product, quantity=2)

    response = user_client.get(CART)

    assert response.status_code == 200
    body = response.json()
    assert body["id"] == cart.pk
    assert body["cart_token"] is None
    assert "X-Cart-Token" not in response
    assert body["items"] == [
        {
            "id": item.pk,
            "product": {
                "id": product.pk,
                "name": "Blue mug",
                "slug": product.slug,
                "price": "12.50",
                "image": "http://testserver/media/products/1/mug.png",
                "in_stock": True,
            },
            # Added by variants (v1.1): the line's variant, here the default one.
            "variant": {"id": item.variant_id, "sku": product.sku, "name": "", "options": {}},
            "quantity": 2,
            "unit_price": "12.50",
            "line_total": "25.00",
        }
    ]
    assert body["total_items"] == 2
    assert body["subtotal"] == "25.00"
    assert body["currency"] == "USD"
    assert body["warnings"] == []
    assert body["updated_at"].endswith(("Z", "+00:00"))


def test_cart_get_user_without_cart_creates_one_persistent_cart(user, user_client):
    first = user_client.get(CART).json()
    second = user_client.get(CART).json()

    assert first["id"] is not None
    assert first["id"] == second["id"]
    assert Cart.objects.filter(user=user).count() == 1


def test_cart_get_image_null_without_primary_image(user, user_client):
    product = ProductFactory()
    ProductImageFactory(product=product, is_primary=False)
    CartItemFactory(cart=CartFactory(user=user), product=product)

    assert user_client.get(CART).json()["items"][0]["product"]["image"] is None


def test_cart_totals_use_current_prices(user, user_client):
    cart = CartFactory(user=user)
    cheap = ProductFactory(price=Decimal("1.10"))
    dear = ProductFactory(price=Decimal("100.00"))
    CartItemFactory(cart=cart, product=cheap, quantity=3)
    CartItemFactory(cart=cart, product=dear, quantity=1)
    variant_set(dear, price=Decimal("80.00"))  # prices live on variants

    body = user_client.get(CART).json()

    assert body["subtotal"] == "83.30"
    assert body["total_items"] == 4
    assert [line["line_total"] for line in body["items"]] == ["3.30", "80.00"]


def test_cart_invalid_bearer_is_401():
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")

    assert problem_codes(client.get(CART))[0] == 401
    assert problem_codes(client.post(CART, {"product": 1, "quantity": 1}))[0] == 401


def test_cart_user_cart_token_is_not_a_guest_key(user):
    cart = CartFactory(user=user)
    CartItemFactory(cart=cart)

    response = guest(cart.token).get(CART)

    assert response.json()["id"] is None
    assert response.json()["items"] == []


# --------------------------------------------------------------------------- warnings


def test_cart_warnings_flag_changed_lines(user, user_client):
    cart = CartFactory(user=user)
    inactive = CartItemFactory(cart=cart, product=ProductFactory(is_active=False))
    sold_out = CartItemFactory(cart=cart, product=ProductFactory(stock_quantity=0))
    short = CartItemFactory(cart=cart, product=ProductFactory(stock_quantity=2), quantity=5)
    repriced = CartItemFactory(cart=cart, product=ProductFactory(price=Decimal("9.00")))
    repriced.unit_price_at_add = Decimal("7.50")
    repriced.save()
    CartItemFactory(cart=cart)  # unchanged: no warning

    warnings = user_client.get(CART).json()["warnings"]

    assert {(w["code"], w["item_id"]) for w in warnings} == {
        ("product_inactive", inactive.pk),
        ("out_of_stock", sold_out.pk),
        ("insufficient_stock", short.pk),
        ("price_changed", repriced.pk),
    }
    price_warning = next(w for w in warnings if w["code"] == "price_changed")
    assert "7.50" in price_warning["message"]
    assert "9.00" in price_warning["message"]


def test_cart_update_acknowledges_new_price(user, user_client):
    product = ProductFactory(price=Decimal("9.00"))
    item = CartItemFactory(
        cart=CartFactory(user=user), product=product, unit_price_at_add=Decimal("5.00")
    )
    assert user_client.get(CART).json()["warnings"][0]["code"] == "price_changed"

    user_client.patch(item_url(item.pk), {"quantity": 2})

    assert user_client.get(CART).json()["warnings"] == []


# --------------------------------------------------------------------------- POST cart/


def test_cart_add_creates_line_201(user, user_client):
    product = ProductFactory(price=Decimal("4.25"))

    response = user_client.post(CART, {"product": product.pk, "quantity": 2})

    assert response.status_code == 201
    body = response.json()
    assert body["product"]["id"] == product.pk
    assert body["quantity"] == 2
    assert body["unit_price"] == "4.25"
    assert body["line_total"] == "8.50"
    item = CartItem.objects.get(pk=body["id"])
    assert item.cart.user == user
    assert item.unit_price_at_add == Decimal("4.25")


def test_cart_add_quantity_defaults_to_one(user_client):
    response = user_client.post(CART, {"product": ProductFactory().pk})

    assert response.status_code == 201
    assert response.json()["quantity"] == 1


def test_cart_add_same_product_adds_to_its_line(user, user_client):
    product = ProductFactory(stock_quantity=10)

    first = user_client.post(CART, {"product": product.pk, "quantity": 2}).json()
    second = user_client.post(CART, {"product": product.pk, "quantity": 3}).json()

    assert second["id"] == first["id"]
    assert second["quantity"] == 5
    assert CartItem.objects.filter(cart__user=user).count() == 1


def test_cart_add_unknown_product_is_400(user_client):
    response = user_client.post(CART, {"product": 999999, "quantity": 1})

    assert problem_codes(response) == (400, "validation_error")
    assert response.json()["errors"][0]["field"] == "product"
    assert response.json()["errors"][0]["code"] == "does_not_exist"


def test_cart_add_inactive_product_is_409(user_client):
    product = ProductFactory(is_active=False)

    response = user_client.post(CART, {"product": product.pk, "quantity": 1})

    assert problem_codes(response) == (409, "product_unavailable")
    assert not CartItem.objects.exists()


def test_cart_add_above_stock_is_409_with_available(user_client):
    product = ProductFactory(name="Blue mug", stock_quantity=2)

    response = user_client.post(CART, {"product": product.pk, "quantity": 3})

    assert problem_codes(response) == (409, "out_of_stock")
    body = response.json()
    assert body["detail"] == "Only 2 of Blue mug left."
    assert body["errors"][0]["available"] == 2
    assert body["errors"][0]["requested"] == 3
    assert not CartItem.objects.exists()


def test_cart_add_above_stock_counts_the_line_already_there(user_client):
    product = ProductFactory(stock_quantity=4)
    user_client.post(CART, {"product": product.pk, "quantity": 3})

    response = user_client.post(CART, {"product": product.pk, "quantity": 2})

    assert problem_codes(response) == (409, "out_of_stock")
    assert response.json()["errors"][0]["available"] == 4
    assert CartItem.objects.get().quantity == 3


@pytest.mark.parametrize(
    ("payload", "field", "code"),
    [
        ({"product": "x", "quantity": 1}, "product", "invalid"),
        ({"quantity": 1}, "product", "required"),
        ({"product": 1, "quantity": 0}, "quantity", "min_value"),
        ({"product": 1, "quantity": -2}, "quantity", "min_value"),
        ({"product": 1, "quantity": 1.5}, "quantity", "invalid"),
        ({"product": 1, "quantity": 1001}, "quantity", "max_value"),
        ({"product": 10**30, "quantity": 1}, "product", "max_value"),
    ],
)
def test_cart_add_bad_input_is_400(user_client, payload, field, code):
    response = user_client.post(CART, payload)

    assert problem_codes(response) == (400, "validation_error")
    assert {"field": field, "code": code} in [
        {"field": e["field"], "code": e["code"]} for e in response.json()["errors"]
    ]


def test_cart_add_line_above_maximum_is_400(settings, user_client):
    settings.NEXUS_CART_MAX_QUANTITY = 5
    product = ProductFactory(stock_quantity=100)
    user_client.post(CART, {"product": product.pk, "quantity": 4})

    response = user_client.post(CART, {"product": product.pk, "quantity": 2})

    assert problem_codes(response) == (400, "validation_error")
    assert response.json()["errors"][0]["code"] == "max_value"
    assert CartItem.objects.get().quantity == 4


# --------------------------------------------------------------------------- PUT/PATCH/DELETE


@pytest.mark.parametrize("method", ["put", "patch"])
def test_cart_item_update_sets_quantity(user, user_client, method):
    item = CartItemFactory(cart=CartFactory(user=user), quantity=1)

    response = getattr(user_client, method)(item_url(item.pk), {"quantity": 4})

    assert response.status_code == 200
    assert response.json()["quantity"] == 4
    assert response.json()["line_total"] == "40.00"
    item.refresh_from_db()
    assert item.quantity == 4


def test_cart_item_update_zero_removes_line(user, user_client):
    item = CartItemFactory(cart=CartFactory(user=user))

    response = user_client.put(item_url(item.pk), {"quantity": 0})

    assert response.status_code == 204
    assert not CartItem.objects.filter(pk=item.pk).exists()


def test_cart_item_update_above_stock_is_409(user, user_client):
    item = CartItemFactory(cart=CartFactory(user=user), product=ProductFactory(stock_quantity=3))

    response = user_client.patch(item_url(item.pk), {"quantity": 4})

    assert problem_codes(response) == (409, "out_of_stock")
    assert response.json()["errors"][0]["available"] == 3


def test_cart_item_update_inactive_product_is_409(user, user_client):
    item = CartItemFactory(cart=CartFactory(user=user), product=ProductFactory(is_active=False))

    response = user_client.patch(item_url(item.pk), {"quantity": 2})

    assert problem_codes(response) == (409, "product_unavailable")


@pytest.mark.parametrize("payload", [{}, {"quantity": -1}, {"quantity": "many"}])
def test_cart_item_update_bad_input_is_400(user, user_client, payload):
    item = CartItemFactory(cart=CartFactory(user=user))

    response = user_client.put(item_url(item.pk), payload)

    assert problem_codes(response) == (400, "validation_error")
    assert response.json()["errors"][0]["field"] == "quantity"


def test_cart_item_delete_204(user, user_client):
    item = CartItemFactory(cart=CartFactory(user=user))

    response = user_client.delete(item_url(item.pk))

    assert response.status_code == 204
    assert not CartItem.objects.filter(pk=item.pk).exists()


@pytest.mark.parametrize(
    ("method", "payload"),
    [("put", {"quantity": 2}), ("patch", {"quantity": 2}), ("put", {}), ("delete", None)],
)
def test_cart_item_of_another_user_is_404(other_user, user_client, method, payload):
    item = CartItemFactory(cart=CartFactory(user=other_user), quantity=1)

    response = getattr(user_client, method)(item_url(item.pk), payload)

    assert problem_codes(response) == (404, "not_found")
    item.refresh_from_db()
    assert item.quantity == 1


def test_cart_item_of_a_guest_cart_is_404_for_other_callers(user_client):
    item = CartItemFactory(cart=GuestCartFactory())

    assert problem_codes(user_client.delete(item_url(item.pk))) == (404, "not_found")
    assert problem_codes(guest().delete(item_url(item.pk))) == (404, "not_found")
    assert problem_codes(guest("wrong").patch(item_url(item.pk), {"quantity": 2}))[0] == 404
    assert CartItem.objects.filter(pk=item.pk).exists()


def test_cart_item_unknown_id_is_404(user_client):
    assert problem_codes(user_client.delete(item_url(12345)))[0] == 404
    assert problem_codes(user_client.delete(item_url(10**25)))[0] == 404


def test_cart_delete_empties_the_cart(user, user_client):
    cart = CartFactory(user=user)
    CartItemFactory.create_batch(3, cart=cart)
    other = CartItemFactory()

    response = user_client.delete(CART)

    assert response.status_code == 204
    assert not cart.items.exists()
    assert Cart.objects.filter(pk=cart.pk).exists()
    assert CartItem.objects.filter(pk=other.pk).exists()


def test_cart_delete_guest_without_cart_is_204(api_client):
    assert api_client.delete(CART).status_code == 204
    assert not Cart.objects.exists()


# --------------------------------------------------------------------------- guests


def test_cart_guest_flow_end_to_end():
    product = ProductFactory(price=Decimal("3.00"), stock_quantity=10)
    other = ProductFactory(price=Decimal("5.00"))

    # Given a first add without token: a guest cart is created and its token returned
    created = guest().post(CART, {"product": product.pk, "quantity": 2})
    assert created.status_code == 201
    token = created["X-Cart-Token"]
    assert len(token) >= 40
    assert created.json()["cart_token"] == token
    cart = Cart.objects.get(token=token)
    assert cart.user is None

    client = guest(token)
    # Later requests with the token reach the same cart
    added = client.post(CART, {"product": other.pk, "quantity": 1})
    assert added.status_code == 201
    assert added["X-Cart-Token"] == token
    assert Cart.objects.count() == 1

    body = client.get(CART).json()
    assert body["id"] == cart.pk
    assert body["cart_token"] == token
    assert body["subtotal"] == "11.00"

    line = body["items"][0]["id"]
    assert client.patch(item_url(line), {"quantity": 5}).json()["quantity"] == 5
    assert client.delete(item_url(line)).status_code == 204
    assert client.get(CART).json()["total_items"] == 1
    assert client.delete(CART).status_code == 204
    assert client.get(CART).json()["items"] == []


def test_cart_guest_add_with_unknown_token_starts_a_new_cart():
    response = guest("stale-token").post(CART, {"product": ProductFactory().pk})

    assert response.status_code == 201
    assert response["X-Cart-Token"] != "stale-token"
    assert Cart.objects.get().token == response["X-Cart-Token"]


def test_cart_guest_errors_are_problems():
    response = guest().post(CART, {"product": ProductFactory(stock_quantity=0).pk})

    assert problem_codes(response) == (409, "out_of_stock")


# --------------------------------------------------------------------------- query budget


def _fill(cart, lines: int) -> None:
    for _ in range(lines):
        product = ProductFactory()
        ProductImageFactory(product=product)
        CartItemFactory(cart=cart, product=product, quantity=1)


def _queries(callable_) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = callable_()
    assert response.status_code in (200, 201), response.content
    return len(captured.captured_queries)


def test_cart_query_budget_is_fixed(user, other_user):
    small, large = CartFactory(user=user), CartFactory(user=other_user)
    _fill(small, 1)
    _fill(large, 20)
    small_client, large_client = client_for(user), client_for(other_user)
    product = ProductFactory()

    get_small = _queries(lambda: small_client.get(CART))
    get_large = _queries(lambda: large_client.get(CART))
    post_small = _queries(lambda: small_client.post(CART, {"product": product.pk}))
    post_large = _queries(lambda: large_client.post(CART, {"product": product.pk}))

    assert get_small == get_large
    assert post_small == post_large
    assert get_large <= 5
    assert post_large <= 10


def test_cart_guest_refused_first_add_leaves_no_cart():
    response = guest().post(CART, {"product": ProductFactory(is_active=False).pk})

    assert problem_codes(response) == (409, "product_unavailable")
    assert "X-Cart-Token" not in response
    assert not Cart.objects.exists()


@pytest.mark.parametrize("token", ["a" * 65, "bad token!", "nul\x00byte", "é" * 10])
def test_cart_malformed_token_is_no_cart(user, token):
    response = guest(token).get(CART)

    assert response.status_code == 200
    assert response.json()["id"] is None


def test_clearing_a_cart_that_vanished_is_not_found_not_500():
    from cart import services
    from cart.errors import CartNotFound
    from cart.tests.factories import GuestCartFactory

    cart = GuestCartFactory()
    Cart.objects.filter(pk=cart.pk).delete()  # merged or purged by a concurrent request
    with pytest.raises(CartNotFound):
        services.cart_clear(cart=cart)


def test_signed_in_cart_item_has_no_cart_token(user_client):
    product = ProductFactory()
    response = user_client.post(CART, {"product": product.pk, "quantity": 1})
    assert response.status_code == 201
    assert response.json()["cart_token"] is None


@pytest.mark.parametrize("has_cart", [True, False], ids=["cart", "first-use"])
def test_signed_in_cart_add_bumps_the_cart_it_finds(has_cart):
    """The add finds, locks and bumps the user's cart in one statement: the cart's
    ``updated_at`` (abandoned carts are found by it) moves on, and a user without a cart
    gets one holding the line."""
    user = UserFactory()
    before = timezone.now() - timedelta(days=3)
    if has_cart:
        cart = CartFactory(user=user)
        CartItemFactory(cart=cart)
        Cart.objects.filter(pk=cart.pk).update(updated_at=before)
    client = client_for(user)

    response = client.post(CART, {"product": ProductFactory().pk}, format="json")

    assert response.status_code == 201, response.content
    cart = Cart.objects.get(user=user)
    assert cart.updated_at > before + timedelta(days=2)
    assert cart.items.count() == (2 if has_cart else 1)
    body = client.get(CART).json()
    assert response.json()["id"] in [item["id"] for item in body["items"]]
