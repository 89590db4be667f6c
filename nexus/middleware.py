"""Request-scoped middleware: a request id for logs and responses (and one access-log line
per request), request metrics, a guard that refuses malformed requests before any view
sees them, conditional GET on public catalog reads, cache headers for private responses
(and the throttles' rate-limit headers), and the CSP policy chosen by path."""

import hashlib
import logging
import os
import re
import time
from dataclasses import asdict

from csp.constants import HEADER, HEADER_REPORT_ONLY
from csp.middleware import CheckableLazyObject, CSPMiddleware, PolicyParts
from csp.utils import build_policy
from django.conf import settings
from django.contrib.auth import middleware as auth_middleware
from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.messages.storage import default_storage
from django.contrib.sessions import middleware as session_middleware
from django.core.signals import setting_changed
from django.http import JsonResponse
from django.utils.cache import get_conditional_response, patch_vary_headers
from django.utils.functional import SimpleLazyObject, empty

from nexus import metrics
from nexus.errors import PROBLEM_CONTENT_TYPE, problem
from nexus.requestid import set_request_id, set_route, set_user_id
from nexus.throttles import RATELIMIT_ATTRIBUTE, ratelimit_headers

access_logger = logging.getLogger("nexus.access")


def route_of(request) -> str:
    """The URL pattern that served the request (bounded: never the raw path)."""
    match = getattr(request, "resolver_match", None)
    return match.route if match is not None else "<unmatched>"


def user_id_of(request) -> int | None:
    user = getattr(request, "user", None)  # DRF copies its authenticated user here
    if (
        isinstance(user, SimpleLazyObject)
        and user._wrapped is empty
        and settings.SESSION_COOKIE_NAME not in request.COOKIES
    ):
        # Django's lazy session user, never looked at, and no session: anonymous. Not
        # evaluating it saves building a session and an AnonymousUser per plain request.
        return None
    return user.pk if user is not None and user.is_authenticated else None


_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class RequestIDMiddleware:
    """Take a sane ``X-Request-ID`` from the proxy or make one; echo it on the response.

    The id (and, once known, the user id and route) stays in the request's context until
    Django's ``request_finished`` signal (nexus/apps.py), so every line logged for the
    request carries it, including Django's own 4xx/5xx lines logged after this returns.
    With ``NEXUS_ACCESS_LOG`` it logs one ``nexus.access`` line per request.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        incoming = request.META.get("HTTP_X_REQUEST_ID", "")
        # 32 random hex digits, as uuid4().hex writes them, without the UUID object
        # (0.4 against 1.7 us): nothing reads an id as a UUID.
        request_id = incoming if _VALID_REQUEST_ID.match(incoming) else os.urandom(16).hex()
        request.request_id = request_id
        set_request_id(request_id)
        response = self.get_response(request)
        response["X-Request-ID"] = request_id
        user_id = user_id_of(request)
        route = route_of(request)
        set_user_id(user_id)
        set_route(route)
        if settings.NEXUS_ACCESS_LOG and access_logger.isEnabledFor(logging.INFO):
            duration_ms = round((time.perf_counter() - started) * 1000, 1)
            access_logger.info(
                "%s %s %s %sms",
                request.method,
                request.path,
                response.status_code,
                duration_ms,
                extra={
                    "method": request.method,
                    "path": request.path,
                    "status": response.status_code,
                    "duration_ms": duration_ms,
                },
            )
        return response


class MetricsMiddleware:
    """Request count and latency per method, route and status (Prometheus, nexus/metrics.py)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        metrics.REQUESTS_IN_PROGRESS.inc()
        try:
            response = self.get_response(request)
        finally:
            metrics.REQUESTS_IN_PROGRESS.dec()
        metrics.observe_request(
            request.method, route_of(request), response.status_code, time.perf_counter() - started
        )
        return response


# A response may carry its body's ``body_etag``, computed when the body was stored (the
# cached product responses, catalog/views.py), so the tag is not hashed on every hit.
ETAG_ATTRIBUTE = "nexus_etag"


def body_etag(content: bytes) -> str:
    """The strong ``ETag`` of a public catalog body (``ConditionalGetMiddleware``)."""
    return f'"{hashlib.sha256(content).hexdigest()[:32]}"'


