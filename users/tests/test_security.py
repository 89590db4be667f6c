"""Regression tests of issue 12 for the users app: one lockout for the API and the admin,
one identity per email and username, single-use reset tokens, limits that hold under
concurrency. The race tests use real threads against PostgreSQL."""

import re

import pytest
from django.contrib.auth import authenticate
from django.core import mail
from django.test import Client
from rest_framework.test import APIClient

from nexus.testing import problem_codes, requires_postgres, run_concurrently, statuses
from users.models import LoginFailure, User, email_key
from users.tests.factories import DEFAULT_PASSWORD, UserFactory
from users.throttles import AuthRateThrottle

REGISTER = "/api/v1/auth/register/"
LOGIN = "/api/v1/auth/login/"
RESET = "/api/v1/auth/password/reset/"
RESET_CONFIRM = "/api/v1/auth/password/reset/confirm/"
ADMIN_LOGIN = "/admin/login/"

LONG_S = "\u017f"  # LATIN SMALL LETTER LONG S: NFKC makes it "s"
DOTLESS_I = "\u0131"  # LATIN SMALL LETTER DOTLESS I: PostgreSQL's lower/upper fold it to i/I


def _login(client, email: str, password: str = DEFAULT_PASSWORD):
    return client.post(LOGIN, {"email": email, "password": password})


def _register(client, email: str, username: str | None = None):
    payload = {"email": email, "password": "Tr1cky-Pass-99", "password_confirm": "Tr1cky-Pass-99"}
    if username:
        payload["username"] = username
    return client.post(REGISTER, payload)


def _admin_login(client: Client, email: str, password: str = DEFAULT_PASSWORD):
    client.get(ADMIN_LOGIN)  # CSRF cookie; the test client does not enforce it anyway
    return client.post(ADMIN_LOGIN, {"username": email, "password": password, "next": "/admin/"})


def _signed_in_to_admin(client: Client) -> bool:
    return client.get("/admin/").status_code == 200


# --------------------------------------------------------------------------- 1. admin login


@pytest.mark.django_db
def test_admin_login_refuses_an_account_locked_on_the_api(api_client, settings):
    settings.NEXUS_LOGIN_MAX_FAILURES_PER_ACCOUNT = 3
    staff = UserFactory(is_staff=True, is_superuser=True)
    for _ in range(3):
        assert _login(api_client, staff.email, "wrong").status_code == 401

    browser = Client()
    response = _admin_login(browser, staff.email)

    assert response.status_code == 200  # the form again, with the lockout message
    assert "Too many failed sign-ins" in response.content.decode()
    assert not _signed_in_to_admin(browser)


@pytest.mark.django_db
def test_admin_login_failures_lock_the_api_too(api_client, settings):
    settings.NEXUS_LOGIN_MAX_FAILURES_PER_ACCOUNT = 3
    staff = UserFactory(is_staff=True)
    browser = Client()
    for _ in range(30):
        _admin_login(browser, staff.email, "wrong")

    # The right password now opens neither the admin nor the API.
    _admin_login(browser, staff.email)
    assert not _signed_in_to_admin(browser)
    assert problem_codes(_login(api_client, staff.email)) == (429, "too_many_login_attempts")


@pytest.mark.django_db
def test_admin_login_still_works_for_staff():
    staff = UserFactory(is_staff=True, is_superuser=True)
    browser = Client()
    response = _admin_login(browser, staff.email.upper())
    assert response.status_code == 302
    assert _signed_in_to_admin(browser)


@pytest.mark.django_db
def test_authenticate_goes_through_the_lockout(settings):
    settings.NEXUS_LOGIN_MAX_FAILURES_PER_ACCOUNT = 2
    user = UserFactory()
    assert authenticate(None, username=user.email, password="wrong") is None
    assert authenticate(None, username=user.email, password="wrong") is None
    assert authenticate(None, username=user.email, password=DEFAULT_PASSWORD) is None
    assert LoginFailure.objects.filter(key=f"account:{user.pk}", locked_until__isnull=False)


