"""DRF's field output without DRF fields, for the hand-written answers of the hot paths
(the public product list and detail, the checkout's 201, the cart add's 201).

Building a serializer's fields per request costs more than the values they format
(issue 18, docs/PERFORMANCE.md), so those answers are plain dicts; these helpers give each
value exactly the text DRF's field would, and each answer has a test holding it equal to
its serializer.
"""

import decimal

CENTS = decimal.Decimal("0.01")


def decimal_context(max_digits: int) -> decimal.Context:
    """The context ``DecimalField(max_digits=...)`` quantizes in (default rounding)."""
    return decimal.Context(prec=max_digits)


def drf_decimal(value: decimal.Decimal | None, context: decimal.Context) -> str | None:
    """``DecimalField(decimal_places=2)``'s output (``COERCE_DECIMAL_TO_STRING``):
    quantized to the cent in ``context``, formatted without an exponent."""
    return None if value is None else f"{value.quantize(CENTS, context=context):f}"


def drf_datetime(value, zone) -> str | None:
    """``DateTimeField``'s output: ISO 8601 in the current time zone, UTC as ``Z``."""
    if not value:
        return None
    text = value.astimezone(zone).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text
