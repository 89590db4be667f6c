"""The admin pages (secret shown once, deactivation warning, redeliver action, superusers
only) and the retention job."""

from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from nexus.events import event_emit
from nexus.models import OutboxMessage
from users.tests.factories import UserFactory
from webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint, WebhookEvent
from webhooks.tests.helpers import drain, endpoint_for
from webhooks.tests.receiver import Receiver

pytestmark = pytest.mark.django_db

ENDPOINTS = "/admin/webhooks/webhookendpoint/"
DELIVERIES = "/admin/webhooks/webhookdelivery/"


@pytest.fixture
def admin_browser(admin_user) -> Client:
    client = Client()
    client.force_login(admin_user)
    return client


def _messages(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def test_admin_add_shows_the_secret_once_and_checks_the_url(admin_browser, settings):
    response = admin_browser.post(
        f"{ENDPOINTS}add/",
        {"url": "http://127.0.0.1:9/hook", "events": ["order.created"], "is_active": "on"},
        follow=True,
    )
    endpoint = WebhookEndpoint.objects.get()
    assert any(endpoint.secret in message for message in _messages(response))
    assert (
        endpoint.secret
        not in admin_browser.get(f"{ENDPOINTS}{endpoint.pk}/change/").content.decode()
    )
    settings.NEXUS_WEBHOOKS_ALLOW_PRIVATE = False
    refused = admin_browser.post(
        f"{ENDPOINTS}add/", {"url": "http://10.0.0.1/hook", "events": ["order.created"]}
    )
    assert refused.status_code == 200 and b"private address" in refused.content
    assert WebhookEndpoint.objects.count() == 1


def test_a_deactivated_endpoint_is_flagged_and_can_be_activated(admin_browser):
    endpoint = endpoint_for("http://127.0.0.1:9/hook")
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        is_active=False,
        failure_count=20,
        deactivated_at=timezone.now(),
        deactivated_reason="20 consecutive failed deliveries",
    )
    page = admin_browser.get(ENDPOINTS)
    assert any("was deactivated" in message for message in _messages(page))
    admin_browser.post(ENDPOINTS, {"action": "activate", "_selected_action": [endpoint.pk]})
    endpoint.refresh_from_db()
    assert endpoint.is_active and endpoint.failure_count == 0 and endpoint.deactivated_at is None


def test_admin_redeliver_action(admin_browser):
    with Receiver([404, 200]) as receiver:
        endpoint_for(receiver.url)
        event_emit(type="order.created", data={})
        drain()
        delivery = WebhookDelivery.objects.get()
        assert admin_browser.get(DELIVERIES).status_code == 200
        assert admin_browser.get(f"{DELIVERIES}{delivery.pk}/change/").status_code == 200
        response = admin_browser.post(
            DELIVERIES, {"action": "redeliver", "_selected_action": [delivery.pk]}, follow=True
        )
        assert any("Queued 1" in message for message in _messages(response))
        assert drain() == ["delivered"]
    assert len(receiver.requests) == 2


def test_staff_who_are_not_superusers_do_not_see_webhooks():
    client = Client()
    client.force_login(UserFactory(is_staff=True))
    assert client.get(ENDPOINTS).status_code == 403
    assert client.get(DELIVERIES).status_code == 403


def test_retention_deletes_old_finished_deliveries_and_orphan_events():
    with Receiver([200, 410]) as receiver:
        endpoint_for(receiver.url)
        event_emit(type="order.created", data={"n": 1}, key="a")
        event_emit(type="order.created", data={"n": 2}, key="b")
        drain()
    WebhookEndpoint.objects.update(is_active=True)
    pending_event = event_emit(type="order.created", data={"n": 3}, key="c")
    old = timezone.now() - timedelta(days=31)
    WebhookDelivery.objects.update(created_at=old)
    WebhookEvent.objects.update(created_at=old)
    call_command("webhooks_prune")
    remaining = WebhookDelivery.objects.get()
    assert remaining.status == DeliveryStatus.PENDING
    assert str(remaining.event_id) == pending_event["id"]
    assert WebhookEvent.objects.count() == 1
    assert OutboxMessage.objects.filter(kind="webhook").count() == 3  # the outbox prunes its own
