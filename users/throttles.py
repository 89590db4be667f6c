"""Throttle scopes for the auth endpoints (per client address, atomic counters in the cache)."""

from rest_framework.throttling import AnonRateThrottle

from nexus.throttles import AtomicRateThrottleMixin


class AuthRateThrottle(AtomicRateThrottleMixin, AnonRateThrottle):
    """Per-address limit on register/login/refresh, whether or not a token is sent."""

    scope = "auth"

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class PasswordResetRateThrottle(AuthRateThrottle):
    scope = "password_reset"
