"""Throttle scope for posting reviews (per user, in the cache)."""

from rest_framework.throttling import UserRateThrottle


class ReviewCreateRateThrottle(UserRateThrottle):
    """``review_create`` rate (settings' DEFAULT_THROTTLE_RATES, 10/hour) on POST reviews/."""

    scope = "review_create"
