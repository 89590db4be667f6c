#!/usr/bin/env python3
"""A real SMTP server for the background-work drills (aiosmtpd), counting what it receives.

    smtp_sink.py --port PORT --log FILE [--control DIR]

Every message accepted is one JSON line in FILE: time, ``X-Nexus-Outbox-Id``, Message-ID,
recipients, subject. The drill stops it (SIGTERM) and starts it again on the same port
with the same FILE, or freezes it (SIGSTOP/SIGCONT). With ``--control DIR``: while the
file ``DIR/stall`` exists and holds a number N, every RCPT after N messages were received
waits (the delivery is in progress, nothing accepted), and each stalled connection adds a
line to ``DIR/stalled``; that lets a drill kill workers in the middle of deliveries.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import threading
import time
from email import message_from_bytes

from aiosmtpd.controller import Controller


class Sink:
    def __init__(self, log: str, control: str | None) -> None:
        self.log = log
        self.control = control
        self.lock = threading.Lock()
        self.received = 0
        if os.path.exists(log):
            with open(log) as stream:
                self.received = sum(1 for line in stream if line.strip())

    def _stall_after(self) -> int | None:
        if not self.control:
            return None
        try:
            with open(os.path.join(self.control, "stall")) as stream:
                return int(stream.read().strip() or 0)
        except (OSError, ValueError):
            return None

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        limit = self._stall_after()
        if limit is not None and self.received >= limit:
            with open(os.path.join(self.control, "stalled"), "a") as stream:
                stream.write(f"{time.time()}\n")
            while self._stall_after() is not None:
                await asyncio.sleep(0.05)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        message = message_from_bytes(envelope.content)
        line = {
            "t": time.time(),
            "outbox_id": message.get("X-Nexus-Outbox-Id"),
            "message_id": message.get("Message-ID"),
            "to": envelope.rcpt_tos,
            "subject": message.get("Subject"),
        }
        with self.lock:
            with open(self.log, "a") as stream:
                stream.write(json.dumps(line) + "\n")
            self.received += 1
        return "250 Message accepted for delivery"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--log", required=True)
    parser.add_argument("--control")
    args = parser.parse_args()
    controller = Controller(Sink(args.log, args.control), hostname="127.0.0.1", port=args.port)
    controller.start()
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    signal.signal(signal.SIGINT, lambda *_: stopped.set())
    print(f"smtp sink on 127.0.0.1:{args.port}", flush=True)
    while not stopped.wait(0.5):
        pass
    controller.stop()


if __name__ == "__main__":
    main()
