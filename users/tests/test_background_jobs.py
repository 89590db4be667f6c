"""Password reset through the outbox (the same work for any address) and auth_prune."""

from datetime import timedelta

import pytest
from django.core import mail
from django.core.management import call_command
from django.utils import timezone

from nexus.models import OutboxMessage, OutboxStatus
from users.models import LoginFailure, RevokedAccessToken

RESET_URL = "/api/v1/auth/password/reset/"


@pytest.mark.django_db
def test_reset_request_writes_the_same_row_for_known_and_unknown_emails(api_client, user):
    known = api_client.post(RESET_URL, {"email": user.email}, format="json")
    unknown = api_client.post(RESET_URL, {"email": "nobody@example.com"}, format="json")
    assert known.status_code == unknown.status_code == 202
    assert known.content == unknown.content
    rows = list(OutboxMessage.objects.order_by("id").values("kind", "payload", "status"))
    # Neither request looked the account up or sent anything: one identical row each.
    assert rows == [
        {"kind": "password_reset", "payload": {"email": user.email}, "status": "pending"},
        {"kind": "password_reset", "payload": {"email": "nobody@example.com"}, "status": "pending"},
    ]
    assert mail.outbox == []


@pytest.mark.django_db
def test_reset_delivery_emails_only_an_existing_account(
    api_client, user, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        api_client.post(RESET_URL, {"email": user.email.upper()}, format="json")
        api_client.post(RESET_URL, {"email": "nobody@example.com"}, format="json")
    known, unknown = OutboxMessage.objects.order_by("id")
    assert known.status == unknown.status == OutboxStatus.DELIVERED
    assert known.result["sent"] is True
    assert unknown.result == {"sent": False}
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [user.email]
    assert "token:" in mail.outbox[0].body
    assert mail.outbox[0].extra_headers["X-Nexus-Outbox-Id"] == str(known.pk)


@pytest.mark.django_db
def test_auth_prune_deletes_only_what_is_over(settings, capsys):
    now = timezone.now()
    window = settings.NEXUS_LOGIN_FAILURE_WINDOW
    RevokedAccessToken.objects.create(jti="old", expires_at=now - timedelta(minutes=1))
    RevokedAccessToken.objects.create(jti="live", expires_at=now + timedelta(minutes=10))
    LoginFailure.objects.create(key="account:old", failures=2, window_started_at=now - 2 * window)
    LoginFailure.objects.create(key="account:current", failures=2, window_started_at=now)
    LoginFailure.objects.create(
        key="account:locked",
        failures=5,
        window_started_at=now - 2 * window,
        locked_until=now + timedelta(minutes=5),
    )
    call_command("auth_prune")
    assert "Deleted 1 expired revocation row(s) and 1 stale" in capsys.readouterr().out
    assert list(RevokedAccessToken.objects.values_list("jti", flat=True)) == ["live"]
    assert set(LoginFailure.objects.values_list("key", flat=True)) == {
        "account:current",
        "account:locked",
    }
