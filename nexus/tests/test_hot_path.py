"""The per-request work the middleware does once instead of on every request (issue 18):
the CSP headers built once per policy, the message storage built on first use, the
session user left unevaluated when there is no session, Django's request signal receivers
only where they act. Each still behaves as the library it replaces."""

import pytest
from csp.middleware import CSPMiddleware
from django.conf import settings
from django.contrib import messages
from django.core import signals
from django.core.cache import caches
from django.core.cache.backends.locmem import LocMemCache
from django.http import HttpResponse
from django.test import Client, RequestFactory

from nexus import middleware

pytestmark = pytest.mark.django_db


def _library_csp(path: str) -> HttpResponse:
    """The headers django-csp's own middleware (with the admin policy) builds."""

    class Reference(middleware.NexusCSPMiddleware):
        process_response = CSPMiddleware.process_response

    request = RequestFactory().get(path)
    reference = Reference(lambda request: HttpResponse())
    reference.process_request(request)
    return reference.process_response(request, HttpResponse())


@pytest.mark.parametrize("path", ["/api/v1/products/", "/health/", "/admin/login/"])
def test_csp_header_equals_the_librarys(client, path):
    response = client.get(path)
    assert response["Content-Security-Policy"] == _library_csp(path)["Content-Security-Policy"]


def test_csp_header_follows_a_settings_change(api_client, settings):
    assert "default-src 'none'" in api_client.get("/health/")["Content-Security-Policy"]
    settings.CONTENT_SECURITY_POLICY = {"DIRECTIVES": {"default-src": ["'self'"]}}
    assert api_client.get("/health/")["Content-Security-Policy"] == "default-src 'self'"
    settings.CONTENT_SECURITY_POLICY_REPORT_ONLY = {"DIRECTIVES": {"img-src": ["'self'"]}}
    assert "img-src 'self'" in api_client.get("/health/")["Content-Security-Policy-Report-Only"]
    settings.CONTENT_SECURITY_POLICY = {
        "EXCLUDE_URL_PREFIXES": ["/health/"],
        "DIRECTIVES": {"default-src": ["'self'"]},
    }
    assert "Content-Security-Policy" not in api_client.get("/health/")


