"""Throttles on an atomic counter, and the rate-limit headers they report.

DRF's cache throttles read a list of timestamps, decide, and write the list back: 20
concurrent requests all read the same list, so 11 of 20 reviews passed a 10/hour limit.
Here each throttle is a fixed-window counter: the window's key is created with ``add``
and counted with ``incr`` (Redis ``SET NX`` and ``INCRBY``; LocMemCache does both under
its lock in the quick start), so the limit holds exactly however many requests arrive at
once (with Redis both run in one Lua script, ``CircuitBreakerClient.count_window``: one
round trip per check). A fixed window lets a caller spend a limit at the end of one
window and again at the start of the next (at most twice the rate over one window
length); that is the price of a single round trip per check.

Anonymous callers are counted by address and signed-in callers by account, each once.
A cache that is down counts nothing (the request is let through, as before): the login
lockout, which guards what matters most, is counted in the database.

Every throttled response carries the IETF draft headers (draft-ietf-httpapi-ratelimit-
headers): ``RateLimit-Policy: "<scope>";q=<limit>;w=<window seconds>`` and
``RateLimit: "<scope>";r=<remaining>;t=<seconds to reset>``, one item per throttle that
counted the request (nexus.middleware.PrivateCacheMiddleware writes them).
"""

import math
import time

from django.core.cache import cache
from django_redis.exceptions import ConnectionInterrupted
from rest_framework.throttling import AnonRateThrottle, UserRateThrottle

# Where the throttles of one request leave their counts for the response headers.
RATELIMIT_ATTRIBUTE = "nexus_ratelimit"


# Where a view that counted a request's throttles ahead of DRF's check leaves the counts
# (throttle key -> (time, count)), so the check uses them instead of counting again.
COUNTED_ATTRIBUTE = "nexus_throttle_counted"


class AtomicRateThrottleMixin:
    """Fixed-window counting for any SimpleRateThrottle (``get_cache_key`` unchanged).

    A view may count a request ahead of DRF's check (the cached product hits count it
    in the same Redis round trip as their lookup): ``window_key`` names the counter,
    ``decide`` judges the count and reports it, and ``precounted`` hands a count it did
    not judge to the check that DRF runs afterwards, which then judges it as if it had
    counted it itself (one count per request whichever path answers).
    """

    timer = time.time

    def allow_request(self, request, view) -> bool:
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        counted = getattr(getattr(request, "_request", request), COUNTED_ATTRIBUTE, {})
        if self.key in counted:
            self.now, count = counted.pop(self.key)
            self.window_key()
        else:
            self.now = self.timer()
            count = self._count(self.window_key())
        if count is None:  # cache unavailable: fail open, report nothing
            return True
        return self.decide(request, count)

    @property
    def window_timeout(self) -> int:
        # The key outlives its window by a little so a late incr never recreates it.
        return int(self.duration) + 5

    def window_key(self) -> str:
        """The counter of the window holding ``self.now`` (sets ``reset_in``)."""
        window = int(self.now // self.duration)
        self.reset_in = max(1, math.ceil((window + 1) * self.duration - self.now))
        return f"{self.key}:{window}"

    def decide(self, request, count: int) -> bool:
        """Whether ``count`` requests in this window are allowed; reports the count."""
        self.remaining = max(0, self.num_requests - count)
        self._report(request)
        return count <= self.num_requests

    def precounted(self, request, count: int) -> None:
        """Leave ``count`` (counted at ``self.now``) for DRF's check of this request."""
        django_request = getattr(request, "_request", request)
        counted = getattr(django_request, COUNTED_ATTRIBUTE, None)
        if counted is None:
            counted = {}
            setattr(django_request, COUNTED_ATTRIBUTE, counted)
        counted[self.key] = (self.now, count)

    def _count(self, key: str) -> int | None:
        timeout = self.window_timeout
        count_window = getattr(getattr(cache, "client", None), "count_window", None)
        if count_window is not None:  # Redis (nexus.cache): one round trip
            try:
                return count_window(key, timeout)
            except ConnectionInterrupted:  # unavailable: fail open, as the cache does
                return None
        cache.add(key, 0, timeout=timeout)
        try:
            return cache.incr(key)
        except ValueError:  # expired between add and incr: this is its first request
            cache.add(key, 1, timeout=timeout)
            return 1

    def _report(self, request) -> None:
        django_request = getattr(request, "_request", request)
        reports = getattr(django_request, RATELIMIT_ATTRIBUTE, None)
        if reports is None:
            reports = []
            setattr(django_request, RATELIMIT_ATTRIBUTE, reports)
        reports.append(
            {
                "policy": self.scope or "default",
                "limit": self.num_requests,
                "window": self.duration,
                "remaining": self.remaining,
                "reset": self.reset_in,
            }
        )

    def wait(self) -> float | None:
        return getattr(self, "reset_in", None)


def ratelimit_headers(reports: list[dict]) -> dict[str, str]:
    """The ``RateLimit-Policy`` and ``RateLimit`` header values for a request's throttles."""
    return {
        "RateLimit-Policy": ", ".join(
            f'"{r["policy"]}";q={r["limit"]};w={r["window"]}' for r in reports
        ),
        "RateLimit": ", ".join(
            f'"{r["policy"]}";r={r["remaining"]};t={r["reset"]}' for r in reports
        ),
    }


class AnonymousRateThrottle(AtomicRateThrottleMixin, AnonRateThrottle):
    """``anon`` rate for callers without a token (by address)."""


class SignedInRateThrottle(AtomicRateThrottleMixin, UserRateThrottle):
    """``user`` rate for signed-in callers (by account); anonymous callers are not counted
    here, so an anonymous request pays for one throttle, not two."""

    def get_cache_key(self, request, view):
        if not (request.user and request.user.is_authenticated):
            return None
        return super().get_cache_key(request, view)
