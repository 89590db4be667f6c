"""docs/API.md stays true to the schema: every `METHOD /api/v1/...` it names is an
operation of the OpenAPI schema, and the README sends nobody outside the repository."""

import re
from pathlib import Path

import pytest
from django.test import override_settings
from drf_spectacular.generators import SchemaGenerator

ROOT = Path(__file__).resolve().parents[2]
_NAMED = re.compile(
    r"`((?:GET|POST|PUT|PATCH|DELETE)(?:/(?:GET|POST|PUT|PATCH|DELETE))*) (/api/v1/[^`\s?]*)"
)


def _shape(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "{}", path)


@pytest.mark.django_db
def test_every_endpoint_the_guide_names_exists():
    with override_settings(DEBUG=True):
        schema = SchemaGenerator().get_schema(request=None, public=True)
    operations = {
        (method.upper(), _shape(path))
        for path, ops in schema["paths"].items()
        for method in ops
        if method in {"get", "post", "put", "patch", "delete"}
    }
    guide = (ROOT / "docs" / "API.md").read_text()
    named = {
        (method, _shape(path))
        for methods, path in _NAMED.findall(guide)
        for method in methods.split("/")
    }
    assert len(named) >= 30
    assert named - operations == set()


def test_docs_stay_inside_the_repository():
    for name in ("README.md", "CONTRIBUTING.md", "docs/API.md", "docs/ARCHITECTURE.md"):
        text = (ROOT / name).read_text()
        assert "../shared" not in text, name
