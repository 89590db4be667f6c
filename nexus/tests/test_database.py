"""The PostgreSQL connection: server-side binding, prepared statements and the health
check skipped right after a successful request (issue 18)."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest
from django.db import OperationalError, ProgrammingError, close_old_connections, connection

from catalog.models import Category
from catalog.tests.factories import CategoryFactory
from nexus.rawsql import unprepared
from nexus.testing import prepared_statements, requires_postgres

ROOT = Path(__file__).resolve().parents[2]


def _settings_run(code: str, **env) -> subprocess.CompletedProcess:
    """``code`` in a fresh interpreter on nexus.settings with a PostgreSQL URL and
    ``env`` (the settings module reads the environment once, at import)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_"))}
    clean.update(
        DJANGO_SETTINGS_MODULE="nexus.settings",
        DJANGO_DEBUG="1",
        DATABASE_URL="postgres://nexus@db.invalid:5432/nexus",
        **env,
    )
    return subprocess.run(  # noqa: S603
        [sys.executable, "-c", code], cwd=ROOT, env=clean, capture_output=True, text=True
    )


def _database_options(**env) -> dict:
    """``DATABASES["default"]["OPTIONS"]`` as nexus.settings builds them from ``env``."""
    result = _settings_run(
        "import json; from django.conf import settings; "
        "print(json.dumps(settings.DATABASES['default']['OPTIONS']))",
        **env,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_postgres_binds_on_the_server_and_prepares_after_five_runs_by_default():
    options = _database_options()
    assert options["server_side_binding"] is True
    assert options["prepare_threshold"] == 5


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"DATABASE_PREPARE_THRESHOLD": "0"}, (True, 0)),
        ({"DATABASE_PREPARE_THRESHOLD": "off"}, (True, None)),
        ({"DATABASE_PREPARE_THRESHOLD": ""}, (True, 5)),
        ({"DATABASE_SERVER_SIDE_BINDING": "0"}, (None, None)),
    ],
)
def test_binding_and_preparing_follow_the_environment(env, expected):
    options = _database_options(**env)
    assert (options.get("server_side_binding"), options.get("prepare_threshold")) == expected


def test_a_bad_threshold_refuses_to_start():
    result = _settings_run(
        "from django.conf import settings; settings.DATABASES",
        DATABASE_PREPARE_THRESHOLD="sometimes",
    )
    assert result.returncode != 0
    assert "DATABASE_PREPARE_THRESHOLD must be an integer" in result.stderr


@requires_postgres
@pytest.mark.django_db
def test_a_statement_run_often_is_prepared_on_the_connection():
    """The ORM's statement, run more often than the threshold, becomes a prepared
    statement of this PostgreSQL session (PostgreSQL then stops parsing and planning it),
    and still reads the rows in force."""
    assert connection.features.uses_server_side_binding
    category = CategoryFactory()
    threshold = connection.settings_dict["OPTIONS"]["prepare_threshold"]
    marker = "prepared-statement-test"

    def read() -> list:
        return list(Category.objects.filter(slug=marker).values_list("name", flat=True))

    for _ in range(threshold + 1):
        assert read() == []
    prepared = prepared_statements()
    assert any('FROM "catalog_category"' in sql and "$1" in sql for sql in prepared), prepared
    Category.objects.filter(pk=category.pk).update(slug=marker, name="Renamed")
    assert read() == ["Renamed"]


