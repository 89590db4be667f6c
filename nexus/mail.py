"""Outgoing email through the transactional outbox: a request never waits on SMTP and a
failed email is retried, never lost.

``email_send_on_commit`` keeps its name and signature for every caller: it now writes an
outbox row in the caller's transaction; a Celery worker (or, without a broker, this
process right after the commit) delivers it with ``email_deliver``.
"""

import logging
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage

from nexus.models import OutboxMessage
from nexus.outbox import outbox_add

logger = logging.getLogger("nexus.mail")

EMAIL_KIND = "email"


def email_send_on_commit(*, subject: str, body: str, to: list[str]) -> None:
    """Queue an email in the current transaction; it leaves after the commit, once."""
    outbox_add(kind=EMAIL_KIND, payload={"subject": subject, "body": body, "to": list(to)})


def outbox_message_id(message: OutboxMessage) -> str:
    """A Message-ID stable across retries, so a receiver can drop a duplicate."""
    domain = settings.DEFAULT_FROM_EMAIL.rsplit("@", 1)[-1].strip("> ") or "nexus.local"
    return f"<outbox.{message.pk}.{message.created_at:%Y%m%d%H%M%S}@{domain}>"


def email_message_send(
    message: OutboxMessage, *, subject: str, body: str, to: list[str]
) -> dict[str, Any]:
    """Send one email for ``message`` (raises on any SMTP error, so the outbox retries)."""
    message_id = outbox_message_id(message)
    email = EmailMessage(
        subject=subject,
        body=body,
        to=to,
        headers={"Message-ID": message_id, "X-Nexus-Outbox-Id": str(message.pk)},
    )
    email.send(fail_silently=False)
    return {"message_id": message_id, "recipients": len(to)}


def email_deliver(message: OutboxMessage) -> dict[str, Any]:
    """Outbox handler of kind ``email``: payload ``{subject, body, to}``."""
    payload = message.payload
    return email_message_send(
        message, subject=payload["subject"], body=payload["body"], to=payload["to"]
    )
