"""Regression tests of issue 12 for the plumbing: bounded JSON depth, private responses
kept out of caches, atomic throttles and their RateLimit headers."""

import pytest
from rest_framework.test import APIClient

from nexus.parsers import json_depth_exceeds
from nexus.testing import problem_codes, requires_postgres, run_concurrently, statuses
from nexus.throttles import AnonymousRateThrottle, SignedInRateThrottle
from users.throttles import AuthRateThrottle

pytestmark = pytest.mark.django_db

LOGIN = "/api/v1/auth/login/"
PROFILE = "/api/v1/users/profile/"
PRODUCTS = "/api/v1/products/"


# --------------------------------------------------------------------------- 4. JSON depth


def test_deeply_nested_json_is_a_400_parse_error(api_client):
    body = '{"a":' * 10_000 + "1" + "}" * 10_000  # the attack: ~60 KB, 10,000 levels
    response = api_client.post(LOGIN, body, content_type="application/json")
    assert problem_codes(response) == (400, "parse_error")


def test_nesting_just_past_the_limit_is_refused_and_at_the_limit_parsed(api_client, settings):
    settings.NEXUS_JSON_MAX_DEPTH = 4
    deep = '{"email": [[[["x"]]]], "password": "p"}'  # 5 levels
    ok = '{"email": [[["x"]]], "password": "p"}'  # 4 levels: parsed, then invalid input
    assert problem_codes(api_client.post(LOGIN, deep, content_type="application/json")) == (
        400,
        "parse_error",
    )
    assert problem_codes(api_client.post(LOGIN, ok, content_type="application/json")) == (
        400,
        "validation_error",
    )


def test_json_depth_ignores_brackets_inside_strings():
    assert not json_depth_exceeds('{"a": "[[[[[[[[[[[[{{{{{{{{{{\\"]]]]"}', 2)
    assert json_depth_exceeds("[[[]]]", 2)
    assert not json_depth_exceeds("[[]]", 2)
    assert not json_depth_exceeds("[" + "{}," * 5000 + "{}]", 2)  # wide, not deep


# --------------------------------------------------------------------------- Cache-Control


def test_private_responses_are_no_store_and_vary_on_authorization(user_client):
    response = user_client.get(PROFILE)
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    assert "Authorization" in response["Vary"]


def test_token_responses_are_no_store_even_without_a_token(api_client, user):
    from users.tests.factories import DEFAULT_PASSWORD

    response = api_client.post(LOGIN, {"email": user.email, "password": DEFAULT_PASSWORD})
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"


def test_anonymous_public_reads_are_not_marked_private(api_client):
    response = api_client.get(PRODUCTS)
    assert response.status_code == 200
    assert "no-store" not in response.get("Cache-Control", "")
    assert "Authorization" in response["Vary"]


def test_authenticated_catalog_reads_are_no_store(user_client):
    assert user_client.get(PRODUCTS)["Cache-Control"] == "no-store"


def test_a_cache_control_set_by_the_view_is_kept(admin_user):
    from django.test import Client

    browser = Client()
    browser.force_login(admin_user)
    response = browser.get("/admin/")
    assert response.status_code == 200
    assert "private" in response["Cache-Control"]  # the admin's never_cache, not replaced


# --------------------------------------------------------------------------- rate limits


def test_ratelimit_headers_report_the_policy_and_what_is_left(api_client, monkeypatch):
    monkeypatch.setattr(AnonymousRateThrottle, "THROTTLE_RATES", {"anon": "3/min"})
    first = api_client.get(PRODUCTS)
    assert first["RateLimit-Policy"] == '"anon";q=3;w=60'
    assert first["RateLimit"].startswith('"anon";r=2;t=')
    api_client.get(PRODUCTS)
    api_client.get(PRODUCTS)
    throttled = api_client.get(PRODUCTS)
    assert problem_codes(throttled) == (429, "throttled")
    assert throttled["RateLimit"].startswith('"anon";r=0;t=')
    assert 0 < int(throttled["Retry-After"]) <= 60


def test_ratelimit_headers_list_every_policy_that_counted(api_client, monkeypatch):
    monkeypatch.setattr(AuthRateThrottle, "THROTTLE_RATES", {"auth": "5/min"})
    response = api_client.post("/api/v1/auth/token/refresh/", {"refresh": "x"})
    assert response["RateLimit-Policy"] == '"auth";q=5;w=60'


def test_signed_in_callers_are_counted_by_account(user_client, monkeypatch):
    monkeypatch.setattr(SignedInRateThrottle, "THROTTLE_RATES", {"user": "7/min"})
    response = user_client.get(PROFILE)
    assert response["RateLimit-Policy"] == '"user";q=7;w=60'


@requires_postgres
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_never_pass_the_limit(monkeypatch):
    # DRF's read-the-list-then-write-it throttle let about half again through.
    monkeypatch.setattr(AuthRateThrottle, "THROTTLE_RATES", {"auth": "10/min"})

    results = run_concurrently(
        lambda i: APIClient().post("/api/v1/auth/token/refresh/", {"refresh": "x"}), 20
    )

    assert statuses(results) == [401] * 10 + [429] * 10


# --------------------------------------------------------------------------- Gunicorn errors


def test_gunicorn_errors_are_problem_json(monkeypatch):
    import json

    from gunicorn import util

    from nexus import gunicorn_errors

    raw = gunicorn_errors.problem_error_bytes(400, "Bad Request", "Invalid header value 'a\x01b'")
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 Bad Request\r\n")
    assert b"Content-Type: application/problem+json" in head
    assert int(head.split(b"Content-Length: ")[1]) == len(body)
    assert json.loads(body)["code"] == "bad_request"

    monkeypatch.setattr(util, "write_error", util.write_error)  # restored after the test
    gunicorn_errors.install()
    sent = []
    monkeypatch.setattr(util, "write_nonblock", lambda sock, data: sent.append(data))
    util.write_error(None, 431, "Request Header Fields Too Large", "")
    assert json.loads(sent[0].partition(b"\r\n\r\n")[2])["code"] == "headers_too_large"


def test_throttle_counter_is_atomic_on_the_configured_cache(monkeypatch):
    # No database: runs on the quick start's LocMemCache and on Redis alike.
    from django.contrib.auth.models import AnonymousUser
    from django.test import RequestFactory
    from rest_framework.request import Request

    from nexus.testing import run_concurrently

    monkeypatch.setattr(AnonymousRateThrottle, "THROTTLE_RATES", {"anon": "10/min"})

    def attempt(index: int) -> bool:
        request = Request(RequestFactory().get("/", REMOTE_ADDR="10.1.2.3"))
        request.user = AnonymousUser()
        return AnonymousRateThrottle().allow_request(request, None)

    results = run_concurrently(attempt, 20)

    assert sorted(results) == [False] * 10 + [True] * 10


@pytest.mark.django_db
def test_money_fields_refuse_json_numbers(staff_client):
    # Fuzz finding: shipping-method and variant prices took JSON numbers though the schema
    # (and the contract) say decimal strings.
    response = staff_client.post(
        "/api/v1/shipping-methods/", {"code": "dhl", "name": "DHL", "price": 4.9}, format="json"
    )
    assert response.status_code == 400
    ok = staff_client.post(
        "/api/v1/shipping-methods/", {"code": "dhl", "name": "DHL", "price": "4.90"}, format="json"
    )
    assert ok.status_code == 201, ok.content