# --------------------------------------------------------------------------- 2./3. emails


def test_email_key_is_nfkc_casefold():
    assert email_key(f"{LONG_S}ara@X.test") == "sara@x.test"
    assert email_key("\u212aate@x.test") == "kate@x.test"  # KELVIN SIGN
    assert email_key(f"al{DOTLESS_I}ce@x.test") != "alice@x.test"


@pytest.mark.django_db
def test_login_lookalike_spelling_shares_the_account_counter(api_client, settings):
    settings.NEXUS_LOGIN_MAX_FAILURES_PER_ACCOUNT = 3
    UserFactory(email="sara@x.test")
    for _ in range(3):
        assert _login(api_client, "sara@x.test", "wrong").status_code == 401
    # Another spelling of the same identity finds the same (locked) counter.
    assert problem_codes(_login(api_client, f"{LONG_S}ara@x.test")) == (
        429,
        "too_many_login_attempts",
    )


@pytest.mark.django_db
def test_login_dotless_i_is_not_alice(api_client):
    UserFactory(email="alice@x.test")
    # PostgreSQL's iexact folded the dotless i into alice's account (with its own counter).
    assert problem_codes(_login(api_client, f"al{DOTLESS_I}ce@x.test")) == (
        401,
        "invalid_credentials",
    )
    assert _login(api_client, "ALICE@x.test").status_code == 200


@pytest.mark.django_db
def test_register_refuses_another_spelling_of_a_taken_email(api_client):
    assert _register(api_client, "sara@x.test").status_code == 201
    response = _register(api_client, f"{LONG_S}ara@x.test")
    assert problem_codes(response) == (400, "validation_error")
    assert response.json()["errors"][0] == {
        "field": "email",
        "code": "unique",
        "message": "An account with this email already exists.",
    }
    assert _login(api_client, "sara@x.test", "Tr1cky-Pass-99").status_code == 200


@pytest.mark.django_db
def test_register_refuses_a_username_taken_in_another_case(api_client):
    assert _register(api_client, "one@x.test", username="Casey").status_code == 201
    response = _register(api_client, "two@x.test", username="casey")
    assert problem_codes(response) == (400, "validation_error")
    assert response.json()["errors"][0]["field"] == "username"


@pytest.mark.django_db
def test_password_reset_finds_the_account_by_its_key(
    api_client, django_capture_on_commit_callbacks
):
    UserFactory(email="sara@x.test")
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post(RESET, {"email": f"{LONG_S}ARA@x.test"})
    assert response.status_code == 202
    assert [message.to for message in mail.outbox] == [["sara@x.test"]]


# --------------------------------------------------------------------------- races


def race_test(function):
    """A race test: real threads against PostgreSQL, committed transactions."""
    for mark in (pytest.mark.django_db(transaction=True), pytest.mark.postgres, requires_postgres):
        function = mark(function)
    return function


@race_test
def test_concurrent_lookalike_registrations_make_one_account():
    emails = ["sara@x.test", f"{LONG_S}ara@x.test"] * 4

    results = run_concurrently(lambda i: _register(APIClient(), emails[i]), len(emails))

    assert statuses(results) == [201] + [400] * (len(emails) - 1)
    assert User.objects.filter(email_normalized="sara@x.test").count() == 1
    # And login works (it raised MultipleObjectsReturned: a 500 at every login).
    assert _login(APIClient(), "sara@x.test", "Tr1cky-Pass-99").status_code == 200


@race_test
def test_concurrent_usernames_differing_in_case_make_one_account():
    names = ["Casey", "casey", "CASEY", "cAsey"] * 2

    results = run_concurrently(
        lambda i: _register(APIClient(), f"casey{i}@x.test", username=names[i]), len(names)
    )

    assert statuses(results) == [201] + [400] * (len(names) - 1)
    assert User.objects.filter(username__iexact="casey").count() == 1


