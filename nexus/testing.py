"""Helpers for tests of every app (imported by tests; never by application code)."""

import pytest
from django.conf import settings
from rest_framework.test import APIClient

requires_postgres = pytest.mark.skipif(
    not settings.IS_POSTGRES, reason="needs PostgreSQL (set DATABASE_URL)"
)


def client_for(user) -> APIClient:
    """An APIClient sending a fresh Bearer access token for ``user``."""
    from users.tokens import tokens_for_user

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens_for_user(user)['access']}")
    return client


def problem_codes(response) -> tuple[int, str]:
    """(status, code) of a problem+json response, asserting its content type."""
    assert response["Content-Type"].startswith("application/problem+json"), response.content
    body = response.json()
    assert body["status"] == response.status_code
    return response.status_code, body["code"]
