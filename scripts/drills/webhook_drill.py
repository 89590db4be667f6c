"""Helpers of the webhook drill (scripts/drills/webhooks.sh).

register --url URL --out FILE     create an endpoint for order.created (secret to FILE)
receive --port P --log FILE --secret-file FILE
                                  a receiver: logs each POST as a JSON line with its event
                                  id, type, order id and whether the signature verifies
pending --since TS                deliveries of order.created since TS: all still pending,
                                  some already failed an attempt (the receiver is down)
delivered --since TS --log FILE --count N --timeout S
                                  wait until N order.created events arrived; then no
                                  duplicate during a grace period, every signature valid
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def _django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nexus.settings")
    import django

    django.setup()


def cmd_register(args: argparse.Namespace) -> None:
    _django()
    from webhooks.services import endpoint_create

    endpoint = endpoint_create(url=args.url, events=["order.created"])
    Path(args.out).write_text(endpoint.secret)
    print(f"  endpoint {endpoint.pk} -> {endpoint.url}")


def cmd_receive(args: argparse.Namespace) -> None:
    from webhooks.signing import signature_verify  # pure Python, no Django setup needed

    secret = Path(args.secret_file).read_text().strip()
    lock = threading.Lock()
    log = open(args.log, "a", buffering=1)  # noqa: SIM115 (open for the process's life)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            payload = json.loads(body)
            record = {
                "event_id": self.headers.get("Nexus-Event-Id"),
                "type": payload.get("type"),
                "order_id": payload.get("data", {}).get("order", {}).get("id"),
                "valid": signature_verify(
                    secret=secret, body=body, header=self.headers.get("Nexus-Signature", "")
                ),
                "id_matches": payload.get("id") == self.headers.get("Nexus-Event-Id"),
            }
            with lock:
                log.write(json.dumps(record) + "\n")
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    server.serve_forever(poll_interval=0.1)


def _deliveries(since: float):
    from datetime import UTC, datetime

    from webhooks.models import WebhookDelivery

    return WebhookDelivery.objects.filter(
        event__type="order.created",
        created_at__gte=datetime.fromtimestamp(since, tz=UTC),
    )


def cmd_pending(args: argparse.Namespace) -> None:
    _django()
    rows = _deliveries(args.since)
    statuses = Counter(rows.values_list("status", flat=True))
    retried = rows.filter(status="pending", attempts__gte=1).count()
    print(
        f"  deliveries while the receiver is down: {dict(statuses)}, "
        f"{retried} pending after a failed attempt"
    )
    if rows.count() != args.count or statuses.get("pending", 0) != args.count or retried == 0:
        print(f"  VIOLATION: expected {args.count} pending deliveries, some already retried")
        sys.exit(1)


def _received(path: str) -> list[dict]:
    if not os.path.exists(path):
        return []
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


def cmd_delivered(args: argparse.Namespace) -> None:
    _django()
    started = time.time()
    deadline = started + args.timeout
    while time.time() < deadline:
        if len({r["event_id"] for r in _received(args.log)}) >= args.count:
            break
        time.sleep(0.2)
    took = time.time() - started
    time.sleep(args.grace)  # anything sent twice would arrive now
    received = _received(args.log)
    rows = _deliveries(args.since)
    expected = {str(event_id) for event_id in rows.values_list("event_id", flat=True)}
    counts = Counter(r["event_id"] for r in received)
    orders = Counter(r["order_id"] for r in received)
    statuses = Counter(rows.values_list("status", flat=True))
    attempts = list(rows.values_list("attempts", flat=True))
    invalid = [r for r in received if not (r["valid"] and r["id_matches"])]
    print(
        f"  received {len(counts)}/{args.count} order.created events in {took:.1f}s after the "
        f"receiver came up; {sum(counts.values())} requests, "
        f"{sum(1 for n in counts.values() if n > 1)} duplicated, {len(invalid)} badly signed; "
        f"deliveries {dict(statuses)}, attempts per delivery "
        f"min {min(attempts, default=0)} max {max(attempts, default=0)}"
    )
    problems = []
    if set(counts) != expected or len(expected) != args.count:
        problems.append(f"events received {len(counts)} != expected {len(expected)}")
    if any(n > 1 for n in counts.values()) or any(n > 1 for n in orders.values()):
        problems.append("an event arrived more than once")
    if invalid:
        problems.append(f"{len(invalid)} request(s) failed the signature check")
    if statuses.get("delivered", 0) != args.count:
        problems.append(f"deliveries not all delivered: {dict(statuses)}")
    for problem in problems:
        print(f"  VIOLATION: {problem}")
    if problems:
        sys.exit(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    register = sub.add_parser("register")
    register.add_argument("--url", required=True)
    register.add_argument("--out", required=True)
    receive = sub.add_parser("receive")
    receive.add_argument("--port", type=int, required=True)
    receive.add_argument("--log", required=True)
    receive.add_argument("--secret-file", required=True)
    pending = sub.add_parser("pending")
    pending.add_argument("--since", type=float, required=True)
    pending.add_argument("--count", type=int, required=True)
    delivered = sub.add_parser("delivered")
    delivered.add_argument("--since", type=float, required=True)
    delivered.add_argument("--log", required=True)
    delivered.add_argument("--count", type=int, required=True)
    delivered.add_argument("--timeout", type=float, default=60)
    delivered.add_argument("--grace", type=float, default=3)
    args = parser.parse_args()
    {
        "register": cmd_register,
        "receive": cmd_receive,
        "pending": cmd_pending,
        "delivered": cmd_delivered,
    }[args.command](args)


if __name__ == "__main__":
    main()
