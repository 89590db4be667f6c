"""The Celery application: the worker engine for the outbox and the scheduled jobs.

Configured from Django settings (the ``CELERY_*`` names in nexus/settings.py): broker
``CELERY_BROKER_URL`` (default ``REDIS_URL``), JSON only, late acknowledgement with
redelivery of a task whose worker died, bounded retries with exponential backoff and
jitter, hard and soft time limits. Run a worker with ``celery -A nexus worker`` and the
scheduler, exactly one, with ``celery -A nexus beat``. No task depends on the process
that enqueued it: its arguments are row ids and command names, everything else is read
from the database.
"""

import contextlib
import os
from collections.abc import Mapping
from functools import cached_property
from pathlib import Path

from celery import Celery, Task
from celery.beat import PersistentScheduler
from django.db import DatabaseError, InterfaceError

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nexus.settings")


class _CelerySettings(Mapping):
    """Django's ``CELERY_*`` settings as a plain mapping, read from Django's settings once,
    when Celery first loads its configuration (after Django's settings are set up).

    Celery reads its configuration on every publish (serializer, compression, routes,
    ...), trying each name in two spellings against each source; against Django's
    settings object every miss is a failed ``getattr`` through ``LazySettings``: 28 per
    publish, about 60 of the 390 us of CPU each outbox row's publish cost (one per
    checkout; docs/PERFORMANCE.md). The settings never change while the process runs.
    """

    @cached_property
    def _values(self) -> dict:
        from django.conf import settings

        return {
            name: getattr(settings, name) for name in dir(settings) if name.startswith("CELERY_")
        }

    def __getitem__(self, key):
        return self._values[key]

    def __iter__(self):
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)


app = Celery("nexus")
app.config_from_object(_CelerySettings(), namespace="CELERY")
app.autodiscover_tasks(["nexus"])


class NexusTask(Task):
    """Base task: a database outage is retried a bounded number of times with backoff."""

    autoretry_for = (DatabaseError, InterfaceError)
    max_retries = 5
    retry_backoff = 2  # seconds: 2, 4, 8, ... (then jittered)
    retry_backoff_max = 300
    retry_jitter = True
    acks_late = True
    reject_on_worker_lost = True


app.Task = NexusTask


class HeartbeatScheduler(PersistentScheduler):
    """Beat's scheduler, touching ``NEXUS_BEAT_HEARTBEAT_FILE`` on every tick.

    ``scripts/celery_health.py beat`` calls beat healthy while the file is fresh: a hung
    or dead beat stops touching it (beat has no ``inspect ping`` of its own).
    """

    def tick(self, *args, **kwargs):
        path = os.environ.get("NEXUS_BEAT_HEARTBEAT_FILE", "/tmp/nexus-beat.heartbeat")  # noqa: S108
        with contextlib.suppress(OSError):
            Path(path).touch()
        return super().tick(*args, **kwargs)
