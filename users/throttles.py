"""Throttle scopes for the auth endpoints (per client address, in the cache)."""

from rest_framework.throttling import AnonRateThrottle


class AuthRateThrottle(AnonRateThrottle):
    """Per-address limit on register/login/refresh, whether or not a token is sent."""

    scope = "auth"

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class PasswordResetRateThrottle(AuthRateThrottle):
    scope = "password_reset"
