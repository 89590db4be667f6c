"""Outbox handlers used by the outbox tests (registered per test through settings)."""

import threading
import time

from nexus.outbox import PermanentDeliveryError

calls: list[int] = []
_lock = threading.Lock()


def reset() -> None:
    with _lock:
        calls.clear()


def slow(message) -> dict:
    """Takes a while, so that concurrent tasks for the same row really overlap."""
    time.sleep(message.payload.get("sleep", 0.2))
    with _lock:
        calls.append(message.pk)
    return {"ok": True}


def flaky(message) -> dict:
    """Fails until the row has been attempted ``fail_times`` times."""
    if message.attempts <= message.payload.get("fail_times", 0):
        raise ConnectionError(f"receiver down (attempt {message.attempts})")
    with _lock:
        calls.append(message.pk)
    return {"ok": True}


def gone(message) -> dict:
    raise PermanentDeliveryError("receiver answered 410 Gone")
