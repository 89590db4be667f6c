"""Outgoing email, always after the transaction commits and never able to fail a request:
a dead SMTP server is logged, the customer's action still succeeds."""

import logging

from django.core.mail import send_mail
from django.db import transaction

logger = logging.getLogger("nexus.mail")


def email_send_on_commit(*, subject: str, body: str, to: list[str]) -> None:
    def send() -> None:
        try:
            send_mail(subject, body, None, to)
        except Exception:
            logger.exception("could not send email %r to %d recipient(s)", subject, len(to))

    transaction.on_commit(send)
