"""Container health probes for the Celery services (docker-compose `worker` and `beat`).

    python scripts/celery_health.py worker   this host's worker answers `inspect ping`
    python scripts/celery_health.py beat     beat ticked within NEXUS_BEAT_HEARTBEAT_MAX_AGE s

Exit 0 when healthy, 1 otherwise. A worker is healthy only while it is connected to the
broker and its main loop answers; beat touches its heartbeat file on every tick
(nexus.celery.HeartbeatScheduler), at least every CELERY_BEAT_MAX_LOOP_INTERVAL (15 s).
"""

import os
import socket
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def worker() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nexus.settings")
    import django

    django.setup()
    from nexus.celery import app

    node = f"celery@{socket.gethostname()}"
    replies = app.control.ping(destination=[node], timeout=5)
    if not any(node in reply for reply in replies):
        print(f"worker {node} did not answer ping", file=sys.stderr)
        return 1
    return 0


def beat() -> int:
    path = Path(os.environ.get("NEXUS_BEAT_HEARTBEAT_FILE", "/tmp/nexus-beat.heartbeat"))  # noqa: S108
    max_age = float(os.environ.get("NEXUS_BEAT_HEARTBEAT_MAX_AGE", "120"))
    try:
        age = time.time() - path.stat().st_mtime
    except OSError:
        print(f"no beat heartbeat at {path}", file=sys.stderr)
        return 1
    if age > max_age:
        print(f"beat heartbeat is {age:.0f}s old (limit {max_age:.0f}s)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    probes = {"worker": worker, "beat": beat}
    if len(sys.argv) != 2 or sys.argv[1] not in probes:
        print("usage: celery_health.py worker|beat", file=sys.stderr)
        sys.exit(2)
    sys.exit(probes[sys.argv[1]]())
