"""Order events for integrations (``order.*``), emitted inside the service's transaction.

The payload carries the order exactly as the API shows it (``OrderSerializer``, without a
caller, so ``allowed_actions`` is empty) and the customer's id and email (a guest order:
id null, the email given at checkout).
"""

from typing import Any

from nexus.events import event_emit
from orders.models import Order


def order_event_emit(*, type: str, order: Order, **extra: Any) -> None:
    """Emit ``type`` (``order.created``, ``order.paid``, ...) for ``order`` (the payload is
    read and serialized only if someone subscribes)."""

    def data() -> dict[str, Any]:
        from orders.serializers import OrderSerializer

        fresh = Order.objects.select_related("user").prefetch_related("items").get(pk=order.pk)
        return {
            "order": OrderSerializer(fresh).data,
            # A guest order (v1.1) has no user: its id is null, its email the guest's.
            "customer": {
                "id": fresh.user_id,
                "email": fresh.user.email if fresh.user_id else fresh.email,
            },
            **extra,
        }

    event_emit(type=type, data=data, key=f"order:{order.pk}")
