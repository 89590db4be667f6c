"""Throttle scope for posting reviews (per user, an atomic counter in the cache)."""

from rest_framework.throttling import UserRateThrottle

from nexus.throttles import AtomicRateThrottleMixin


class ReviewCreateRateThrottle(AtomicRateThrottleMixin, UserRateThrottle):
    """``review_create`` rate (settings' DEFAULT_THROTTLE_RATES, 10/hour) on POST reviews/."""

    scope = "review_create"
