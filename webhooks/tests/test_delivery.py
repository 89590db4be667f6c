"""Deliveries against a real HTTP receiver on a loopback port: signing, retries, final
failures, timeouts, deactivation, redelivery and per-order ordering."""

import json

import pytest
from django.core import mail

from catalog.tests.factories import ProductFactory
from nexus.events import event_emit
from nexus.models import OutboxMessage
from nexus.outbox import outbox_deliver
from orders import services as order_services
from orders.tests.factories import place_order
from users.tests.factories import UserFactory
from webhooks import services
from webhooks.models import DeliveryStatus, WebhookDelivery
from webhooks.signing import signature_verify
from webhooks.tests.helpers import drain, endpoint_for
from webhooks.tests.receiver import Receiver

pytestmark = pytest.mark.django_db


def _emit(n: int = 1, *, type: str = "order.created"):
    for i in range(n):
        event_emit(type=type, data={"n": i}, key=f"test:{i}")


def test_order_created_is_delivered_signed_with_the_api_representation():
    user = UserFactory()
    product = ProductFactory(stock_quantity=10)
    with Receiver() as receiver:
        endpoint = endpoint_for(receiver.url)
        order = place_order(user, (product, 2))
        assert drain() == ["delivered"]
    (request,) = receiver.requests
    assert signature_verify(
        secret=endpoint.secret, body=request.body, header=request.headers["Nexus-Signature"]
    )
    assert not signature_verify(
        secret=endpoint.secret + "x", body=request.body, header=request.headers["Nexus-Signature"]
    )
    payload = json.loads(request.body)
    assert set(payload) == {"id", "type", "version", "created_at", "data"}
    assert payload["type"] == "order.created" and payload["version"] == 1
    assert request.headers["Nexus-Event-Id"] == payload["id"]
    assert request.headers["Content-Type"] == "application/json"
    data = payload["data"]
    assert data["order"]["id"] == order.pk and data["order"]["number"] == order.number
    assert data["order"]["total"] == str(order.total)  # money as the API writes it
    assert data["order"]["items"][0]["quantity"] == 2
    assert data["customer"] == {"id": user.pk, "email": user.email}
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == DeliveryStatus.DELIVERED
    assert (delivery.attempts, delivery.response_status, delivery.response_body) == (1, 200, "ok")
    assert delivery.duration_ms is not None
    endpoint.refresh_from_db()
    assert endpoint.last_delivery_at is not None and endpoint.failure_count == 0


def test_500_twice_then_200_is_delivered_on_the_third_attempt():
    with Receiver([500, 500, 200]) as receiver:
        endpoint_for(receiver.url)
        _emit()
        assert drain() == ["retry", "retry", "delivered"]
    assert len(receiver.requests) == 3
    ids = {request.headers["Nexus-Event-Id"] for request in receiver.requests}
    assert len(ids) == 1  # the same event each time: the receiver can dedupe
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.response_status) == ("delivered", 3, 200)


@pytest.mark.parametrize("code", [408, 429, 503])
def test_retryable_statuses_are_retried(code):
    with Receiver([code]) as receiver:
        endpoint_for(receiver.url)
        _emit()
        assert drain() == ["retry", "delivered"]


@pytest.mark.parametrize("code", [400, 404, 410, 422])
def test_other_4xx_is_final_without_retry(code):
    with Receiver([code]) as receiver:
        endpoint = endpoint_for(receiver.url)
        _emit()
        assert drain() == ["failed"]
    assert len(receiver.requests) == 1
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.response_status) == ("failed", 1, code)
    endpoint.refresh_from_db()
    assert endpoint.failure_count == 1  # a final failure counts at once


def test_a_redirect_is_not_followed_and_is_final():
    with Receiver() as target, Receiver([("redirect", None)]) as receiver:
        receiver.script[0] = ("redirect", target.url)
        endpoint_for(receiver.url)
        _emit()
        assert drain() == ["failed"]
    assert target.requests == []
    assert WebhookDelivery.objects.get().response_status == 302


def test_a_hanging_receiver_times_out_and_is_retried(settings):
    with Receiver([("hang", 3)]) as receiver:
        endpoint_for(receiver.url)
        _emit()
        assert drain() == ["retry", "delivered"]
    assert len(receiver.requests) == 2


