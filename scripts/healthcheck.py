"""Container health probe: GET /health/ on the local Gunicorn with an allowed Host header.

Exit 0 when it answers 200, 1 otherwise. Standard library only (the image has no curl).
"""

import http.client
import os
import sys


def probe_host() -> str:
    # The first concrete name of DJANGO_ALLOWED_HOSTS; Django rejects any other Host.
    for name in os.environ.get("DJANGO_ALLOWED_HOSTS", "").split(","):
        name = name.strip().lstrip(".")
        if name and name != "*":
            return name
    return "localhost"


def main() -> int:
    bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000").split(",")[0]
    port = int(bind.rsplit(":", 1)[1]) if ":" in bind else 8000
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=4)
    try:
        connection.request("GET", "/health/", headers={"Host": probe_host()})
        status = connection.getresponse().status
    except OSError as exc:
        print(f"health probe failed: {exc}", file=sys.stderr)
        return 1
    finally:
        connection.close()
    if status != 200:
        print(f"health probe: HTTP {status}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
