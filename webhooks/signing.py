"""Signatures of deliveries: ``Nexus-Signature: t=<unix ts>,v1=<hex HMAC-SHA256>``.

The MAC covers ``"<ts>.<raw body>"`` with the endpoint's secret; docs/WEBHOOKS.md shows a
receiver how to check it (and the tests check deliveries with ``signature_verify``).
"""

import hashlib
import hmac
import secrets
import time

SECRET_PREFIX = "whsec_"


def secret_generate() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def signature_header(*, secret: str, body: bytes, timestamp: int) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def signature_verify(*, secret: str, body: bytes, header: str, tolerance: int = 300) -> bool:
    """The receiver's check: a v1 MAC matches and the timestamp is recent."""
    parts = [part.split("=", 1) for part in header.split(",") if "=" in part]
    timestamps = [value for name, value in parts if name == "t"]
    if len(timestamps) != 1 or not timestamps[0].isdigit():
        return False
    timestamp = int(timestamps[0])
    if abs(time.time() - timestamp) > tolerance:
        return False
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return any(
        hmac.compare_digest(expected.hexdigest(), value) for name, value in parts if name == "v1"
    )
