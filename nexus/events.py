"""Store events (``order.created``, ``product.updated``, ...): one call, inside the
transaction of the change, hands an event to every registered sink.

``event_emit(type=..., data=..., key=...)`` is the only way to emit an event. It lives in
the plumbing layer so that catalog and orders (below ``webhooks`` in the dependency
order) can emit without importing it: the sinks are dotted paths in
``settings.NEXUS_EVENT_SINKS`` (the webhooks app registers
``webhooks.services.event_record``, which writes the event and one outbox row per
subscribed endpoint in the caller's transaction). A sink is called as
``sink(type=..., key=..., envelope=...)`` where ``envelope()`` builds the envelope
``{id, type, version, created_at, data}`` on first use. Rolled back with the caller, the event
never happened.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.utils import timezone
from django.utils.module_loading import import_string

# The contract's catalogue (docs/WEBHOOKS.md describes each payload).
EVENT_TYPES = (
    "order.created",
    "order.paid",
    "order.status_changed",
    "order.cancelled",
    "order.refunded",
    "product.created",
    "product.updated",
    "product.deleted",
    "stock.low",
)
# Bumped when a payload changes incompatibly; sent as ``version`` in every envelope.
EVENT_VERSION = 1


class UnknownEventType(ValueError):
    pass


def event_emit(
    *,
    type: str,
    data: dict[str, Any] | Callable[[], dict[str, Any]],
    key: str = "",
) -> dict[str, Any] | None:
    """Emit one event in the caller's transaction; returns its envelope, or None when no
    sink wanted it.

    ``data`` may be a function returning the dict: it is then only built (serializers,
    queries) when a sink asks for the envelope, so an event nobody subscribes to costs
    next to nothing. It is made JSON-ready here (Decimals and datetimes as the API writes
    them). ``key`` names what the event is about (``order:42``); events with the same key
    are delivered to an endpoint in the order they were emitted.
    """
    if type not in EVENT_TYPES:
        raise UnknownEventType(f"unknown event type {type!r}")
    built: list[dict[str, Any]] = []

    def envelope() -> dict[str, Any]:
        if not built:
            payload = data() if callable(data) else data
            built.append(
                {
                    "id": str(uuid.uuid4()),
                    "type": type,
                    "version": EVENT_VERSION,
                    "created_at": timezone.now().isoformat().replace("+00:00", "Z"),
                    "data": json.loads(json.dumps(payload, cls=DjangoJSONEncoder)),
                }
            )
        return built[0]

    for path in settings.NEXUS_EVENT_SINKS:
        import_string(path)(type=type, key=key, envelope=envelope)
    return built[0] if built else None