@race_test
def test_concurrent_wrong_passwords_are_checked_at_most_limit_times(settings):
    settings.NEXUS_LOGIN_MAX_FAILURES_PER_ACCOUNT = 5
    user = UserFactory()

    results = run_concurrently(
        lambda i: _login(APIClient(REMOTE_ADDR=f"10.0.0.{i + 1}"), user.email, "wrong"), 20
    )

    # Exactly five passwords were checked (401); the other fifteen were refused unchecked.
    assert statuses(results) == [401] * 5 + [429] * 15
    assert problem_codes(_login(APIClient(), user.email)) == (429, "too_many_login_attempts")


@race_test
def test_concurrent_reset_confirms_with_one_token_succeed_once(api_client):
    user = UserFactory()
    api_client.post(RESET, {"email": user.email})
    body = mail.outbox[-1].body
    uid = re.search(r"uid: (\S+)", body).group(1)
    token = re.search(r"token: (\S+)", body).group(1)

    def confirm(index: int):
        return APIClient().post(
            RESET_CONFIRM,
            {"uid": uid, "token": token, "new_password": f"Brand-New-Pass-{index}x"},
        )

    results = run_concurrently(confirm, 8)

    assert statuses(results) == [204] + [400] * 7
    winner = next(i for i, r in enumerate(results) if getattr(r, "status_code", None) == 204)
    user.refresh_from_db()
    assert user.check_password(f"Brand-New-Pass-{winner}x")


@race_test
def test_concurrent_registrations_hold_the_auth_rate(monkeypatch):
    monkeypatch.setattr(AuthRateThrottle, "THROTTLE_RATES", {"auth": "10/min"})

    results = run_concurrently(lambda i: _register(APIClient(), f"burst{i}@x.test"), 20)

    assert statuses(results) == [201] * 10 + [429] * 10
    assert User.objects.filter(email__startswith="burst").count() == 10


@pytest.mark.django_db
def test_auth_prune_drops_only_expired_revocations():
    from datetime import timedelta

    from django.core.management import call_command
    from django.utils import timezone

    from users.models import RevokedAccessToken, RevokedSession

    now = timezone.now()
    RevokedSession.objects.create(sid="old", expires_at=now - timedelta(seconds=1))
    RevokedSession.objects.create(sid="live", expires_at=now + timedelta(days=1))
    RevokedAccessToken.objects.create(jti="old", expires_at=now - timedelta(seconds=1))

    call_command("auth_prune")

    assert list(RevokedSession.objects.values_list("sid", flat=True)) == ["live"]
    assert not RevokedAccessToken.objects.exists()


@pytest.mark.django_db
def test_admin_add_user_refuses_another_spelling_of_a_taken_email(admin_user):
    UserFactory(email="sara@x.test")
    browser = Client()
    browser.force_login(admin_user)

    response = browser.post(
        "/admin/users/user/add/",
        {
            "email": f"{LONG_S}ara@x.test",
            "username": "sara2",
            "password1": "Tr1cky-Pass-99",
            "password2": "Tr1cky-Pass-99",
            "usable_password": "true",
            "addresses-TOTAL_FORMS": "0",  # the address inline's management form
            "addresses-INITIAL_FORMS": "0",
        },
    )

    assert response.status_code == 200  # the form again, not a 500
    assert "An account with this email already exists." in response.content.decode()
    assert User.objects.filter(email_normalized="sara@x.test").count() == 1


@pytest.mark.django_db
def test_admin_add_user_sets_the_normalised_email(admin_user):
    browser = Client()
    browser.force_login(admin_user)

    response = browser.post(
        "/admin/users/user/add/",
        {
            "email": "New.Person@x.test",
            "username": "newperson",
            "password1": "Tr1cky-Pass-99",
            "password2": "Tr1cky-Pass-99",
            "usable_password": "true",
            "addresses-TOTAL_FORMS": "0",  # the address inline's management form
            "addresses-INITIAL_FORMS": "0",
        },
    )

    assert response.status_code == 302
    assert User.objects.get(username="newperson").email_normalized == "new.person@x.test"
