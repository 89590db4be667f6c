"""The orders API: visibility, pagination, filters, cancellation, staff changes, history,
permissions and a fixed query count."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from catalog.models import Product
from nexus.testing import problem_codes
from orders import services
from orders.models import Order
from orders.tests.factories import ProductFactory, UserFactory, place_order

pytestmark = pytest.mark.django_db

ORDERS = "/api/v1/orders/"


def _url(order, suffix=""):
    return f"{ORDERS}{order.pk}/{suffix}"


def test_list_shows_own_orders_newest_first_paginated(user_client, user, other_user):
    mine = [place_order(user) for _ in range(3)]
    place_order(other_user)
    body = user_client.get(ORDERS, {"page_size": 2}).json()
    assert body["count"] == 3
    assert [o["id"] for o in body["results"]] == [mine[2].pk, mine[1].pk]
    assert body["next"] is not None
    second = user_client.get(body["next"]).json()
    assert [o["id"] for o in second["results"]] == [mine[0].pk]


def test_list_requires_login(api_client):
    assert problem_codes(api_client.get(ORDERS)) == (401, "not_authenticated")


def test_detail_of_own_order_and_404_for_others(user_client, other_client, user):
    order = place_order(user)
    response = user_client.get(_url(order))
    assert response.status_code == 200
    assert response.json()["number"] == order.number
    for suffix in ("", "events/"):
        assert problem_codes(other_client.get(_url(order, suffix))) == (404, "not_found")
    assert problem_codes(other_client.post(_url(order, "cancel/"))) == (404, "not_found")


def test_staff_see_every_order_and_filter(staff_client, user, other_user):
    a = place_order(user)
    b = place_order(other_user)
    services.order_process(order=b, actor=None)
    services.order_mark_paid(order=b, actor=None)
    Order.objects.filter(pk=a.pk).update(created_at=timezone.now() - timedelta(days=3))

    def ids(**params):
        response = staff_client.get(ORDERS, params)
        assert response.status_code == 200, response.content
        return {o["id"] for o in response.json()["results"]}

    assert ids() == {a.pk, b.pk}
    assert ids(status="processing") == {b.pk}
    assert ids(payment_status="unpaid") == {a.pk}
    assert ids(user=user.pk) == {a.pk}
    yesterday = (timezone.now() - timedelta(days=1)).isoformat()
    assert ids(created_after=yesterday) == {b.pk}
    assert ids(created_before=yesterday) == {a.pk}
    assert problem_codes(staff_client.get(ORDERS, {"status": "lost"})) == (400, "validation_error")


def test_customer_filters_only_narrow_their_own_orders(user_client, user, other_user):
    mine = place_order(user)
    place_order(other_user)
    response = user_client.get(ORDERS, {"user": other_user.pk})
    assert response.json()["count"] == 0
    assert user_client.get(ORDERS, {"status": "pending"}).json()["results"][0]["id"] == mine.pk


def test_customer_cancels_own_pending_order(user_client, user):
    product = ProductFactory(stock_quantity=3)
    order = place_order(user, (product, 2))
    response = user_client.post(_url(order, "cancel/"), {"note": "Oops"})
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "cancelled"
    assert response.json()["allowed_actions"] == []
    assert Product.objects.get(pk=product.pk).stock_quantity == 3
    assert problem_codes(user_client.post(_url(order, "cancel/"))) == (409, "invalid_transition")


def test_customer_cannot_cancel_a_shipped_order(user_client, user, staff_user):
    order = place_order(user)
    services.order_process(order=order, actor=staff_user)
    services.order_ship(order=order, actor=staff_user)
    assert problem_codes(user_client.post(_url(order, "cancel/"))) == (409, "invalid_transition")


def test_staff_can_cancel_any_order(staff_client, user):
    order = place_order(user)
    assert staff_client.post(_url(order, "cancel/")).json()["status"] == "cancelled"


@pytest.mark.parametrize(
    "suffix, body",
    [("status/", {"status": "processing"}), ("payment/", {"payment_status": "paid"})],
)
def test_staff_endpoints_are_403_for_owner_and_404_for_others(
    user_client, other_client, user, suffix, body
):
    order = place_order(user)
    assert problem_codes(user_client.post(_url(order, suffix), body)) == (403, "permission_denied")
    assert problem_codes(other_client.post(_url(order, suffix), body)) == (404, "not_found")
    assert Order.objects.get(pk=order.pk).status == "pending"
    assert Order.objects.get(pk=order.pk).payment_status == "unpaid"


def test_staff_walks_an_order_through_its_life(staff_client, user):
    order = place_order(user)
    steps = [
        ("status/", {"status": "processing", "note": "Picked"}, "status", "processing"),
        ("payment/", {"payment_status": "paid", "reference": "ch_1"}, "payment_status", "paid"),
        ("status/", {"status": "shipped", "tracking_number": "1Z1"}, "status", "shipped"),
        ("status/", {"status": "delivered"}, "status", "delivered"),
        ("payment/", {"payment_status": "refunded"}, "payment_status", "refunded"),
    ]
    for suffix, body, field, value in steps:
        response = staff_client.post(_url(order, suffix), body)
        assert response.status_code == 200, response.content
        assert response.json()[field] == value
    assert response.json()["tracking_number"] == "1Z1"
    assert response.json()["allowed_actions"] == []

    events = staff_client.get(_url(order, "events/")).json()
    assert [(e["kind"], e["from_value"], e["to_value"]) for e in events["results"]] == [
        ("placed", "", "pending"),
        ("status", "pending", "processing"),
        ("payment", "unpaid", "paid"),
        ("tracking", "", "1Z1"),
        ("status", "processing", "shipped"),
        ("status", "shipped", "delivered"),
        ("payment", "paid", "refunded"),
    ]
    assert events["results"][1]["note"] == "Picked"
    assert events["results"][1]["actor_role"] == "staff"
    assert events["results"][0]["actor_role"] == "customer"


@pytest.mark.parametrize(
    "suffix, body, code",
    [
        ("status/", {"status": "delivered"}, (409, "invalid_transition")),
        ("status/", {"status": "pending"}, (409, "invalid_transition")),
        ("status/", {"status": "lost"}, (400, "validation_error")),
        ("status/", {}, (400, "validation_error")),
        ("payment/", {"payment_status": "refunded"}, (409, "invalid_transition")),
        ("payment/", {"payment_status": "unpaid"}, (400, "validation_error")),
    ],
)
def test_staff_refusals(staff_client, user, suffix, body, code):
    order = place_order(user)
    assert problem_codes(staff_client.post(_url(order, suffix), body)) == code


def test_staff_cannot_pay_a_cancelled_order(staff_client, user):
    order = place_order(user)
    staff_client.post(_url(order, "cancel/"))
    response = staff_client.post(_url(order, "payment/"), {"payment_status": "paid"})
    assert problem_codes(response) == (409, "invalid_transition")


def test_allowed_actions_follow_the_caller(user_client, staff_client, user):
    order = place_order(user)
    assert user_client.get(_url(order)).json()["allowed_actions"] == ["cancel"]
    assert staff_client.get(_url(order)).json()["allowed_actions"] == [
        "cancel",
        "process",
        "mark_paid",
        "mark_failed",
    ]


def _list_queries(client) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(ORDERS, {"page_size": 50})
    assert response.status_code == 200
    return len(queries)


def test_list_runs_a_fixed_number_of_queries(staff_client):
    buyer = UserFactory()
    product = ProductFactory(stock_quantity=100)
    place_order(buyer, (product, 1))
    one = _list_queries(staff_client)
    for _ in range(19):
        place_order(buyer, (product, 1), (ProductFactory(), 2))
    twenty = _list_queries(staff_client)
    assert staff_client.get(ORDERS, {"page_size": 50}).json()["count"] == 20
    assert one == twenty


def test_detail_and_events_query_counts_do_not_grow_with_lines(user_client, user, staff_user):
    small = place_order(user)
    big = place_order(user, *((ProductFactory(), 1) for _ in range(10)))
    for order in (small, big):
        services.order_process(order=order, actor=staff_user)
    counts = []
    for order in (small, big):
        with CaptureQueriesContext(connection) as queries:
            assert user_client.get(_url(order)).status_code == 200
            assert user_client.get(_url(order, "events/")).status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1]
