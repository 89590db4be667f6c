"""Auth endpoints: register, login (with lockout), refresh rotation, logout, password flows."""

import re
import threading

import pytest
from django.core import mail
from django.db import connections
from rest_framework.test import APIClient

from nexus.testing import problem_codes, requires_postgres
from users.models import User
from users.tests.factories import DEFAULT_PASSWORD, UserFactory
from users.throttles import AuthRateThrottle

pytestmark = pytest.mark.django_db

REGISTER = "/api/v1/auth/register/"
LOGIN = "/api/v1/auth/login/"
REFRESH = "/api/v1/auth/token/refresh/"
LOGOUT = "/api/v1/auth/logout/"
LOGOUT_ALL = "/api/v1/auth/logout-all/"
PASSWORD_CHANGE = "/api/v1/auth/password/change/"
PASSWORD_RESET = "/api/v1/auth/password/reset/"
PASSWORD_RESET_CONFIRM = "/api/v1/auth/password/reset/confirm/"
PROFILE = "/api/v1/users/profile/"


def _login(client: APIClient, email: str, password: str = DEFAULT_PASSWORD):
    return client.post(LOGIN, {"email": email, "password": password})


def _bearer(access: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return client


# --------------------------------------------------------------------------- register


def test_register_creates_customer_and_returns_tokens(api_client):
    response = api_client.post(
        REGISTER,
        {
            "email": "New.Person@Example.com",
            "password": "Sturdy-pass-91",
            "password_confirm": "Sturdy-pass-91",
            "first_name": "New",
        },
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["user"]["email"] == "new.person@example.com"
    assert body["user"]["role"] == "customer"
    assert body["access"] and body["refresh"]
    assert _bearer(body["access"]).get(PROFILE).status_code == 200


def test_register_ignores_privilege_fields(api_client):
    response = api_client.post(
        REGISTER,
        {
            "email": "sneaky@example.com",
            "password": "Sturdy-pass-91",
            "password_confirm": "Sturdy-pass-91",
            "is_staff": True,
            "is_superuser": True,
            "role": "admin",
        },
    )
    assert response.status_code == 201
    user = User.objects.get(email="sneaky@example.com")
    assert not user.is_staff and not user.is_superuser
    assert response.json()["user"]["role"] == "customer"


def test_register_refuses_duplicate_email_case_insensitively(api_client, user):
    response = api_client.post(
        REGISTER,
        {
            "email": user.email.upper(),
            "password": "Sturdy-pass-91",
            "password_confirm": "Sturdy-pass-91",
        },
    )
    assert problem_codes(response) == (400, "validation_error")
    assert response.json()["errors"][0]["field"] == "email"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        (
            {"email": "a@example.com", "password": "Sturdy-pass-91", "password_confirm": "x"},
            "password_confirm",
        ),
        ({"email": "a@example.com", "password": "123", "password_confirm": "123"}, "password"),
        (
            {
                "email": "not-an-email",
                "password": "Sturdy-pass-91",
                "password_confirm": "Sturdy-pass-91",
            },
            "email",
        ),
        ({"password": "Sturdy-pass-91", "password_confirm": "Sturdy-pass-91"}, "email"),
    ],
)
def test_register_validation_errors_are_problems(api_client, payload, field):
    response = api_client.post(REGISTER, payload)
    assert problem_codes(response) == (400, "validation_error")
    assert field in {error["field"] for error in response.json()["errors"]}
    assert not User.objects.filter(email="a@example.com").exists()


# --------------------------------------------------------------------------- login


def test_login_returns_user_and_tokens(api_client, user):
    response = _login(api_client, user.email.upper())
    assert response.status_code == 200
    assert response.json()["user"]["id"] == user.id
    user.refresh_from_db()
    assert user.last_login is not None


def test_login_wrong_password_is_invalid_credentials(api_client, user):
    response = _login(api_client, user.email, "wrong-password")
    assert problem_codes(response) == (401, "invalid_credentials")


def test_login_locks_account_after_repeated_failures(api_client, user, settings):
    settings.NEXUS_LOGIN_MAX_FAILURES_PER_ACCOUNT = 3
    for _ in range(3):
        assert _login(api_client, user.email, "wrong").status_code == 401
    # Locked now: even the right password is refused, with Retry-After.
    response = _login(api_client, user.email)
    assert problem_codes(response) == (429, "too_many_login_attempts")
    assert int(response["Retry-After"]) > 0


def test_login_locks_client_address_across_accounts(api_client, settings):
    settings.NEXUS_LOGIN_MAX_FAILURES_PER_ADDRESS = 4
    victims = UserFactory.create_batch(4)
    for victim in victims:
        assert _login(api_client, victim.email, "wrong").status_code == 401
    fresh = UserFactory()
    assert problem_codes(_login(api_client, fresh.email)) == (429, "too_many_login_attempts")
    # Another address is not affected.
    other = APIClient(REMOTE_ADDR="10.9.8.7")
    assert _login(other, fresh.email).status_code == 200


