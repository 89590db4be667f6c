"""SSRF defence: non-public addresses refused at registration and again at delivery time,
after DNS resolution, with the connection pinned to the address that was checked."""

import socket

import pytest

from nexus.events import event_emit
from webhooks import security, services
from webhooks.errors import WebhookUrlRefused
from webhooks.models import DeliveryStatus, WebhookDelivery
from webhooks.tests.helpers import drain, endpoint_for
from webhooks.tests.receiver import Receiver

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hook",
        "http://127.0.0.2:8080/hook",
        "http://localhost/hook",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://10.1.2.3/hook",
        "http://192.168.0.10/hook",
        "http://172.16.5.5/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[fe80::1]/hook",
        "http://100.64.0.1/hook",
        "http://0.0.0.0/hook",
        "http://2130706433/hook",  # 127.0.0.1 as one integer
    ],
)
def test_non_public_addresses_are_refused_at_registration(settings, url):
    settings.NEXUS_WEBHOOKS_ALLOW_PRIVATE = False
    with pytest.raises(WebhookUrlRefused) as refused:
        endpoint_for(url)
    assert refused.value.code == "webhook_url_forbidden"


def test_a_public_address_is_accepted(settings):
    settings.NEXUS_WEBHOOKS_ALLOW_PRIVATE = False
    assert endpoint_for("https://93.184.216.34/hooks/nexus").pk


@pytest.mark.parametrize(
    "url", ["ftp://93.184.216.34/x", "http://user:pw@93.184.216.34/x", "http:///nohost"]
)
def test_invalid_urls_are_refused(url):
    with pytest.raises(WebhookUrlRefused) as refused:
        endpoint_for(url)
    assert refused.value.code == "webhook_url_invalid"


def test_metadata_addresses_stay_refused_with_allow_private():
    with pytest.raises(WebhookUrlRefused) as refused:
        endpoint_for("http://169.254.169.254/latest/meta-data/")
    assert refused.value.code == "webhook_url_forbidden"


def test_unresolvable_names_are_refused():
    with pytest.raises(WebhookUrlRefused) as refused:
        endpoint_for("http://no-such-host.invalid/hook")
    assert refused.value.code == "webhook_url_unresolvable"


def test_loopback_is_allowed_with_the_setting():
    assert endpoint_for("http://127.0.0.1:9/hook").pk


def test_delivery_checks_the_address_again(settings):
    """Registered while allowed; refused at delivery once it is not (no request is made)."""
    with Receiver() as receiver:
        endpoint_for(receiver.url)
        settings.NEXUS_WEBHOOKS_ALLOW_PRIVATE = False
        event_emit(type="order.created", data={})
        assert drain() == ["failed"]
    assert receiver.requests == []
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == DeliveryStatus.FAILED
    assert "webhook_url_forbidden" in delivery.last_error


def _fake_dns(monkeypatch, answers: dict[str, list[str]]):
    """Name resolution for made-up names (the resolver of this machine has none)."""
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host in answers:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (answers[host].pop(0), port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(security.socket, "getaddrinfo", getaddrinfo)


def test_a_dns_rebind_to_loopback_is_refused_at_delivery(settings, monkeypatch):
    settings.NEXUS_WEBHOOKS_ALLOW_PRIVATE = False
    with Receiver() as receiver:
        # Public when registered, loopback when delivered.
        _fake_dns(monkeypatch, {"hooks.example.com": ["93.184.216.34", "127.0.0.1"]})
        endpoint_for(f"http://hooks.example.com:{receiver.port}/hook")
        event_emit(type="order.created", data={})
        assert drain() == ["failed"]
    assert receiver.requests == []
    assert "127.0.0.1" in WebhookDelivery.objects.get().last_error


def test_the_connection_goes_to_the_checked_address_with_the_name_as_host(monkeypatch):
    with Receiver() as receiver:
        # One answer only: a second lookup (by the HTTP client) would find none and fail.
        _fake_dns(monkeypatch, {"hooks.example.com": ["127.0.0.1", "127.0.0.1"]})
        endpoint = services.endpoint_create(
            url=f"http://hooks.example.com:{receiver.port}/hook", events=["order.created"]
        )
        event_emit(type="order.created", data={})
        assert drain() == ["delivered"]
    (request,) = receiver.requests
    assert request.headers["Host"] == f"hooks.example.com:{receiver.port}"
    assert endpoint.pk


def test_one_bad_answer_among_good_ones_is_refused(settings, monkeypatch):
    settings.NEXUS_WEBHOOKS_ALLOW_PRIVATE = False

    def getaddrinfo(host, port, *args, **kwargs):
        return [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", port)),
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.5", port)),
        ]

    monkeypatch.setattr(security.socket, "getaddrinfo", getaddrinfo)
    with pytest.raises(WebhookUrlRefused):
        endpoint_for("http://mixed.example.com/hook")
