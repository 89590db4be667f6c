"""The Django admin: the order list, search and filters, and actions that go through the
services (same rules, same history), with refusals shown as messages."""

import pytest
from django.contrib.messages import get_messages
from django.test import Client

from catalog.models import Product
from orders.models import Order, OrderEvent
from orders.tests.factories import ProductFactory, place_order

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/orders/order/"


@pytest.fixture
def admin_client_(admin_user) -> Client:
    client = Client()
    client.force_login(admin_user)
    return client


def _action(client, action, *orders):
    return client.post(
        CHANGELIST,
        {"action": action, "_selected_action": [o.pk for o in orders]},
        follow=True,
    )


def test_changelist_search_filters_and_detail_render(admin_client_, user):
    order = place_order(user)
    assert admin_client_.get(CHANGELIST).status_code == 200
    found = admin_client_.get(CHANGELIST, {"q": order.number})
    assert order.number in found.content.decode()
    by_email = admin_client_.get(CHANGELIST, {"q": user.email})
    assert order.number in by_email.content.decode()
    filtered = admin_client_.get(
        CHANGELIST, {"status__exact": "pending", "payment_status__exact": "unpaid"}
    )
    assert filtered.status_code == 200
    detail = admin_client_.get(f"{CHANGELIST}{order.pk}/change/")
    assert detail.status_code == 200
    assert order.items.get().product_name in detail.content.decode()


def test_admin_actions_use_the_services_and_record_history(admin_client_, admin_user, user):
    product = ProductFactory(stock_quantity=5)
    order = place_order(user, (product, 2))
    for action in ("mark_processing", "mark_paid", "mark_shipped", "mark_delivered"):
        response = _action(admin_client_, action, order)
        assert response.status_code == 200
    order.refresh_from_db()
    assert (order.status, order.payment_status) == ("delivered", "paid")
    assert OrderEvent.objects.filter(order=order, actor=admin_user).count() == 4


def test_admin_cancel_restores_stock_and_invalid_moves_are_messages(admin_client_, user):
    product = ProductFactory(stock_quantity=5)
    order = place_order(user, (product, 2))
    _action(admin_client_, "cancel", order)
    assert Product.objects.get(pk=product.pk).stock_quantity == 5

    response = _action(admin_client_, "mark_shipped", order)
    assert response.status_code == 200
    messages = [str(m) for m in get_messages(response.wsgi_request)]
    assert any(order.number in m and "cancelled" in m for m in messages), messages
    assert Order.objects.get(pk=order.pk).status == "cancelled"

    _action(admin_client_, "cancel", order)  # a second cancel changes nothing
    assert Product.objects.get(pk=product.pk).stock_quantity == 5


def test_admin_cannot_add_or_delete_orders(admin_client_, user):
    order = place_order(user)
    assert admin_client_.get(f"{CHANGELIST}add/").status_code == 403
    assert admin_client_.get(f"{CHANGELIST}{order.pk}/delete/").status_code == 403


def test_staff_without_change_permission_get_no_actions(user):
    from orders.tests.factories import UserFactory

    viewer = UserFactory(is_staff=True)
    viewer.user_permissions.add(*_perms("view_order"))
    client = Client()
    client.force_login(viewer)
    order = place_order(user)
    response = _action(client, "mark_processing", order)
    assert response.status_code == 200
    assert Order.objects.get(pk=order.pk).status == "pending"


def _perms(*codenames):
    from django.contrib.auth.models import Permission

    return Permission.objects.filter(content_type__app_label="orders", codename__in=codenames)
