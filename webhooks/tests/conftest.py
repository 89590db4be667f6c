"""Webhook test settings: private addresses allowed (the receiver is on 127.0.0.1), no
backoff (retries are due at once), a short timeout for the hanging receiver."""

import pytest


@pytest.fixture(autouse=True)
def _webhook_settings(settings):
    settings.NEXUS_WEBHOOKS_ALLOW_PRIVATE = True
    settings.NEXUS_OUTBOX_BACKOFF_SECONDS = 0
    settings.NEXUS_WEBHOOKS_TIMEOUT_SECONDS = 1