class ConditionalGetMiddleware:
    """Conditional GET for the public catalog reads (``NEXUS_PUBLIC_CACHE_ROUTES``).

    A 200 answer to GET/HEAD gets a strong ``ETag`` computed from its body (for a cached
    catalog response that is the cached body itself; a cached product response brings
    the tag stored with its body, ``ETAG_ATTRIBUTE``), and ``If-None-Match`` with that tag
    answers 304 without a body. Anonymous requests also get ``Cache-Control: public,
    max-age=NEXUS_PUBLIC_CACHE_MAX_AGE``; every answer varies on ``Authorization`` (staff
    see inactive products), and authenticated answers are left for the private-response
    policy to mark.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        if (
            request.method not in ("GET", "HEAD")
            or response.status_code != 200
            or response.streaming
            or match is None
            or match.url_name not in settings.NEXUS_PUBLIC_CACHE_ROUTES
        ):
            return response
        response["ETag"] = getattr(response, ETAG_ATTRIBUTE, None) or body_etag(response.content)
        patch_vary_headers(response, ["Authorization"])
        if "HTTP_AUTHORIZATION" not in request.META and not response.has_header("Cache-Control"):
            response["Cache-Control"] = f"public, max-age={settings.NEXUS_PUBLIC_CACHE_MAX_AGE}"
        return get_conditional_response(request, etag=response["ETag"], response=response)


class RequestGuardMiddleware:
    """Refuse, as problem+json, what no view should ever see.

    - NUL bytes in the path or query string (PostgreSQL cannot store them; every lookup
      would otherwise fail deep inside the database driver): 400.
    - A declared body larger than ``NEXUS_MAX_REQUEST_BYTES``: 413. DRF's JSON parser reads
      the stream without Django's DATA_UPLOAD_MAX_MEMORY_SIZE check, so the cap lives here.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        raw_path = request.META.get("PATH_INFO", "")
        query = request.META.get("QUERY_STRING", "")
        # A NUL in the decoded query can only come from a raw NUL or a literal "%00".
        if "\x00" in raw_path or "\x00" in query or "%00" in query or "\x00" in request.path:
            return _problem(400, "bad_request", "NUL bytes are not allowed in URLs.")
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return _problem(400, "bad_request", "Content-Length is not a number.")
        if length > settings.NEXUS_MAX_REQUEST_BYTES:
            return _problem(
                413,
                "payload_too_large",
                f"The request body is larger than {settings.NEXUS_MAX_REQUEST_BYTES} bytes.",
            )
        return self.get_response(request)


def _problem(status_code: int, code: str, detail: str) -> JsonResponse:
    return JsonResponse(
        problem(status_code, code, detail), status=status_code, content_type=PROBLEM_CONTENT_TYPE
    )


# Responses under these paths are about one caller (or hand out credentials) whoever asks.
PRIVATE_PATH_PREFIXES = (
    "/api/v1/auth/",
    "/api/v1/users/",
    "/api/v1/cart/",
    "/api/v1/orders/",
    "/admin/",
)


def request_is_private(request) -> bool:
    """Whether the response may depend on who is asking: the request carries credentials
    (a Bearer token, a guest cart token, a session cookie) or asks a private path."""
    meta = request.META
    return bool(
        meta.get("HTTP_AUTHORIZATION")
        or meta.get("HTTP_X_CART_TOKEN")
        or settings.SESSION_COOKIE_NAME in request.COOKIES
        or request.path_info.startswith(PRIVATE_PATH_PREFIXES)
    )


