"""Run localstripe (a Stripe-compatible test server) on 127.0.0.1 with a fresh, private state.

localstripe's own command line listens on every interface and keeps its state in a shared
``/tmp/localstripe.pickle``; this wrapper binds loopback only (port 0: a free port chosen
by the kernel), keeps the state in memory, and prints ``PORT=<n>`` once it is listening.
Used by the test suite (payments/tests/conftest.py) and runnable by hand::

    .venv/bin/python scripts/localstripe_server.py [--port N]
"""

import argparse
import logging
import socket
import sys

from aiohttp import web
from localstripe import resources, server


def _stateless() -> None:
    # Never read or write the shared pickle: every run starts empty, runs never collide.
    resources.Store.dump_to_disk = lambda self: None
    resources.Store.try_load_from_disk = lambda self: None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="0 (default): any free port")
    args = parser.parse_args()
    _stateless()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", args.port))
    print(f"PORT={sock.getsockname()[1]}", flush=True)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    web.run_app(
        server.app, sock=sock, print=None, access_log=None, handle_signals=True, shutdown_timeout=1
    )


if __name__ == "__main__":
    main()