def test_the_timeout_is_recorded_on_the_delivery_log():
    with Receiver([("hang", 3)]) as receiver:
        endpoint_for(receiver.url)
        _emit()
        message = OutboxMessage.objects.get(kind="webhook")
        assert outbox_deliver(message_id=message.pk) == "retry"
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == DeliveryStatus.PENDING and delivery.attempts == 1
    assert delivery.response_status is None and "timeout" in delivery.last_error
    assert delivery.duration_ms >= 900


def test_eight_attempts_at_most():
    with Receiver(default=500) as receiver:
        endpoint_for(receiver.url)
        _emit()
        outcomes = drain()
    assert outcomes == ["retry"] * 7 + ["failed"]
    assert len(receiver.requests) == 8
    assert WebhookDelivery.objects.get().status == DeliveryStatus.FAILED


def test_twenty_consecutive_failed_deliveries_deactivate_the_endpoint_and_email_admins(
    django_capture_on_commit_callbacks,
):
    admin = UserFactory(is_staff=True, is_superuser=True)
    with Receiver(default=410) as receiver:
        endpoint = endpoint_for(receiver.url)
        _emit(21)
        with django_capture_on_commit_callbacks(execute=True):
            drain()
    # The 21st delivery is not attempted: the endpoint was deactivated by the 20th.
    assert len(receiver.requests) == 20
    endpoint.refresh_from_db()
    assert not endpoint.is_active and endpoint.failure_count == 20
    assert endpoint.deactivated_at is not None
    assert list(WebhookDelivery.objects.values_list("status", flat=True)) == ["failed"] * 21
    (email,) = mail.outbox
    assert email.to == [admin.email] and endpoint.url in email.subject
    # Nothing is recorded for an inactive endpoint.
    _emit()
    assert WebhookDelivery.objects.count() == 21


def test_retries_count_as_one_failure_and_a_success_resets_the_count():
    with Receiver(default=500) as receiver:
        endpoint = endpoint_for(receiver.url)
        _emit()
        assert drain()[-1] == "failed"  # 8 failed attempts, one failed delivery
        endpoint.refresh_from_db()
        assert endpoint.failure_count == 1 and endpoint.is_active
        receiver.default = 200
        _emit()
        assert drain() == ["delivered"]
    endpoint.refresh_from_db()
    assert endpoint.failure_count == 0


def test_redeliver_sends_the_same_event_again():
    with Receiver([410, 200]) as receiver:
        endpoint_for(receiver.url)
        _emit()
        drain()
        delivery = WebhookDelivery.objects.get()
        assert delivery.status == DeliveryStatus.FAILED
        services.delivery_redeliver(delivery=delivery)
        assert drain() == ["delivered"]
    first, second = receiver.requests
    assert first.body == second.body
    assert first.headers["Nexus-Event-Id"] == second.headers["Nexus-Event-Id"]
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.response_status) == ("delivered", 2, 200)


def test_order_created_is_delivered_before_order_paid(staff_user):
    """The first delivery fails once; order.paid waits for it instead of overtaking it."""
    user = UserFactory()
    product = ProductFactory(stock_quantity=10)
    with Receiver([500]) as receiver:
        endpoint_for(receiver.url, events=["order.created", "order.paid"])
        order = place_order(user, (product, 1))
        order_services.order_mark_paid(order=order, actor=staff_user, reference="pay_1")
        outcomes = drain()
    assert outcomes == ["retry", "deferred", "delivered", "delivered"]
    types = [json.loads(request.body)["type"] for request in receiver.requests]
    assert types == ["order.created", "order.created", "order.paid"]
    paid = json.loads(receiver.requests[-1].body)
    assert paid["data"]["order"]["payment_status"] == "paid"
    assert paid["data"]["previous_payment_status"] == "unpaid"


def test_deliveries_of_different_orders_do_not_wait_for_each_other():
    with Receiver([500]) as receiver:
        endpoint_for(receiver.url)
        _emit(2)
        assert drain() == ["retry", "delivered", "delivered"]
    assert len(receiver.requests) == 3


def test_each_subscribed_endpoint_gets_its_own_delivery():
    with Receiver() as first, Receiver([410]) as second, Receiver() as other:
        endpoint_for(first.url)
        endpoint_for(second.url)
        endpoint_for(other.url, events=["product.created"])
        _emit()
        assert sorted(drain()) == ["delivered", "failed"]
    assert len(first.requests) == 1 and len(second.requests) == 1 and other.requests == []