def test_successful_login_resets_account_failures(api_client, user, settings):
    settings.NEXUS_LOGIN_MAX_FAILURES_PER_ACCOUNT = 3
    for _ in range(2):
        _login(api_client, user.email, "wrong")
    assert _login(api_client, user.email).status_code == 200
    for _ in range(2):
        _login(api_client, user.email, "wrong")
    assert _login(api_client, user.email).status_code == 200


def test_auth_endpoints_are_rate_limited_per_address(api_client, monkeypatch):
    monkeypatch.setattr(AuthRateThrottle, "THROTTLE_RATES", {"auth": "3/min"})
    for _ in range(3):
        api_client.post(REFRESH, {"refresh": "x"})
    response = api_client.post(REFRESH, {"refresh": "x"})
    assert problem_codes(response) == (429, "throttled")
    assert int(response["Retry-After"]) > 0


def test_login_inactive_user_is_refused(api_client):
    user = UserFactory(is_active=False)
    assert problem_codes(_login(api_client, user.email)) == (401, "invalid_credentials")


# --------------------------------------------------------------------------- refresh


def test_refresh_rotates_and_old_refresh_dies(api_client, user):
    tokens = _login(api_client, user.email).json()
    response = api_client.post(REFRESH, {"refresh": tokens["refresh"]})
    assert response.status_code == 200
    rotated = response.json()
    assert rotated["refresh"] != tokens["refresh"]
    assert _bearer(rotated["access"]).get(PROFILE).status_code == 200
    assert api_client.post(REFRESH, {"refresh": rotated["refresh"]}).status_code == 200


def test_refresh_reuse_revokes_the_whole_session(api_client, user):
    # Issue 12 changed this: reusing a rotated refresh token used to be refused while the
    # tokens rotated from it stayed valid; now reuse is theft and ends the whole session.
    stolen = _login(api_client, user.email).json()
    rotated = api_client.post(REFRESH, {"refresh": stolen["refresh"]}).json()
    other_session = _login(api_client, user.email).json()

    again = api_client.post(REFRESH, {"refresh": stolen["refresh"]})

    assert problem_codes(again) == (401, "token_not_valid")
    assert api_client.post(REFRESH, {"refresh": rotated["refresh"]}).status_code == 401
    assert _bearer(rotated["access"]).get(PROFILE).status_code == 401
    assert _bearer(stolen["access"]).get(PROFILE).status_code == 401
    # Another login of the same user is another session: untouched.
    assert _bearer(other_session["access"]).get(PROFILE).status_code == 200
    assert api_client.post(REFRESH, {"refresh": other_session["refresh"]}).status_code == 200


def test_refresh_rejects_garbage_and_access_tokens(api_client, user):
    tokens = _login(api_client, user.email).json()
    assert problem_codes(api_client.post(REFRESH, {"refresh": "garbage"})) == (
        401,
        "token_not_valid",
    )
    assert api_client.post(REFRESH, {"refresh": tokens["access"]}).status_code == 401


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_refresh_of_one_token_has_exactly_one_winner():
    user = UserFactory()
    refresh = _login(APIClient(), user.email).json()["refresh"]
    barrier = threading.Barrier(4)
    statuses: list[int] = []

    def attempt():
        try:
            barrier.wait()
            statuses.append(APIClient().post(REFRESH, {"refresh": refresh}).status_code)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=attempt) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200, 401, 401, 401]


# --------------------------------------------------------------------------- logout


def test_logout_kills_refresh_and_presented_access(api_client, user):
    tokens = _login(api_client, user.email).json()
    client = _bearer(tokens["access"])
    assert client.post(LOGOUT, {"refresh": tokens["refresh"]}).status_code == 204
    assert problem_codes(client.get(PROFILE)) == (401, "token_not_valid")
    assert api_client.post(REFRESH, {"refresh": tokens["refresh"]}).status_code == 401


def test_logout_leaves_other_sessions_alone(api_client, user):
    first = _login(api_client, user.email).json()
    second = _login(api_client, user.email).json()
    _bearer(first["access"]).post(LOGOUT, {"refresh": first["refresh"]})
    assert _bearer(second["access"]).get(PROFILE).status_code == 200


def test_logout_requires_bearer(api_client, user):
    tokens = _login(api_client, user.email).json()
    assert problem_codes(api_client.post(LOGOUT, {"refresh": tokens["refresh"]})) == (
        401,
        "not_authenticated",
    )


