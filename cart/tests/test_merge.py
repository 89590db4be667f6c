"""Merging a guest cart into a user's: the service rules, and both ways in (a signed-in
cart request carrying X-Cart-Token, and a login with ``cart_token``)."""

import pytest
from rest_framework.test import APIClient

from cart import services
from cart.models import Cart, CartItem
from cart.tests.factories import CartFactory, CartItemFactory, GuestCartFactory, ProductFactory
from nexus.testing import problem_codes
from users.services import user_login
from users.tests.factories import DEFAULT_PASSWORD
from users.tokens import tokens_for_user

pytestmark = pytest.mark.django_db

CART = "/api/v1/cart/"
LOGIN = "/api/v1/auth/login/"


def signed_in_with_token(user, token: str) -> APIClient:
    client = APIClient()
    access = tokens_for_user(user)["access"]
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}", HTTP_X_CART_TOKEN=token)
    return client


def test_cart_merge_moves_lines_and_deletes_guest_cart(user):
    guest = GuestCartFactory()
    line = CartItemFactory(cart=guest, quantity=2)

    warnings = services.cart_merge(user=user, token=guest.token)

    assert warnings == []
    assert not Cart.objects.filter(pk=guest.pk).exists()
    line.refresh_from_db()
    assert line.cart == Cart.objects.get(user=user)
    assert line.quantity == 2


def test_cart_merge_adds_quantities_of_the_same_product(user):
    product = ProductFactory(stock_quantity=10)
    mine = CartItemFactory(cart=CartFactory(user=user), product=product, quantity=3)
    guest = GuestCartFactory()
    CartItemFactory(cart=guest, product=product, quantity=4)

    services.cart_merge(user=user, token=guest.token)

    mine.refresh_from_db()
    assert mine.quantity == 7
    assert CartItem.objects.filter(cart__user=user).count() == 1


def test_cart_merge_caps_at_stock_and_warns(user, user_client):
    product = ProductFactory(name="Lamp", stock_quantity=5)
    mine = CartItemFactory(cart=CartFactory(user=user), product=product, quantity=3)
    guest = GuestCartFactory()
    CartItemFactory(cart=guest, product=product, quantity=4)

    services.cart_merge(user=user, token=guest.token)

    mine.refresh_from_db()
    assert mine.quantity == 5
    warnings = user_client.get(CART).json()["warnings"]
    assert [(w["code"], w["item_id"]) for w in warnings] == [("quantity_capped", mine.pk)]
    assert "Only 5 of Lamp" in warnings[0]["message"]

    # Changing the line is the shopper's acknowledgement.
    user_client.patch(f"{CART}{mine.pk}/", {"quantity": 4})
    assert user_client.get(CART).json()["warnings"] == []


def test_cart_merge_drops_lines_with_nothing_available(user):
    guest = GuestCartFactory()
    CartItemFactory(cart=guest, product=ProductFactory(stock_quantity=0))
    CartItemFactory(cart=guest, product=ProductFactory(is_active=False))

    warnings = services.cart_merge(user=user, token=guest.token)

    assert [(w["code"], w["item_id"]) for w in warnings] == [("quantity_capped", None)] * 2
    assert not CartItem.objects.exists()
    assert not Cart.objects.filter(pk=guest.pk).exists()


def test_cart_merge_twice_does_nothing_the_second_time(user):
    product = ProductFactory(stock_quantity=10)
    guest = GuestCartFactory()
    CartItemFactory(cart=guest, product=product, quantity=2)

    services.cart_merge(user=user, token=guest.token)
    assert services.cart_merge(user=user, token=guest.token) == []

    assert CartItem.objects.get(cart__user=user).quantity == 2


def test_cart_merge_ignores_another_users_cart_token(user, other_user):
    theirs = CartFactory(user=other_user)
    CartItemFactory(cart=theirs, quantity=1)

    services.cart_merge(user=user, token=theirs.token)

    assert theirs.items.count() == 1
    assert not CartItem.objects.filter(cart__user=user).exists()


