"""The webhooks API (admin role): CRUD with the secret shown once, the delivery log and
redelivery, problem+json refusals."""

import pytest

from nexus.events import event_emit
from nexus.testing import client_for
from users.tests.factories import UserFactory
from webhooks.models import WebhookDelivery, WebhookEndpoint
from webhooks.tests.helpers import drain, endpoint_for
from webhooks.tests.receiver import Receiver

pytestmark = pytest.mark.django_db

URL = "/api/v1/webhooks/"


@pytest.fixture
def admin_client(admin_user):
    return client_for(admin_user)


def test_only_admins_may_use_the_api(api_client, user_client, staff_client):
    endpoint = endpoint_for("http://127.0.0.1:9/hook")
    assert api_client.get(URL).status_code == 401
    for client in (user_client, staff_client):
        assert client.get(URL).status_code == 403
        assert client.get(f"{URL}{endpoint.pk}/deliveries/").status_code == 403
        assert (
            client.post(
                URL, {"url": "http://127.0.0.1:9/", "events": ["order.paid"]}, format="json"
            ).status_code
            == 403
        )


def test_create_shows_the_secret_once(admin_client):
    response = admin_client.post(
        URL,
        {"url": "http://127.0.0.1:9/hook", "events": ["order.paid", "order.created"]},
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["secret"].startswith("whsec_") and len(body["secret"]) > 40
    assert body["events"] == ["order.created", "order.paid"]  # catalogue order
    assert body["is_active"] is True and body["failure_count"] == 0
    assert body["last_delivery_at"] is None
    detail = admin_client.get(f"{URL}{body['id']}/").json()
    assert "secret" not in detail
    listed = admin_client.get(URL).json()
    assert listed["count"] == 1 and "secret" not in listed["results"][0]
    assert WebhookEndpoint.objects.get().secret == body["secret"]


def test_loopback_is_refused_without_the_setting(admin_client, settings):
    settings.NEXUS_WEBHOOKS_ALLOW_PRIVATE = False
    response = admin_client.post(
        URL, {"url": "http://127.0.0.1:8000/hook", "events": ["order.paid"]}, format="json"
    )
    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/problem+json")
    body = response.json()
    assert body["code"] == "webhook_url_forbidden"
    assert body["errors"][0]["field"] == "url"
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.parametrize(
    "payload",
    [
        {"url": "http://127.0.0.1:9/", "events": ["order.shipped"]},
        {"url": "http://127.0.0.1:9/", "events": []},
        {"url": "not a url", "events": ["order.paid"]},
        {"events": ["order.paid"]},
        {"url": "http://127.0.0.1:9/", "events": "order.paid"},
    ],
)
def test_bad_input_is_a_400(admin_client, payload):
    response = admin_client.post(URL, payload, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"


def test_patch_changes_fields_and_reactivation_clears_failures(admin_client):
    endpoint = endpoint_for("http://127.0.0.1:9/hook")
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(is_active=False, failure_count=20)
    response = admin_client.patch(
        f"{URL}{endpoint.pk}/", {"events": ["stock.low"], "description": "ERP"}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["is_active"] is False  # not reactivated by omission
    response = admin_client.patch(f"{URL}{endpoint.pk}/", {"is_active": True}, format="json")
    body = response.json()
    assert body["is_active"] is True and body["failure_count"] == 0
    assert body["events"] == ["stock.low"] and body["description"] == "ERP"


def test_delete(admin_client):
    endpoint = endpoint_for("http://127.0.0.1:9/hook")
    assert admin_client.delete(f"{URL}{endpoint.pk}/").status_code == 204
    assert admin_client.get(f"{URL}{endpoint.pk}/").status_code == 404


def test_deliveries_list_is_paginated_and_redeliver_works(admin_client):
    with Receiver([410]) as receiver:
        endpoint = endpoint_for(receiver.url)
        for i in range(3):
            event_emit(type="order.created", data={"n": i})
        drain()
        response = admin_client.get(f"{URL}{endpoint.pk}/deliveries/?page_size=2")
        assert response.status_code == 200
        body = response.json()
        assert body["count"] == 3 and len(body["results"]) == 2
        row = body["results"][0]
        assert set(row) >= {
            "id",
            "event_id",
            "event",
            "status",
            "attempts",
            "response_status",
            "duration_ms",
            "created_at",
        }
        failed = next(
            r
            for r in admin_client.get(f"{URL}{endpoint.pk}/deliveries/").json()["results"]
            if r["status"] == "failed"
        )
        assert failed["response_status"] == 410 and failed["event"] == "order.created"
        detail = admin_client.get(f"{URL}{endpoint.pk}/deliveries/{failed['id']}/").json()
        assert detail["payload"]["id"] == failed["event_id"]

        redeliver = f"{URL}{endpoint.pk}/deliveries/{failed['id']}/redeliver/"
        response = admin_client.post(redeliver)
        assert response.status_code == 202 and response.json()["status"] == "pending"
        again = admin_client.post(redeliver)
        assert again.status_code == 409 and again.json()["code"] == "delivery_pending"
        assert drain() == ["delivered"]
    assert WebhookDelivery.objects.get(pk=failed["id"]).status == "delivered"
    assert len(receiver.requests) == 4


def test_redeliver_to_an_inactive_endpoint_is_refused(admin_client):
    with Receiver([410]) as receiver:
        endpoint = endpoint_for(receiver.url)
        event_emit(type="order.created", data={})
        drain()
    delivery = WebhookDelivery.objects.get()
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(is_active=False)
    response = admin_client.post(f"{URL}{endpoint.pk}/deliveries/{delivery.pk}/redeliver/")
    assert response.status_code == 409 and response.json()["code"] == "webhook_inactive"


def test_deliveries_of_another_or_unknown_endpoint_are_404(admin_client):
    with Receiver() as receiver:
        first = endpoint_for(receiver.url)
        second = endpoint_for(receiver.url)
        event_emit(type="order.created", data={})
        drain()
    delivery = WebhookDelivery.objects.get(endpoint=first)
    assert admin_client.get(f"{URL}999999/deliveries/").status_code == 404
    assert admin_client.get(f"{URL}{second.pk}/deliveries/{delivery.pk}/").status_code == 404
    assert (
        admin_client.post(f"{URL}{second.pk}/deliveries/{delivery.pk}/redeliver/").status_code
        == 404
    )


def test_superuser_flag_not_staff_flag_is_the_admin_role():
    client = client_for(UserFactory(is_staff=False, is_superuser=True))
    assert client.get(URL).status_code == 200
