"""The PostgreSQL connection: server-side binding and prepared statements (issue 18)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

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