def test_docs_page_keeps_its_own_policy_after_api_responses(client):
    client.get("/health/")
    policy = client.get("/api/v1/schema/swagger-ui/")["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "worker-src 'self' blob:" in policy


def test_untouched_message_storage_is_never_built():
    request = RequestFactory().get("/health/")
    request.session = {}
    lazy = middleware.LazyMessageMiddleware(lambda request: HttpResponse())
    lazy.process_request(request)
    response = lazy.process_response(request, HttpResponse())
    assert request._messages._wrapped is middleware.empty
    assert not response.cookies


def test_a_message_added_is_stored_as_before():
    request = RequestFactory().get("/admin/")
    request.session = {}
    lazy = middleware.LazyMessageMiddleware(lambda request: HttpResponse())
    lazy.process_request(request)
    messages.success(request, "Saved.")
    response = lazy.process_response(request, HttpResponse())
    assert "messages" in response.cookies  # the cookie storage took it
    request.COOKIES["messages"] = response.cookies["messages"].value
    lazy.process_request(request)
    assert [str(m) for m in messages.get_messages(request)] == ["Saved."]


def test_admin_session_user_is_still_known_on_plain_views(admin_user):
    """The lazy session user is skipped only without a session cookie: with one, a
    non-DRF view's request still carries the signed-in user id."""
    client = Client()
    client.force_login(admin_user)
    request = RequestFactory().get("/admin/")
    request.COOKIES = {name: morsel.value for name, morsel in client.cookies.items()}
    from django.contrib.auth.middleware import AuthenticationMiddleware
    from django.contrib.sessions.middleware import SessionMiddleware

    SessionMiddleware(lambda request: None).process_request(request)
    AuthenticationMiddleware(lambda request: None).process_request(request)
    assert middleware.user_id_of(request) == admin_user.pk

    anonymous = RequestFactory().get("/bench/")
    SessionMiddleware(lambda request: None).process_request(anonymous)
    AuthenticationMiddleware(lambda request: None).process_request(anonymous)
    assert middleware.user_id_of(anonymous) is None
    assert anonymous.user._wrapped is middleware.empty  # never evaluated


@pytest.mark.skipif(not settings.REDIS_URL, reason="the Redis path of the throttles")
def test_throttle_counts_in_one_round_trip_and_the_window_expires(redis_round_trips):
    from django.core.cache import cache

    from nexus.throttles import AnonymousRateThrottle

    throttle = AnonymousRateThrottle()
    key = "throttle-hot-path-test"
    cache.delete(key)
    redis_round_trips.clear()
    assert [throttle._count(key) for _ in range(3)] == [1, 2, 3]
    assert len(redis_round_trips) == 3
    assert 0 < cache.ttl(key) <= throttle.duration + 5
    assert cache.get(key) == 3  # the same value the cache API reads


def test_throttle_fails_open_when_redis_is_down(monkeypatch):
    from django_redis.cache import RedisCache

    from nexus import throttles
    from nexus.cache import breaker

    breaker.reset()
    dead = RedisCache(
        "redis://127.0.0.1:1/0",
        {
            "OPTIONS": {
                "CLIENT_CLASS": "nexus.cache.CircuitBreakerClient",
                "IGNORE_EXCEPTIONS": True,
            }
        },
    )
    monkeypatch.setattr(throttles, "cache", dead)
    try:
        assert throttles.AnonymousRateThrottle()._count("k") is None
        assert breaker.is_open()
        assert throttles.AnonymousRateThrottle()._count("k") is None  # skipped at once
    finally:
        breaker.reset()


@pytest.mark.parametrize(
    "path, admin",
    [
        ("/api/v1/products/", False),
        ("/health/", False),
        ("/bench/", False),
        ("/admin/login/", True),
    ],
)
def test_session_user_and_messages_are_set_up_on_admin_paths_only(path, admin):
    """``SessionPathsOnly``: the session, Django's user and the message storage exist for
    the admin's requests; other requests (token-authenticated API, health) skip them."""
    seen = {}

    def view(request):
        seen.update(
            session=hasattr(request, "session"),
            user=hasattr(request, "user"),
            messages=hasattr(request, "_messages"),
        )
        return HttpResponse()

    chain = middleware.SessionMiddleware(
        middleware.AuthenticationMiddleware(middleware.LazyMessageMiddleware(view))
    )
    chain(RequestFactory().get(path))
    assert seen == {"session": admin, "user": admin, "messages": admin}


def test_csrf_is_still_enforced_on_the_admin(admin_user):
    client = Client(enforce_csrf_checks=True)
    client.get("/admin/login/")  # the form page sets the CSRF cookie
    assert "csrftoken" in client.cookies
    refused = client.post("/admin/login/", {"username": "x", "password": "y"})
    assert refused.status_code == 403
    token = client.cookies["csrftoken"].value
    accepted = client.post(
        "/admin/login/", {"username": "x", "password": "y", "csrfmiddlewaretoken": token}
    )
    assert accepted.status_code == 200  # the form again, with its error


def test_a_session_cookie_does_not_reach_the_api(admin_user):
    """An admin's session cookie sent to the API neither authenticates (the API takes
    Bearer tokens only) nor makes the session middleware touch the response."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)
    response = client.get("/api/v1/users/profile/")
    assert response.status_code == 401
    assert not response.cookies and "Cookie" not in response.get("Vary", "")
    # No CSRF check on the API: a POST without a token is judged on its body.
    login = client.post("/api/v1/auth/login/", {"email": "nobody@example.com"}, "application/json")
    assert login.status_code == 400


def test_filter_forms_share_their_fields_and_nothing_else():
    """LeanFilterSet's forms share the class's field objects (no deep copy per request),
    each with a dict of its own, and one form's validation never shows in another's."""
    from django.http import QueryDict

    from catalog.filters import ProductFilter

    bad = ProductFilter(QueryDict("price_min=abc&ordering=nonsense"))
    good = ProductFilter(QueryDict("price_min=10&ordering=-price"))
    assert not bad.is_valid()
    assert set(bad.errors) == {"price_min", "ordering"}
    assert good.is_valid(), good.errors
    assert good.form.cleaned_data["price_min"] == 10
    assert good.form.fields is not bad.form.fields
    assert good.form.fields["price_min"] is bad.form.fields["price_min"]
    bad.form.fields["extra"] = bad.form.fields["price_min"]
    assert "extra" not in ProductFilter(QueryDict("")).form.fields
    assert not ProductFilter(QueryDict("price_min=abc")).is_valid()  # after a valid one


class _ClosingCache(LocMemCache):
    """A cache whose ``close()`` acts (counts), as a backend with connections would."""

    closed = 0

    def close(self, **kwargs):
        type(self).closed += 1


_CLOSING = {"default": {"BACKEND": f"{__name__}._ClosingCache", "LOCATION": "closing"}}


def test_request_cycle_keeps_django_receivers_only_where_they_act(api_client, settings):
    from django.db import connection

    settings.DEBUG = False  # a settings change applies the decision afresh
    connection.ensure_connection()
    connection.queries_log.append({"sql": "SELECT 1", "time": "0.000"})
    signals.request_started.send(sender=None, environ={})
    assert len(connection.queries_log) == 1  # nothing logs queries: nothing to reset

    settings.DEBUG = True
    signals.request_started.send(sender=None, environ={})
    assert len(connection.queries_log) == 0  # Django's reset_queries, as stock

    settings.DEBUG = False
    settings.CACHES = _CLOSING
    caches["default"].get("warm")  # close_caches closes the caches a request has used
    _ClosingCache.closed = 0
    api_client.get("/health/")
    assert _ClosingCache.closed == 1  # a cache whose close acts is closed per request


@pytest.mark.parametrize(
    ("config", "noop"),
    [
        ({"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}, True),
        ({"BACKEND": "django.core.cache.backends.dummy.DummyCache"}, True),
        ({"BACKEND": "django_redis.cache.RedisCache"}, True),
        (
            {"BACKEND": "django_redis.cache.RedisCache", "OPTIONS": {"CLOSE_CONNECTION": True}},
            False,
        ),
        (
            {
                "BACKEND": "django_redis.cache.RedisCache",
                "OPTIONS": {"CLIENT_CLASS": "nexus.cache.CircuitBreakerClient"},
            },
            True,
        ),
        ({"BACKEND": "django.core.cache.backends.memcached.PyMemcacheCache"}, False),
        ({"BACKEND": f"{__name__}._ClosingCache"}, False),
        ({"BACKEND": "no.such.Backend"}, False),
    ],
)
def test_cache_close_is_known_to_do_nothing_only_where_it_does(config, noop):
    from nexus.requestcycle import _close_is_noop

    assert _close_is_noop(config) is noop


def test_redis_close_connection_setting_keeps_close_caches(settings):
    from nexus.requestcycle import _close_is_noop

    config = {"BACKEND": "django_redis.cache.RedisCache"}
    assert _close_is_noop(config)
    settings.DJANGO_REDIS_CLOSE_CONNECTION = True
    assert not _close_is_noop(config)
