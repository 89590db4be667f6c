"""Catalog test fixtures: media files in a temporary folder, a category tree."""

import pytest

from catalog.tests.factories import CategoryFactory


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def cache_on(settings):
    """Force the response cache on (the default turns it off for a per-process LocMemCache)."""
    settings.NEXUS_CATALOG_CACHE = True


@pytest.fixture
def cache_off(settings):
    """Force the response cache off: every public read computed, none stored."""
    settings.NEXUS_CATALOG_CACHE = False


@pytest.fixture
def tree(db):
    """electronics > computers > laptops, and a separate kitchen category."""
    electronics = CategoryFactory(name="Electronics", slug="electronics")
    computers = CategoryFactory(name="Computers", slug="computers", parent=electronics)
    laptops = CategoryFactory(name="Laptops", slug="laptops", parent=computers)
    kitchen = CategoryFactory(name="Kitchen", slug="kitchen")
    return {
        "electronics": electronics,
        "computers": computers,
        "laptops": laptops,
        "kitchen": kitchen,
    }
