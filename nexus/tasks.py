"""Celery tasks: outbox delivery and the scheduled jobs (each a management command)."""

import io
import logging

from django.core.management import call_command

from nexus.celery import app
from nexus.outbox import outbox_deliver

logger = logging.getLogger("nexus.tasks")


@app.task(name="nexus.outbox_deliver")
def outbox_deliver_task(message_id: int) -> str:
    """Deliver one outbox row (safe to run twice: the row lock and status decide)."""
    return outbox_deliver(message_id=message_id)


@app.task(name="nexus.run_command", time_limit=900, soft_time_limit=840)
def run_command_task(command: str, *args: str) -> str:
    """Run a management command (the beat schedule lists them by name, like cron would)."""
    out = io.StringIO()
    call_command(command, *args, stdout=out)
    lines = out.getvalue().strip().splitlines()
    summary = lines[-1] if lines else ""
    logger.info("scheduled job %s %s: %s", command, " ".join(args), summary)
    return summary