def test_cart_signed_in_request_with_guest_token_merges(user):
    product = ProductFactory(stock_quantity=10)
    guest = GuestCartFactory()
    CartItemFactory(cart=guest, product=product, quantity=2)
    user_client = signed_in_with_token(user, guest.token)

    body = user_client.get(CART).json()

    assert body["cart_token"] is None
    assert [(line["product"]["id"], line["quantity"]) for line in body["items"]] == [
        (product.pk, 2)
    ]
    assert not Cart.objects.filter(pk=guest.pk).exists()
    # The stale header on the next request is harmless.
    assert user_client.post(CART, {"product": product.pk}).json()["quantity"] == 3


def test_cart_signed_in_request_reports_dropped_lines(user):
    guest = GuestCartFactory()
    CartItemFactory(cart=guest, product=ProductFactory(stock_quantity=0))
    user_client = signed_in_with_token(user, guest.token)

    warnings = user_client.get(CART).json()["warnings"]

    assert [(w["code"], w["item_id"]) for w in warnings] == [("quantity_capped", None)]


def test_cart_login_with_cart_token_merges(user):
    product = ProductFactory(stock_quantity=10)
    CartItemFactory(cart=CartFactory(user=user), product=product, quantity=1)
    token = APIClient().post(CART, {"product": product.pk, "quantity": 2})["X-Cart-Token"]

    response = APIClient().post(
        LOGIN, {"email": user.email, "password": DEFAULT_PASSWORD, "cart_token": token}
    )

    assert response.status_code == 200
    assert CartItem.objects.get(cart__user=user).quantity == 3
    assert not Cart.objects.filter(token=token).exists()


def test_cart_login_hook_merges_the_token_passed_by_the_login_service(user):
    # The login hook (users/__init__.py): user_login sends the token it was given as the
    # signal's cart_token; the receiver does not read the request body.
    guest = GuestCartFactory()
    CartItemFactory(cart=guest, quantity=2)

    user_login(
        request=None,
        email=user.email,
        password=DEFAULT_PASSWORD,
        address="127.0.0.1",
        cart_token=guest.token,
    )

    assert CartItem.objects.get(cart__user=user).quantity == 2
    assert not Cart.objects.filter(pk=guest.pk).exists()


def test_cart_login_without_cart_token_leaves_guest_carts_alone(user):
    guest = GuestCartFactory()
    CartItemFactory(cart=guest)

    user_login(request=None, email=user.email, password=DEFAULT_PASSWORD, address="127.0.0.1")

    assert Cart.objects.filter(pk=guest.pk, user=None).exists()


def test_cart_login_with_unknown_cart_token_still_logs_in(user):
    response = APIClient().post(
        LOGIN, {"email": user.email, "password": DEFAULT_PASSWORD, "cart_token": "nope"}
    )

    assert response.status_code == 200


def test_cart_failed_login_does_not_merge(user):
    guest = GuestCartFactory()
    CartItemFactory(cart=guest)

    response = APIClient().post(
        LOGIN, {"email": user.email, "password": "wrong-password", "cart_token": guest.token}
    )

    assert problem_codes(response) == (401, "invalid_credentials")
    assert Cart.objects.filter(pk=guest.pk, user=None).exists()


def test_cart_signed_in_add_with_guest_token_merges_first(user):
    product = ProductFactory(stock_quantity=10)
    guest = GuestCartFactory()
    CartItemFactory(cart=guest, product=product, quantity=2)

    response = signed_in_with_token(user, guest.token).post(
        CART, {"product": product.pk, "quantity": 1}
    )

    assert response.status_code == 201
    assert response.json()["quantity"] == 3
    assert "X-Cart-Token" not in response
    assert not Cart.objects.filter(pk=guest.pk).exists()


def test_cart_admin_login_without_request_data_does_not_break(admin_user, client):
    # Django's own login (admin) sends user_logged_in with a plain HttpRequest.
    client.force_login(admin_user)

    assert client.get("/admin/cart/cart/").status_code == 200
