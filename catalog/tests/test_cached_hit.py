"""Cached product and category hits answered before DRF's full cycle (issue 18,
``CachedHitMixin._cached_hit``): the same response as DRF's cycle gives for a hit,
headers included; the throttle counted once, in the same Redis round trip as the
lookup, and still limiting; 304 on ``If-None-Match``; never for a caller with
credentials."""

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_redis.exceptions import ConnectionInterrupted

from catalog.tests.factories import ProductFactory, ProductVariantFactory
from catalog.views import CachedHitMixin
from nexus.testing import problem_codes
from nexus.throttles import AnonymousRateThrottle, AtomicRateThrottleMixin

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(not settings.REDIS_URL, reason="the fast path needs Redis"),
]

URL = "/api/v1/products/"
CATEGORIES = "/api/v1/categories/"
NOW = 1_800_000_000.25  # the throttles' clock, fixed: RateLimit's t= is the same every time


@pytest.fixture
def fast(monkeypatch):
    """What ``_cached_hit`` did per request: True when it answered, False when it left
    the request to DRF's cycle. ``fast.off = True`` turns it off (DRF's cycle only, as
    before the fast path)."""

    class Record(list):
        off = False

    record = Record()
    original = CachedHitMixin._cached_hit

    def spied(self, request, *args, **kwargs):
        if record.off:
            return None
        response = original(self, request, *args, **kwargs)
        record.append(response is not None)
        return response

    monkeypatch.setattr(CachedHitMixin, "_cached_hit", spied)
    monkeypatch.setattr(AtomicRateThrottleMixin, "timer", staticmethod(lambda: NOW))
    return record


def _catalog():
    ProductFactory(name="Zürich “quoted” <b>", stock_quantity=3)
    tee = ProductFactory(variants=False)
    ProductVariantFactory(product=tee, options={"Size": "S"}, stock_quantity=2)
    ProductVariantFactory(product=tee, options={"Size": "M"}, stock_quantity=0)
    return tee


def _get(client, url, params=None, address="10.0.0.1", **headers):
    """A GET from ``address`` with a fixed request id (so every header can be compared)."""
    return client.get(
        url, params or {}, REMOTE_ADDR=address, HTTP_X_REQUEST_ID="req-fixed", **headers
    )


def _whole(response) -> tuple:
    return (
        response.status_code,
        sorted(response.items()),
        response.content,
        sorted(response.cookies),
    )


def _window_count(address: str) -> int | None:
    throttle = AnonymousRateThrottle()
    throttle.key = throttle.cache_format % {"scope": throttle.scope, "ident": address}
    throttle.now = NOW
    return cache.get(throttle.window_key())


@pytest.mark.parametrize(
    "case",
    [
        "list",
        "list-page-size",
        "list-in-stock",
        "list-origin",
        "detail",
        "detail-slug",
        "categories",
        "categories-filtered",
        "category",
        "category-slug",
    ],
)
def test_fast_hit_equals_drfs_hit_whole_response(api_client, cache_on, fast, case):
    tee = _catalog()
    url, params, headers = {
        "list": (URL, None, {}),
        "list-page-size": (URL, {"page_size": 1, "page": 2}, {}),
        "list-in-stock": (URL, {"in_stock": "true"}, {}),
        "list-origin": (URL, None, {"HTTP_ORIGIN": "http://localhost:3000"}),
        "detail": (f"{URL}{tee.pk}/", None, {}),
        "detail-slug": (f"{URL}{tee.slug}/", None, {"HTTP_ACCEPT": "application/json"}),
        "categories": (CATEGORIES, None, {}),
        "categories-filtered": (CATEGORIES, {"page_size": 1, "root": "true"}, {}),
        "category": (f"{CATEGORIES}{tee.category.pk}/", None, {}),
        "category-slug": (f"{CATEGORIES}{tee.category.slug}/", None, {}),
    }[case]
    stored = _get(api_client, url, params, address="10.0.0.1", **headers)  # the miss
    assert stored.status_code == 200 and fast == [False]
    with CaptureQueriesContext(connection) as queries:
        hit = _get(api_client, url, params, address="10.0.0.2", **headers)
    assert fast == [False, True] and len(queries) == 0
    fast.off = True
    with CaptureQueriesContext(connection) as queries:
        drf_hit = _get(api_client, url, params, address="10.0.0.3", **headers)
    assert len(queries) == 0  # DRF's cycle served it from the cache too
    assert _whole(hit) == _whole(drf_hit)
    assert hit.content == stored.content
    assert hit["ETag"] and hit["Allow"] and hit["RateLimit"].startswith('"anon";r=')


