"""The receiver snippets of docs/WEBHOOKS.md, run against real signed deliveries: the
Python one here, the JavaScript one with node."""

import base64
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from django.conf import settings

from nexus.events import event_emit
from webhooks.tests.helpers import drain, endpoint_for
from webhooks.tests.receiver import Receiver

pytestmark = pytest.mark.django_db

DOC = Path(settings.BASE_DIR) / "docs" / "WEBHOOKS.md"


def _snippet(language: str, needle: str) -> str:
    blocks = re.findall(rf"```{language}\n(.*?)```", DOC.read_text(), flags=re.S)
    (block,) = [block for block in blocks if needle in block]
    return block


@pytest.fixture
def delivery():
    """(secret, raw body, signature header) of one real delivery."""
    with Receiver() as receiver:
        endpoint = endpoint_for(receiver.url)
        event_emit(type="order.created", data={"note": "héllo ✓"})
        assert drain() == ["delivered"]
    (request,) = receiver.requests
    return endpoint.secret, request.body, request.headers["Nexus-Signature"]


def _tamper(body: bytes) -> bytes:
    payload = json.loads(body)
    payload["data"]["note"] = "tampered"
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def test_the_python_snippet_verifies_a_delivery(delivery):
    namespace: dict = {}
    exec(_snippet("python", "def nexus_verify"), namespace)  # noqa: S102 (our own docs)
    verify = namespace["nexus_verify"]
    secret, body, header = delivery
    assert verify(secret, body, header) is True
    assert verify(secret, _tamper(body), header) is False
    assert verify("whsec_wrong", body, header) is False
    timestamp = header.split(",")[0].split("=")[1]
    old = header.replace(f"t={timestamp}", f"t={int(timestamp) - 3600}")
    assert verify(secret, body, old) is False


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_the_javascript_snippet_verifies_a_delivery(delivery, tmp_path):
    (tmp_path / "verify.js").write_text(_snippet("javascript", "function nexusVerify"))
    (tmp_path / "run.js").write_text(
        "const { nexusVerify } = require('./verify.js');\n"
        "const [secret, body64, header] = process.argv.slice(2);\n"
        "const body = Buffer.from(body64, 'base64');\n"
        "process.stdout.write(String(nexusVerify(secret, body, header)));\n"
    )
    secret, body, header = delivery

    def run(secret: str, body: bytes, header: str) -> str:
        result = subprocess.run(  # noqa: S603
            ["node", "run.js", secret, base64.b64encode(body).decode(), header],  # noqa: S607
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        return result.stdout

    assert run(secret, body, header) == "true"
    assert run(secret, _tamper(body), header) == "false"
    assert run("whsec_wrong", body, header) == "false"
