"""Fixtures of the payment tests: a localstripe server for the session (one per xdist
worker, bound to 127.0.0.1 on a free port, empty state, stopped by PID) and settings
pointing the stripe library at it."""

import importlib.util
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from payments.tests.helpers import SECRET

ROOT = Path(__file__).resolve().parents[2]


def _wait_for_port(port: int, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"localstripe did not listen on {port}")


@pytest.fixture(scope="session")
def localstripe_url():
    """Start scripts/localstripe_server.py for this test session; stop it by PID after."""
    if importlib.util.find_spec("localstripe") is None:
        reason = "localstripe is not installed: pip install -e '.[dev]' installs it"
        if os.environ.get("NEXUS_REQUIRE_LOCALSTRIPE") == "1":  # CI: never skip silently
            pytest.fail(reason)
        pytest.skip(reason)
    process = subprocess.Popen(  # noqa: S603 (our own script, fixed arguments)
        [sys.executable, str(ROOT / "scripts" / "localstripe_server.py")],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        line = process.stdout.readline().strip()
        if not line.startswith("PORT="):
            raise RuntimeError(f"localstripe did not start: {line!r}")
        port = int(line.removeprefix("PORT="))
        _wait_for_port(port, time.monotonic() + 15)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def stripe_on(settings, localstripe_url):
    """Card payments on, the stripe library pointed at localstripe, no retries."""
    settings.STRIPE_SECRET_KEY = "sk_test_localstripe"
    settings.STRIPE_WEBHOOK_SECRET = SECRET
    settings.STRIPE_API_BASE = localstripe_url
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    settings.STRIPE_TIMEOUT_SECONDS = 10
    return localstripe_url