def test_if_none_match_answers_304_on_the_fast_path(api_client, cache_on, fast):
    _catalog()
    etag = _get(api_client, URL)["ETag"]
    not_modified = _get(api_client, URL, address="10.0.0.2", HTTP_IF_NONE_MATCH=etag)
    assert fast == [False, True]
    assert not_modified.status_code == 304 and not_modified.content == b""
    fast.off = True
    drf = _get(api_client, URL, address="10.0.0.3", HTTP_IF_NONE_MATCH=etag)
    assert _whole(not_modified) == _whole(drf)
    changed = _get(api_client, URL, address="10.0.0.4", HTTP_IF_NONE_MATCH='"other"')
    assert changed.status_code == 200


def test_throttle_counts_each_request_once_and_limits_cached_hits(
    api_client, cache_on, fast, monkeypatch
):
    monkeypatch.setattr(AnonymousRateThrottle, "THROTTLE_RATES", {"anon": "3/min"})
    _catalog()
    first = _get(api_client, URL)  # a miss: counted by the fast path, answered by DRF
    assert _window_count("10.0.0.1") == 1
    assert first["RateLimit"].startswith('"anon";r=2;t=')
    for left in (1, 0):
        hit = _get(api_client, URL)
        assert hit.status_code == 200 and hit["RateLimit"].startswith(f'"anon";r={left};t=')
    assert fast == [False, True, True] and _window_count("10.0.0.1") == 3
    throttled = _get(api_client, URL)
    assert problem_codes(throttled) == (429, "throttled")
    assert throttled["RateLimit-Policy"] == '"anon";q=3;w=60'
    assert throttled["RateLimit"].startswith('"anon";r=0;t=')
    assert 0 < int(throttled["Retry-After"]) <= 60
    assert fast[-1] is False and _window_count("10.0.0.1") == 4  # counted once

    # The same 429, whole, as DRF's cycle alone gives at the same count.
    fast.off = True
    for _ in range(3):
        _get(api_client, URL, address="10.0.0.9")
    assert _whole(throttled) == _whole(_get(api_client, URL, address="10.0.0.9"))
    assert _window_count("10.0.0.9") == 4


@pytest.mark.parametrize("caller", ["staff", "customer", "session", "forced"])
def test_callers_with_credentials_never_take_the_fast_path(
    caller, cache_on, fast, staff_client, user_client, staff_user, admin_user
):
    from rest_framework.test import APIClient

    hidden = ProductFactory(is_active=False)
    ProductFactory()
    if caller == "staff":
        client = staff_client
    elif caller == "customer":
        client = user_client
    elif caller == "session":
        client = APIClient()
        client.force_login(admin_user)
    else:
        client = APIClient()
        client.force_authenticate(staff_user)
    for _ in range(2):
        response = client.get(URL)
        assert response.status_code == 200
    assert True not in fast
    listed = {item["id"] for item in response.json()["results"]}
    assert (hidden.pk in listed) == (caller in ("staff", "forced"))


def test_a_hit_is_one_redis_round_trip_and_a_miss_looks_up_once(
    api_client, cache_on, fast, redis_round_trips
):
    tee = _catalog()
    for url in (URL, f"{URL}{tee.slug}/", CATEGORIES, f"{CATEGORIES}{tee.category.slug}/"):
        redis_round_trips.clear()
        assert _get(api_client, url).status_code == 200  # miss
        sent = [b"".join(command) for command in redis_round_trips]
        assert sum(b"catalog:response:" in c and b"MGET" in c for c in sent) == 1
        assert sum(b"EVAL" in c for c in sent) == 1  # the throttle, in the lookup's send
        redis_round_trips.clear()
        assert _get(api_client, url).status_code == 200  # hit: lookup and count together
        assert len(redis_round_trips) == 1
    assert fast == [False, True] * 4