def test_logout_with_someone_elses_refresh_changes_nothing(api_client, user, other_user):
    mine = _login(api_client, user.email).json()
    theirs = _login(api_client, other_user.email).json()
    response = _bearer(mine["access"]).post(LOGOUT, {"refresh": theirs["refresh"]})
    assert problem_codes(response) == (401, "token_not_valid")
    assert api_client.post(REFRESH, {"refresh": theirs["refresh"]}).status_code == 200
    assert _bearer(mine["access"]).get(PROFILE).status_code == 200


def test_logout_all_kills_every_token(api_client, user):
    first = _login(api_client, user.email).json()
    second = _login(api_client, user.email).json()
    assert _bearer(first["access"]).post(LOGOUT_ALL).status_code == 204
    for pair in (first, second):
        assert _bearer(pair["access"]).get(PROFILE).status_code == 401
        assert api_client.post(REFRESH, {"refresh": pair["refresh"]}).status_code == 401
    assert _login(api_client, user.email).status_code == 200


# --------------------------------------------------------------------------- passwords


def test_password_change_revokes_other_tokens_and_keeps_this_client(api_client, user):
    other_session = _login(api_client, user.email).json()
    this_session = _login(api_client, user.email).json()
    response = _bearer(this_session["access"]).post(
        PASSWORD_CHANGE, {"old_password": DEFAULT_PASSWORD, "new_password": "Brand-new-pass-77"}
    )
    assert response.status_code == 200
    fresh = response.json()
    assert _bearer(fresh["access"]).get(PROFILE).status_code == 200
    assert _bearer(other_session["access"]).get(PROFILE).status_code == 401
    assert api_client.post(REFRESH, {"refresh": other_session["refresh"]}).status_code == 401
    assert _login(api_client, user.email, "Brand-new-pass-77").status_code == 200


def test_password_change_refuses_wrong_old_or_weak_new(user_client, user):
    wrong = user_client.post(
        PASSWORD_CHANGE, {"old_password": "nope", "new_password": "Brand-new-pass-77"}
    )
    assert problem_codes(wrong) == (400, "validation_error")
    assert wrong.json()["errors"][0]["field"] == "old_password"
    weak = user_client.post(
        PASSWORD_CHANGE, {"old_password": DEFAULT_PASSWORD, "new_password": "1"}
    )
    assert problem_codes(weak) == (400, "validation_error")
    user.refresh_from_db()
    assert user.check_password(DEFAULT_PASSWORD)


def test_password_reset_unknown_email_is_accepted_silently(api_client):
    response = api_client.post(PASSWORD_RESET, {"email": "nobody@example.com"})
    assert response.status_code == 202
    assert mail.outbox == []


def test_password_reset_flow_end_to_end(api_client, user, django_capture_on_commit_callbacks):
    old = _login(api_client, user.email).json()
    with django_capture_on_commit_callbacks(execute=True):
        assert api_client.post(PASSWORD_RESET, {"email": user.email}).status_code == 202
    assert len(mail.outbox) == 1
    message = mail.outbox[0].body
    uid = re.search(r"uid: (\S+)", message).group(1)
    token = re.search(r"token: (\S+)", message).group(1)

    bad = api_client.post(
        PASSWORD_RESET_CONFIRM, {"uid": uid, "token": "1-bad", "new_password": "Reset-pass-555"}
    )
    assert problem_codes(bad) == (400, "validation_error")

    response = api_client.post(
        PASSWORD_RESET_CONFIRM, {"uid": uid, "token": token, "new_password": "Reset-pass-555"}
    )
    assert response.status_code == 204
    assert _login(api_client, user.email, "Reset-pass-555").status_code == 200
    assert _bearer(old["access"]).get(PROFILE).status_code == 401
    # The link is single-use: the password changed, so the token no longer checks out.
    reuse = api_client.post(
        PASSWORD_RESET_CONFIRM, {"uid": uid, "token": token, "new_password": "Other-pass-666"}
    )
    assert reuse.status_code == 400


def test_password_reset_confirm_garbage_uid(api_client):
    response = api_client.post(
        PASSWORD_RESET_CONFIRM, {"uid": "!!!", "token": "x", "new_password": "Reset-pass-555"}
    )
    assert problem_codes(response) == (400, "validation_error")


# --------------------------------------------------------------------------- bearer handling


def test_malformed_bearer_is_401_problem(api_client):
    api_client.credentials(HTTP_AUTHORIZATION="Bearer not.a.jwt")
    assert problem_codes(api_client.get(PROFILE)) == (401, "token_not_valid")


def test_inactive_user_token_is_refused(user):
    client = _bearer(_login(APIClient(), user.email).json()["access"])
    User.objects.filter(pk=user.pk).update(is_active=False)
    assert client.get(PROFILE).status_code == 401
