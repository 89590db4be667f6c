"""The abandoned-carts command and the admin's cart list."""

from datetime import timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone

from cart.models import Cart
from cart.tests.factories import CartFactory, CartItemFactory, GuestCartFactory, ProductFactory

pytestmark = pytest.mark.django_db


def _age(cart: Cart, **delta) -> None:
    Cart.objects.filter(pk=cart.pk).update(updated_at=timezone.now() - timedelta(**delta))


def _run(*args) -> str:
    out = StringIO()
    call_command("carts_abandoned", *args, stdout=out)
    return out.getvalue()


def test_carts_abandoned_lists_idle_non_empty_carts_with_value(user):
    idle = CartFactory(user=user)
    CartItemFactory(cart=idle, product=ProductFactory(price=Decimal("12.50")), quantity=2)
    _age(idle, hours=30)
    fresh = CartFactory()
    CartItemFactory(cart=fresh)
    empty = GuestCartFactory()
    _age(empty, hours=30)

    out = _run("--hours", "24")

    assert f"cart {idle.pk}\t{user.email}\t1 lines\t2 units\t25.00 USD" in out
    assert f"cart {fresh.pk}\t" not in out
    assert f"cart {empty.pk}\t" not in out
    assert "1 abandoned carts (not updated for 24 h), worth 25.00 USD." in out


def test_carts_abandoned_purges_only_stale_guest_carts(user):
    stale_guest = GuestCartFactory()
    CartItemFactory(cart=stale_guest)
    _age(stale_guest, days=31)
    recent_guest = GuestCartFactory()
    _age(recent_guest, days=5)
    stale_user_cart = CartFactory(user=user)
    _age(stale_user_cart, days=60)

    out = _run("--purge-guests", "--days", "30")

    assert "Deleted 1 guest carts not updated for 30 days." in out
    assert set(Cart.objects.values_list("pk", flat=True)) == {recent_guest.pk, stale_user_cart.pk}


def test_carts_abandoned_refuses_non_positive_windows():
    with pytest.raises(CommandError):
        _run("--hours", "0")


def test_cart_admin_lists_carts_with_abandoned_filter(admin_user):
    idle = CartFactory()
    CartItemFactory(cart=idle)
    _age(idle, hours=48)
    active = GuestCartFactory()
    CartItemFactory(cart=active)
    client = Client()
    client.force_login(admin_user)

    abandoned = client.get("/admin/cart/cart/?abandoned=yes")
    others = client.get("/admin/cart/cart/?abandoned=no")
    change = client.get(f"/admin/cart/cart/{idle.pk}/change/")

    assert abandoned.status_code == 200
    assert list(abandoned.context["cl"].result_list) == [idle]
    assert list(others.context["cl"].result_list) == [active]
    assert change.status_code == 200
    assert b"quantity_requested" in change.content or b"Quantity requested" in change.content
