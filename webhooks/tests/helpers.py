"""Shared helpers of the webhook tests: register an endpoint, run the outbox like a worker."""

from datetime import timedelta

from django.utils import timezone

from nexus.models import OutboxMessage, OutboxStatus
from nexus.outbox import outbox_deliver
from webhooks import services


def endpoint_for(url: str, events=("order.created",), **kwargs):
    return services.endpoint_create(url=url, events=list(events), **kwargs)


def drain(*, rounds: int = 60) -> list[str]:
    """Deliver every due webhook outbox row until none is left (what workers would do).

    Backoff is 0 in these tests, so a retried row is due again at once.
    """
    outcomes: list[str] = []
    for _ in range(rounds):
        due = list(
            OutboxMessage.objects.filter(
                kind=services.OUTBOX_KIND,
                status=OutboxStatus.PENDING,
                next_attempt_at__lte=timezone.now() + timedelta(seconds=2),
            )
            .order_by("id")
            .values_list("id", flat=True)
        )
        if not due:
            return outcomes
        for message_id in due:
            outcomes.append(outbox_deliver(message_id=message_id))
    raise AssertionError(f"outbox not drained after {rounds} rounds: {outcomes[-10:]}")