def test_staff_category_reads_never_take_the_fast_path(cache_on, fast, staff_client):
    _catalog()
    for url in (CATEGORIES, CATEGORIES):
        assert staff_client.get(url).status_code == 200
    assert fast == [False, False]


def test_not_acceptable_is_still_drfs_406(api_client, cache_on, fast):
    _catalog()
    assert _get(api_client, URL).status_code == 200
    for _ in range(2):  # the second answer comes from the remembered negotiation
        response = _get(api_client, URL, HTTP_ACCEPT="text/html")
        assert response.status_code == 406
    assert fast == [False, False, False]
    assert _get(api_client, URL, HTTP_ACCEPT="application/json, */*").status_code == 200
    assert fast[-1] is True


def test_redis_unavailable_on_the_fast_path_falls_back(api_client, cache_on, fast, monkeypatch):
    _catalog()
    stored = _get(api_client, URL)

    def unavailable(*args, **kwargs):
        raise ConnectionInterrupted(connection=None)

    monkeypatch.setattr(type(cache.client), "count_and_get_many", unavailable)
    response = _get(api_client, URL)
    assert response.status_code == 200 and response.content == stored.content
    assert fast == [False, False]


def test_bench_hit_counter_counts_each_request_once(api_client, cache_on, fast, monkeypatch):
    """scripts/bench_urls.py counts the catalog cache hit rate of the mixed run: a
    request is one lookup, on the fast path or DRF's."""
    from django_redis import get_redis_connection

    from catalog import views
    from scripts import bench_urls

    monkeypatch.setattr(views, "response_get", views.response_get)
    monkeypatch.setattr(views, "response_get_counted", views.response_get_counted)
    redis = get_redis_connection("default")
    redis.delete("bench:catalog:hit", "bench:catalog:miss")
    bench_urls._count_catalog_cache()
    try:
        tee = _catalog()
        _get(api_client, URL)  # miss (fast path's lookup, answered by DRF)
        _get(api_client, URL)  # hit, fast path
        _get(api_client, f"{URL}{tee.slug}/")  # miss
        assert fast == [False, True, False]
        assert int(redis.get("bench:catalog:hit")) == 1
        assert int(redis.get("bench:catalog:miss")) == 2
    finally:
        redis.delete("bench:catalog:hit", "bench:catalog:miss")


def test_hit_brings_the_etag_stored_with_its_body(
    api_client, cache_on, fast, monkeypatch, django_capture_on_commit_callbacks
):
    from catalog import services
    from catalog.tests.factories import default_variant
    from nexus import middleware

    mug = ProductFactory(stock_quantity=5)
    detail = f"{URL}{mug.slug}/"
    hashed = []
    compute = middleware.body_etag
    monkeypatch.setattr(middleware, "body_etag", lambda body: hashed.append(1) or compute(body))
    for url in (URL, detail):
        stored = _get(api_client, url)
        assert hashed == [1]  # the miss: the middleware hashed the rendered body
        hashed.clear()
        hit = _get(api_client, url)
        assert hashed == [] and hit["ETag"] == stored["ETag"] == compute(hit.content)
        fast.off = True
        assert _get(api_client, url)["ETag"] == stored["ETag"] and hashed == []
        fast.off = False

    with django_capture_on_commit_callbacks(execute=True):
        services.variant_stock_adjust(variant_id=default_variant(mug).pk, delta=-2)
    for url in (URL, detail):
        refreshed = _get(api_client, url)  # the stock refresh (DRF's cycle), stored again
        again = _get(api_client, url)  # fast path, from the refreshed entry
        assert refreshed.content == again.content and b'"stock_quantity":3' in again.content
        assert refreshed["ETag"] == again["ETag"] == compute(again.content)
    assert hashed == []
