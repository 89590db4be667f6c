"""Real concurrency on PostgreSQL with localstripe: the same webhook twice, another event
about the same success and the client's confirmation, all at once, pay the order
exactly once with one email; racing payment starts share one PaymentIntent; racing
refunds never give back more than was paid."""

import threading

import pytest
from django.core import mail
from django.db import connection
from django.test import Client

from nexus.testing import client_for, requires_postgres
from orders.models import Order, OrderEvent
from payments.models import Payment, StripeEvent
from payments.tests.helpers import (
    card_confirm,
    event_body,
    localstripe_event,
    localstripe_webhooks,
    post_event,
    stripe_client,
)
from payments.tests.test_localstripe import _place_card_order

pytestmark = [
    requires_postgres,
    pytest.mark.postgres,
    pytest.mark.localstripe,
    pytest.mark.django_db(transaction=True),
]


def _run_in_threads(targets) -> list:
    barrier = threading.Barrier(len(targets))
    results: list = [None] * len(targets)

    def run(index, target):
        try:
            barrier.wait(timeout=10)
            results[index] = target()
        except Exception as exc:  # the test inspects every outcome, errors included
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, t)) for i, t in enumerate(targets)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a request hung (deadlock?)"
    return results


@pytest.fixture
def held(stripe_on):
    localstripe_webhooks(stripe_on, target=None)


@pytest.mark.parametrize("round_", range(3))
def test_webhook_twice_and_client_confirmation_at_once_pay_exactly_once(user, held, round_):
    order = _place_card_order(user)
    payment_id = client_for(user).post(f"/api/v1/orders/{order.pk}/payments/").json()["id"]
    intent_id = Payment.objects.get(pk=payment_id).provider_reference
    card_confirm(intent_id)
    event = localstripe_event(intent_id, "payment_intent.succeeded")
    same = event_body(event["type"], event["data"]["object"], event_id=event["id"])
    other = event_body(event["type"], event["data"]["object"], event_id=f"{event['id']}_b")
    mail.outbox.clear()

    results = _run_in_threads(
        [
            lambda: post_event(Client(), same),
            lambda: post_event(Client(), same),
            lambda: post_event(Client(), other),
            lambda: client_for(user).post(
                f"/api/v1/orders/{order.pk}/payments/{payment_id}/confirm/"
            ),
        ]
    )

    assert [getattr(r, "status_code", r) for r in results] == [200, 200, 200, 200]
    outcomes = sorted(r.json()["outcome"] for r in results[:2])
    assert outcomes == ["duplicate", "handled"]
    assert results[3].json()["status"] == "succeeded"
    order.refresh_from_db()
    assert (order.payment_status, order.amount_paid) == ("paid", order.total)
    assert OrderEvent.objects.filter(order=order, kind="payment", to_value="paid").count() == 1
    assert [m.subject for m in mail.outbox] == [
        f"Payment received for your Nexus order {order.number}"
    ]
    assert StripeEvent.objects.filter(event_id=event["id"]).count() == 1


def test_racing_payment_starts_share_one_payment_and_one_client_secret(user, held):
    order = _place_card_order(user)

    results = _run_in_threads(
        [lambda: client_for(user).post(f"/api/v1/orders/{order.pk}/payments/") for _ in range(4)]
    )

    assert sorted(r.status_code for r in results) == [200, 200, 200, 201]
    assert len({r.json()["client_secret"] for r in results}) == 1
    assert Payment.objects.filter(order=order).count() == 1
    assert Order.objects.get(pk=order.pk).payment_status == "unpaid"


def test_racing_refunds_of_what_remains_refund_it_once(user, staff_user, held):
    order = _place_card_order(user)
    payment_id = client_for(user).post(f"/api/v1/orders/{order.pk}/payments/").json()["id"]
    intent_id = Payment.objects.get(pk=payment_id).provider_reference
    card_confirm(intent_id)
    client_for(user).post(f"/api/v1/orders/{order.pk}/payments/{payment_id}/confirm/")
    url = f"/api/v1/orders/{order.pk}/refunds/"

    results = _run_in_threads(
        [lambda: client_for(staff_user).post(url, {}, format="json") for _ in range(3)]
    )

    assert sorted(r.status_code for r in results) == [201, 409, 409]
    order.refresh_from_db()
    assert (order.payment_status, order.amount_refunded) == ("refunded", order.total)
    at_stripe = [r for r in stripe_client().v1.refunds.list().data if r.payment_intent == intent_id]
    assert [r.amount for r in at_stripe] == [2998]
