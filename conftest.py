"""Fixtures shared by every app's tests: API clients, users of each role, a clean cache."""

import pytest
from django.core.cache import cache
from django.db import connection
from rest_framework.test import APIClient

from nexus.cache import breaker
from nexus.testing import client_for
from users.tests.factories import UserFactory


def _clear_cache() -> None:
    # Only this process's key space: parallel workers share one Redis (see settings).
    if hasattr(cache, "delete_pattern"):
        cache.delete_pattern("*")
    else:
        cache.clear()


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """Variant ids start far from product ids: every factory product has one variant, so
    with equal sequences code (or a test) that passed one id for the other would still
    pass by coincidence."""
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("ALTER SEQUENCE catalog_productvariant_id_seq RESTART WITH 700001")
        else:
            cursor.execute(
                "INSERT INTO sqlite_sequence (name, seq) VALUES ('catalog_productvariant', 700000)"
            )


@pytest.fixture(autouse=True)
def _test_settings(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    # Outbox rows are delivered in-process after commit: no test needs a worker.
    settings.NEXUS_OUTBOX_DISPATCH = "inline"
    breaker.reset()  # a test that broke Redis on purpose must not switch the cache off for others
    _clear_cache()
    yield
    _clear_cache()


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def user(db):
    return UserFactory()


@pytest.fixture
def other_user(db):
    return UserFactory()


@pytest.fixture
def staff_user(db):
    return UserFactory(is_staff=True)


@pytest.fixture
def admin_user(db):
    return UserFactory(is_staff=True, is_superuser=True)


@pytest.fixture
def user_client(user) -> APIClient:
    return client_for(user)


@pytest.fixture
def other_client(other_user) -> APIClient:
    return client_for(other_user)


@pytest.fixture
def staff_client(staff_user) -> APIClient:
    return client_for(staff_user)


@pytest.fixture
def redis_round_trips(monkeypatch):
    """The commands sent to Redis, one entry per packed send (a command or a pipeline):
    ``len(redis_round_trips)`` is the number of round trips."""
    from redis.connection import AbstractConnection

    sent = []
    send = AbstractConnection.send_packed_command

    def counted(self, command, check_health=True):
        sent.append(command)
        return send(self, command, check_health)

    monkeypatch.setattr(AbstractConnection, "send_packed_command", counted)
    return sent
