"""Helpers for tests of every app (imported by tests; never by application code)."""

import pytest
from django.conf import settings
from rest_framework.test import APIClient

requires_postgres = pytest.mark.skipif(
    not settings.IS_POSTGRES, reason="needs PostgreSQL (set DATABASE_URL)"
)
requires_redis = pytest.mark.skipif(not settings.REDIS_URL, reason="needs Redis (set REDIS_URL)")


def prepared_statements() -> list[str]:
    """The statements prepared on this test's PostgreSQL connection, as
    ``pg_prepared_statements`` shows them (parameters as ``$1``, ``$2``...)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return [row[0] for row in cursor.fetchall()]


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


def run_concurrently(target, count: int) -> list:
    """Start ``count`` threads on ``target`` at once (a barrier); return what each returned
    or raised. Each thread closes its own database connection when done."""
    import threading

    from django.db import connections

    barrier = threading.Barrier(count)
    results: list = [None] * count

    def worker(index: int) -> None:
        try:
            barrier.wait()
            results[index] = target(index)
        except Exception as exc:  # reported to the test, which asserts on it
            results[index] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def statuses(results: list) -> list:
    """Sorted status codes of ``run_concurrently`` results (exceptions kept as they are)."""
    return sorted((getattr(r, "status_code", r) for r in results), key=str)