class PrivateCacheMiddleware:
    """Keep private responses out of every cache, and report rate limits.

    - A private response (``request_is_private``, or one that sets a cookie) without a
      ``Cache-Control`` of its own gets ``Cache-Control: no-store``. A view that decided
      its caching (public catalog reads, the admin's never_cache) is left alone.
    - Every API response gets ``Vary: Authorization``: what the API answers may depend
      on the token (staff see inactive products, a profile is its owner's).
    - The throttles that counted the request (nexus.throttles) become ``RateLimit-Policy``
      and ``RateLimit`` headers.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if "Cache-Control" not in response and (request_is_private(request) or response.cookies):
            response["Cache-Control"] = "no-store"
        if request.path_info.startswith("/api/"):
            patch_vary_headers(response, ["Authorization"])
        reports = getattr(request, RATELIMIT_ATTRIBUTE, None)
        if reports:
            for name, value in ratelimit_headers(reports).items():
                response[name] = value
        return response


# Per-response CSP choices (django-csp's decorators); a response with any of them, or a
# request that used its nonce, gets the library's own per-request policy building.
_CSP_RESPONSE_ATTRIBUTES = (
    "_csp_config",
    "_csp_update",
    "_csp_replace",
    "_csp_config_ro",
    "_csp_update_ro",
    "_csp_replace_ro",
)
# admin path or not -> (policy, report-only policy, excluded prefixes, report-only ones)
_csp_policies: dict[bool, tuple[str, str, tuple[str, ...], tuple[str, ...]]] = {}


def _forget_csp_policies(*, setting: str, **_kwargs) -> None:
    if setting.startswith(("CONTENT_SECURITY_POLICY", "NEXUS_CSP")):
        _csp_policies.clear()


setting_changed.connect(_forget_csp_policies, dispatch_uid="nexus.middleware.csp")


class NexusCSPMiddleware(CSPMiddleware):
    """The strict API policy everywhere, except the admin which needs its own assets.

    Without a per-response choice or a nonce the policy depends only on the settings and
    on whether the path is the admin's, so its header is built once (django-csp rebuilt
    both headers from the settings on every response: the dearest middleware of the
    ceiling view) and set the way the library sets it.
    """

    def get_policy_parts(self, request, response, report_only: bool = False) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only)
        if not report_only and parts.config is None and request.path_info.startswith("/admin/"):
            parts.config = settings.NEXUS_CSP_ADMIN
        return parts

    def process_response(self, request, response):
        if (
            getattr(request, "_csp_nonce", None) is not None
            or any(hasattr(response, name) for name in _CSP_RESPONSE_ATTRIBUTES)
            or (settings.DEBUG and response.status_code in (404, 500))
        ):
            return super().process_response(request, response)
        admin = request.path_info.startswith("/admin/")
        policies = _csp_policies.get(admin)
        if policies is None:
            policies = _csp_policies[admin] = self._constant_policies(request, response)
        policy, policy_ro, excluded, excluded_ro = policies
        path = request.path_info
        _csp_set(response, HEADER, policy, "_csp_exempt", path, excluded)
        _csp_set(response, HEADER_REPORT_ONLY, policy_ro, "_csp_exempt_ro", path, excluded_ro)
        # As the library does: the nonce cannot be asked for once the header is written.
        request.csp_nonce = CheckableLazyObject(self._csp_nonce_post_response)
        return response

    def _constant_policies(self, request, response) -> tuple[str, str, tuple, tuple]:
        parts = self.get_policy_parts(request=request, response=response)
        parts_ro = self.get_policy_parts(request=request, response=response, report_only=True)

        def prefixes(name: str) -> tuple[str, ...]:
            policy = getattr(settings, name, None) or {}
            return tuple(policy.get("EXCLUDE_URL_PREFIXES", None) or ())

        return (
            build_policy(**asdict(parts)),
            build_policy(**asdict(parts_ro), report_only=True),
            prefixes("CONTENT_SECURITY_POLICY"),
            prefixes("CONTENT_SECURITY_POLICY_REPORT_ONLY"),
        )


def _csp_set(response, header: str, policy: str, exempt: str, path: str, excluded: tuple) -> None:
    """Set one CSP header (enforced or report-only) as django-csp does: only when there is
    a policy, the view did not set the header or exempt the response, and the path is not
    excluded."""
    if (
        policy
        and header not in response
        and getattr(response, exempt, False) is False
        and not path.startswith(excluded)
    ):
        response[header] = policy


class SessionPathsOnly:
    """Run this middleware only for paths served with a session (``NEXUS_SESSION_PATH_PREFIXES``:
    the Django admin).

    Everything else (the API, health, metrics, the schema and its docs pages) identifies
    its caller by a Bearer token, a cart token or not at all: no view there reads the
    session, Django's ``request.user`` (DRF sets its own) or a message. Skipping the
    session, authentication and message middleware there saves every such request their
    work (measured in docs/PERFORMANCE.md); admin requests get all three as before.
    Django's own ``CsrfViewMiddleware`` stays on every path (``check --deploy`` asks for
    that class by name); DRF's views are exempt from it, as they always were.
    """

    def __call__(self, request):
        if not request.path_info.startswith(settings.NEXUS_SESSION_PATH_PREFIXES):
            return self.get_response(request)
        return super().__call__(request)


class SessionMiddleware(SessionPathsOnly, session_middleware.SessionMiddleware):
    pass


class AuthenticationMiddleware(SessionPathsOnly, auth_middleware.AuthenticationMiddleware):
    pass


class LazyMessageMiddleware(SessionPathsOnly, MessageMiddleware):
    """Django's message middleware with the storage built on first use.

    The stock middleware builds a cookie-and-session storage (and a cookie signer) for
    every request; only the admin ever adds or reads a message. A storage nobody touched
    has nothing to store, so the response is left as the stock middleware leaves it.
    """

    def process_request(self, request):
        request._messages = SimpleLazyObject(lambda: default_storage(request))

    def process_response(self, request, response):
        messages = getattr(request, "_messages", None)
        if isinstance(messages, SimpleLazyObject) and messages._wrapped is empty:
            return response
        return super().process_response(request, response)
