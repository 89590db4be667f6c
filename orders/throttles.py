"""Throttles of the orders app: guests are counted per client address."""

from rest_framework.throttling import AnonRateThrottle

from nexus.throttles import AtomicRateThrottleMixin


class GuestCheckoutRateThrottle(AtomicRateThrottleMixin, AnonRateThrottle):
    """``guest_checkout`` rate on guest POST orders/ and checkout/preview/ (signed-in
    callers are not counted here)."""

    scope = "guest_checkout"


class GuestOrderRateThrottle(AtomicRateThrottleMixin, AnonRateThrottle):
    """``guest_order`` rate on orders/guest/{guest_token}/ reads and cancels: bounds
    token guessing per address (a token has 256 bits anyway)."""

    scope = "guest_order"
