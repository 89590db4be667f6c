"""A real HTTP receiver for the webhook tests and the drill: a threaded ``http.server`` on
a free loopback port, answering from a script and recording every request."""

from __future__ import annotations

import contextlib
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float = field(default_factory=time.monotonic)


class Receiver:
    """``Receiver(script=[500, 500, 200])``: answers 500, 500, then ``default`` (200).

    An entry may be an int (the status), or ``("hang", seconds)`` (answer 200 only after
    ``seconds``, longer than the delivery timeout), or ``("redirect", url)`` (a 302).
    """

    def __init__(self, script=(), *, default: int = 200, body: str = "ok"):
        self.script = deque(script)
        self.default = default
        self.body = body
        self.requests: list[Received] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                with receiver._lock:
                    receiver.requests.append(Received(self.path, dict(self.headers), body))
                    action = receiver.script.popleft() if receiver.script else receiver.default
                status, location = action, None
                if isinstance(action, tuple) and action[0] == "hang":
                    time.sleep(action[1])
                    status = 200
                elif isinstance(action, tuple) and action[0] == "redirect":
                    status, location = 302, action[1]
                payload = receiver.body.encode()
                self.send_response(status)
                if location:
                    self.send_header("Location", location)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                with contextlib.suppress(OSError):  # the client gave up (the timeout test)
                    self.wfile.write(payload)

            def log_message(self, format, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.block_on_close = False
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
