"""Multi-word search matches every word, on SQLite as on PostgreSQL (issue 19: on SQLite
``?search=fabrikam power`` found nothing while each word matched)."""

import pytest

from catalog.tests.factories import ProductFactory

pytestmark = pytest.mark.django_db


def _names(client, text):
    response = client.get("/api/v1/products/", {"search": text})
    assert response.status_code == 200
    return {p["name"] for p in response.json()["results"]}


def test_every_word_must_match_in_any_field(api_client):
    ProductFactory(name="Fabrikam Power Drill", brand="Fabrikam")
    ProductFactory(name="Cordless Drill", brand="Fabrikam", description="Power to spare.")
    ProductFactory(name="Fabrikam Hammer", brand="Fabrikam")
    ProductFactory(name="Contoso Power Bank", brand="Contoso")
    assert _names(api_client, "fabrikam power") == {"Fabrikam Power Drill", "Cordless Drill"}
    assert _names(api_client, "FABRIKAM") == {
        "Fabrikam Power Drill",
        "Cordless Drill",
        "Fabrikam Hammer",
    }
    assert _names(api_client, "fabrikam bank") == set()


def test_a_partial_sku_still_matches(api_client):
    ProductFactory(name="Widget", sku="NX-ABC-123")
    assert _names(api_client, "ABC-12") == {"Widget"}
