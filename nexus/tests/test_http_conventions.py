"""HTTP conventions (issue 19): `/` leads to the docs, every /api/ address answers
problem+json (DEBUG on too), a slashless API path never changes the method (308), and
public catalog reads support conditional GET with a short public max-age."""

import pytest
from django.test import Client

from cart.models import CartItem
from catalog.tests.factories import ProductFactory
from nexus.testing import client_for, problem_codes

pytestmark = pytest.mark.django_db


def test_root_redirects_to_the_api_docs(api_client):
    response = api_client.get("/")
    assert response.status_code == 302
    assert response["Location"] == "/api/v1/schema/swagger-ui/"


@pytest.mark.parametrize("debug", [False, True])
@pytest.mark.parametrize("method", ["get", "post", "delete"])
def test_unknown_api_paths_are_problem_json_in_every_mode(settings, debug, method):
    settings.DEBUG = debug  # with DEBUG on, Django would answer its HTML 404 page
    response = getattr(Client(), method)("/api/v1/no-such-thing/")
    assert problem_codes(response) == (404, "not_found")
    assert response["Content-Type"] == "application/problem+json"


@pytest.mark.parametrize("debug", [False, True])
def test_slashless_post_is_a_308_and_changes_nothing(user, settings, debug):
    """The trap: 301 made clients repeat ``POST /api/v1/cart`` as a GET (item never
    added); with DEBUG on it was a 500. Now: 308 to the slashed address, same method."""
    settings.DEBUG = debug
    product = ProductFactory()
    client = client_for(user)
    response = client.post("/api/v1/cart?x=1", {"product": product.pk}, format="json")
    assert problem_codes(response) == (308, "trailing_slash_required")
    assert response["Location"] == "/api/v1/cart/?x=1"
    assert not CartItem.objects.exists()
    # A client that follows the redirect repeats the POST where it belongs.
    followed = client.post(response["Location"], {"product": product.pk}, format="json")
    assert followed.status_code == 201, followed.content
    assert CartItem.objects.get().variant.product_id == product.pk


@pytest.mark.parametrize("method", ["get", "put", "patch", "delete"])
def test_every_method_on_a_slashless_path_is_redirected_not_changed(user_client, method):
    response = getattr(user_client, method)("/api/v1/users/profile")
    assert problem_codes(response) == (308, "trailing_slash_required")
    assert response["Location"] == "/api/v1/users/profile/"


def test_slashless_unknown_path_is_404(api_client):
    assert problem_codes(api_client.post("/api/v1/nothing-here")) == (404, "not_found")


def test_redirect_carries_cors_headers(settings, api_client):
    settings.CORS_ALLOWED_ORIGINS = ["https://shop.example.com"]
    response = api_client.post("/api/v1/cart", HTTP_ORIGIN="https://shop.example.com")
    assert response.status_code == 308
    assert response["Access-Control-Allow-Origin"] == "https://shop.example.com"


# --------------------------------------------------------------------------- conditional GET


@pytest.fixture(params=[False, True], ids=["uncached", "cached"])
def catalog_cache(request, settings):
    settings.NEXUS_CATALOG_CACHE = request.param
    return request.param


@pytest.mark.parametrize("url", ["/api/v1/products/", "/api/v1/categories/", "detail"])
def test_public_catalog_reads_get_etag_and_304(api_client, catalog_cache, url):
    product = ProductFactory()
    if url == "detail":
        url = f"/api/v1/products/{product.slug}/"
    first = api_client.get(url)
    assert first.status_code == 200
    etag = first["ETag"]
    assert etag.startswith('"') and len(etag) == 34
    assert first["Cache-Control"] == "public, max-age=60"
    assert "Authorization" in first["Vary"]
    again = api_client.get(url)
    assert again["ETag"] == etag  # the cached body hashes to the same tag
    not_modified = api_client.get(url, HTTP_IF_NONE_MATCH=etag)
    assert not_modified.status_code == 304
    assert not_modified.content == b""
    assert not_modified["ETag"] == etag
    assert not_modified["Cache-Control"] == "public, max-age=60"
    assert api_client.get(url, HTTP_IF_NONE_MATCH='"other"').status_code == 200


def test_etag_changes_when_the_catalog_does(
    api_client, staff_client, catalog_cache, django_capture_on_commit_callbacks
):
    product = ProductFactory(name="Old name")
    etag = api_client.get("/api/v1/products/")["ETag"]
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.patch(
            f"/api/v1/products/{product.pk}/", {"name": "New name"}, format="json"
        )
    assert response.status_code == 200, response.content
    fresh = api_client.get("/api/v1/products/", HTTP_IF_NONE_MATCH=etag)
    assert fresh.status_code == 200
    assert fresh["ETag"] != etag
    assert "New name" in fresh.content.decode()


def test_authenticated_catalog_reads_are_not_public(staff_client, user_client):
    ProductFactory()
    for client in (staff_client, user_client):
        response = client.get("/api/v1/products/")
        assert response.status_code == 200
        assert "public" not in response.get("Cache-Control", "")
        assert response["ETag"]
        assert (
            client.get("/api/v1/products/", HTTP_IF_NONE_MATCH=response["ETag"]).status_code == 304
        )


def test_other_reads_and_errors_get_no_public_caching(api_client, user_client):
    assert "ETag" not in user_client.get("/api/v1/users/profile/")
    missing = api_client.get("/api/v1/products/no-such-product/")
    assert missing.status_code == 404
    assert "public" not in missing.get("Cache-Control", "")


def test_not_acceptable_is_problem_406(api_client):
    response = api_client.get("/api/v1/products/", HTTP_ACCEPT="text/html")
    assert problem_codes(response) == (406, "not_acceptable")