@requires_postgres
@pytest.mark.django_db
def test_statements_inside_unprepared_are_never_prepared_and_the_threshold_comes_back():
    threshold = connection.settings_dict["OPTIONS"]["prepare_threshold"]
    marker = "unprepared-test"

    def by_name_and_slug(sql: str) -> bool:
        return all(part in sql for part in ('FROM "catalog_category"', '"name" = $', '"slug" = $'))

    with unprepared():
        for _ in range(threshold + 3):
            list(Category.objects.filter(slug=marker, name=marker))
    assert not [sql for sql in prepared_statements() if by_name_and_slug(sql)]
    assert connection.connection.prepare_threshold == threshold
    with pytest.raises(ZeroDivisionError), unprepared():
        1 / 0  # noqa: B018 (the block fails)
    assert connection.connection.prepare_threshold == threshold
    for _ in range(threshold + 1):
        list(Category.objects.filter(slug=marker, name=marker))
    assert [sql for sql in prepared_statements() if by_name_and_slug(sql)]


# ---- the health check answered once a second (nexus/postgresql/base.py) ----------------


def _request(work) -> None:
    """One request's life on the connection, as Django's handler drives it: the
    request_started and request_finished receivers (the test client leaves them out)."""
    close_old_connections()
    try:
        work()
    finally:
        close_old_connections()


def _read() -> None:
    assert Category.objects.filter(slug="health-check-test").count() == 0


@pytest.fixture
def health_checks(monkeypatch) -> list:
    """Every health check (Django's SELECT 1) the connection runs from now on."""
    checks = []
    original = connection.is_usable

    def counting():
        checks.append(1)
        return original()

    monkeypatch.setattr(connection, "is_usable", counting)
    connection.ensure_connection()
    return checks


def _terminate_own_backend() -> None:
    """Kill this connection's server process from a second session, as a server restart
    or an idle timeout does."""
    pid = connection.connection.info.backend_pid
    with psycopg.connect(**connection.get_connection_params(), autocommit=True) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [pid])


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_a_request_soon_after_a_successful_one_skips_the_health_check(settings, health_checks):
    assert connection.health_check_enabled
    settings.DATABASE_HEALTH_CHECK_INTERVAL = 60
    _request(_read)
    del health_checks[:]
    for _ in range(3):
        _request(_read)
    assert health_checks == []


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_with_interval_zero_every_request_is_health_checked(settings, health_checks):
    settings.DATABASE_HEALTH_CHECK_INTERVAL = 0
    for _ in range(3):
        _request(_read)
    assert health_checks == [1, 1, 1]


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_a_request_after_the_interval_is_health_checked_again(settings, health_checks):
    settings.DATABASE_HEALTH_CHECK_INTERVAL = 0.05
    _request(_read)
    time.sleep(0.1)
    del health_checks[:]
    _request(_read)
    assert health_checks == [1]


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_a_request_whose_statement_failed_proves_nothing(settings, health_checks):
    settings.DATABASE_HEALTH_CHECK_INTERVAL = 60
    _request(_read)

    def failing() -> None:
        with pytest.raises(ProgrammingError), connection.cursor() as cursor:
            cursor.execute("SELECT * FROM no_such_table_here")

    _request(failing)
    del health_checks[:]  # Django's own check at the failed request's end is counted here
    _request(_read)
    assert health_checks == [1]


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_a_connection_that_died_while_idle_is_replaced_before_the_request(settings):
    """Past the interval the check finds the dead connection and the request runs on a
    new one, as with Django's check before every request."""
    settings.DATABASE_HEALTH_CHECK_INTERVAL = 0
    _request(_read)
    before = connection.connection.info.backend_pid
    _terminate_own_backend()
    _request(_read)
    assert connection.connection.info.backend_pid != before


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_within_the_interval_a_dead_connection_fails_one_request_then_is_replaced(settings):
    """What the interval gives up, bounded: the first request on a connection that died
    within the interval fails with a database error (the API answers 503), the connection
    is dropped at that request's end, and the next request runs on a new one."""
    settings.DATABASE_HEALTH_CHECK_INTERVAL = 60
    _request(_read)
    before = connection.connection.info.backend_pid
    _terminate_own_backend()
    with pytest.raises(OperationalError):
        _request(_read)
    assert connection.connection is None
    _request(_read)
    assert connection.connection.info.backend_pid != before
