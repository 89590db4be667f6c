"""Two workers at once on PostgreSQL (real threads, real receiver): the later event of one
order waits for the earlier one instead of overtaking it while it is in flight."""

import json
import threading
import time

import pytest
from django.db import connection, transaction

from nexus import outbox
from nexus.events import event_emit
from nexus.models import OutboxMessage, OutboxStatus
from webhooks.tests.helpers import endpoint_for
from webhooks.tests.receiver import Receiver

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL"),
]


def _worker(message_id: int, outcomes: list[str], start_after: float) -> None:
    time.sleep(start_after)
    try:
        for _ in range(40):
            outcome = outbox.outbox_deliver(message_id=message_id)
            outcomes.append(outcome)
            if outcome in ("delivered", "failed", "done"):
                return
            time.sleep(0.1)
    finally:
        connection.close()  # this thread's own connection


def test_a_later_event_of_one_order_does_not_overtake_one_in_flight(monkeypatch, settings):
    settings.NEXUS_WEBHOOKS_TIMEOUT_SECONDS = 3
    with Receiver([("hang", 0.8)]) as receiver:
        endpoint_for(receiver.url, events=["order.created", "order.paid"])
        # Written like two services would, but not dispatched: the threads below are the
        # workers.
        monkeypatch.setattr(outbox, "_dispatch", lambda message_id: None)
        with transaction.atomic():
            event_emit(type="order.created", data={"step": 1}, key="order:1")
        with transaction.atomic():
            event_emit(type="order.paid", data={"step": 2}, key="order:1")
        first, second = OutboxMessage.objects.order_by("id").values_list("id", flat=True)
        created_outcomes: list[str] = []
        paid_outcomes: list[str] = []
        threads = [
            threading.Thread(target=_worker, args=(first, created_outcomes, 0)),
            # Starts while order.created is still waiting for its (slow) answer.
            threading.Thread(target=_worker, args=(second, paid_outcomes, 0.2)),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    types = [json.loads(request.body)["type"] for request in receiver.requests]
    assert types == ["order.created", "order.paid"]
    # order.paid was sent only after order.created had its answer (0.8 s after it arrived).
    assert receiver.requests[1].at - receiver.requests[0].at >= 0.75
    assert created_outcomes == ["delivered"]
    assert paid_outcomes[0] == "deferred" and paid_outcomes[-1] == "delivered"
    assert set(OutboxMessage.objects.values_list("status", flat=True)) == {OutboxStatus.DELIVERED}
    # A deferral does not use up an attempt.
    assert OutboxMessage.objects.get(pk=second).attempts == 1
