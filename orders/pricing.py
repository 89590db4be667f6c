"""What a cart costs: the one place that prices a checkout (shipping, voucher, tax).

``price_cart`` is the arithmetic, pure and total: given lines, the shipping methods that
serve the destination, a tax rate, a voucher's terms and the tax mode, it returns every
amount. ``checkout_quote`` gathers those inputs from the database (the rules in force and
the voucher's validity) and calls it; ``checkout/preview/`` and ``order_place`` both call
``checkout_quote``, so the preview is exactly what placing the order charges.

Rounding (all in integer cents, exact):

- ``line_total = unit_price x quantity`` (exact; prices have two places).
- A percentage voucher's discount is ``round_half_up(eligible subtotal x value / 100)``; a
  fixed one is ``min(value, eligible subtotal)``. It is spread over the eligible lines in
  proportion to their ``line_total`` by the largest-remainder method: each line gets the
  floor of its exact share in cents, and the cents left over go one each to the lines
  with the largest remainders (ties: the earlier line). The shares add up to the discount
  exactly and no share exceeds its line.
- Tax is per line on ``line_total - discount_amount``, rounded half-up to the cent:
  exclusive mode ``amount x rate / 100``; inclusive mode (``NEXUS_PRICES_INCLUDE_TAX``) the
  tax contained in the amount, ``amount x rate / (100 + rate)``. Shipping is taxed the same
  way, as one more amount, when the rate ``applies_to_shipping``.
- ``tax_total`` = the lines' ``tax_amount`` + ``shipping_tax_amount``; ``discount_total``
  = the lines' ``discount_amount``; ``subtotal`` = the lines' ``line_total``. Exclusive:
  ``total = subtotal - discount_total + shipping_cost + tax_total``; inclusive: ``total =
  subtotal - discount_total + shipping_cost`` (the tax is inside those amounts).
- ``free_above`` and ``min_subtotal`` compare in the mode's own terms: ``free_above``
  with the goods amount after the discount (``subtotal - discount_total``),
  ``min_subtotal`` with the subtotal of the lines the voucher applies to.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.utils import timezone

from orders import selectors
from orders.choices import VoucherKind
from orders.errors import (
    ShippingUnavailable,
    VoucherAlreadyUsed,
    VoucherExpired,
    VoucherInvalid,
    VoucherMinSubtotal,
    VoucherNotStarted,
    VoucherUsedUp,
)

FLAT_RATE_CODE = "standard"
FLAT_RATE_NAME = "Standard shipping"


def cents(amount: Decimal) -> int:
    """Whole cents of a two-place amount (exact for the amounts this module receives)."""
    return int((Decimal(amount) * 100).to_integral_value())


def money(amount_cents: int) -> Decimal:
    return (Decimal(amount_cents) / 100).quantize(Decimal("0.01"))


def _div_half_up(numerator: int, denominator: int) -> int:
    """``numerator / denominator`` rounded half-up (both non-negative)."""
    return (2 * numerator + denominator) // (2 * denominator)


def _basis_points(rate: Decimal) -> int:
    return int((Decimal(rate) * 100).to_integral_value())


def tax_on(amount_cents: int, rate: Decimal, *, inclusive: bool) -> int:
    """The tax of one amount, half-up to the cent: added to it (exclusive) or contained
    in it (inclusive)."""
    bp = _basis_points(rate)
    if bp == 0 or amount_cents == 0:
        return 0
    if inclusive:
        return _div_half_up(amount_cents * bp, 10000 + bp)
    return _div_half_up(amount_cents * bp, 10000)


def allocate(total_cents: int, weights: Sequence[int]) -> list[int]:
    """Split ``total_cents`` over ``weights`` in proportion, largest remainder first.

    The parts add up to ``total_cents`` exactly; with ``total_cents <= sum(weights)`` no
    part exceeds its weight (each floor is below its weight unless the share is exact)."""
    whole = sum(weights)
    if whole == 0 or total_cents == 0:
        return [0] * len(weights)
    exact = [total_cents * w for w in weights]
    parts = [e // whole for e in exact]
    left = total_cents - sum(parts)
    order = sorted(range(len(weights)), key=lambda i: (-(exact[i] % whole), i))
    for i in order[:left]:
        parts[i] += 1
    return parts


# --------------------------------------------------------------------------- inputs


@dataclass(frozen=True)
class PricingLine:
    variant_id: int
    product_id: int
    category_id: int | None
    unit_price: Decimal
    quantity: int


@dataclass(frozen=True)
class ShippingOption:
    code: str
    name: str
    price: Decimal
    free_above: Decimal | None = None

    def cost_cents(self, goods_cents: int) -> int:
        if self.free_above is not None and goods_cents >= cents(self.free_above):
            return 0
        return cents(self.price)


@dataclass(frozen=True)
class TaxTerms:
    rate: Decimal
    applies_to_shipping: bool = False
    name: str = ""


@dataclass(frozen=True)
class VoucherTerms:
    code: str
    kind: str
    value: Decimal
    min_subtotal: Decimal = Decimal("0.00")
    product_ids: frozenset[int] = frozenset()
    category_ids: frozenset[int] = frozenset()  # subcategories already included

    def applies_to(self, line: PricingLine) -> bool:
        if not self.product_ids and not self.category_ids:
            return True
        return line.product_id in self.product_ids or line.category_id in self.category_ids


# --------------------------------------------------------------------------- result


@dataclass
class PricedLine:
    line: PricingLine
    line_total: Decimal
    discount_amount: Decimal
    tax_rate: Decimal
    tax_amount: Decimal


@dataclass
class Quote:
    lines: list[PricedLine]
    subtotal: Decimal
    discount_total: Decimal
    shipping_method: ShippingOption
    shipping_cost: Decimal
    shipping_tax_amount: Decimal
    tax_total: Decimal
    total: Decimal
    prices_include_tax: bool
    voucher_code: str | None
    currency: str = field(default_factory=lambda: settings.NEXUS_CURRENCY)
    voucher: object | None = None  # the Voucher row (checkout_quote), for the redemption
    warnings: list[dict] = field(default_factory=list)


def price_cart(
    lines: Sequence[PricingLine],
    *,
    shipping: Sequence[ShippingOption],
    shipping_code: str | None = None,
    tax: TaxTerms | None = None,
    voucher: VoucherTerms | None = None,
    prices_include_tax: bool = False,
) -> Quote:
    """Every amount of a checkout (see the module docstring for the rounding).

    ``shipping`` lists the methods that serve the destination; ``shipping_code`` picks
    one, else the cheapest for this cart (ties: the first listed). Raises
    ShippingUnavailable (none serves it, or not the one named), VoucherInvalid (the
    voucher applies to no line) and VoucherMinSubtotal.
    """
    totals = [cents(line.unit_price) * line.quantity for line in lines]
    discounts = [0] * len(lines)
    free_shipping = False
    if voucher is not None:
        eligible = [i for i, line in enumerate(lines) if voucher.applies_to(line)]
        if not eligible:
            raise VoucherInvalid("This voucher does not apply to anything in your cart.")
        eligible_cents = sum(totals[i] for i in eligible)
        if eligible_cents < cents(voucher.min_subtotal):
            raise VoucherMinSubtotal(
                f"This voucher needs a subtotal of at least {voucher.min_subtotal}."
            )
        if voucher.kind == VoucherKind.FREE_SHIPPING:
            free_shipping = True
        else:
            if voucher.kind == VoucherKind.PERCENTAGE:
                amount = _div_half_up(eligible_cents * _basis_points(voucher.value), 10000)
            else:
                amount = cents(voucher.value)
            amount = min(amount, eligible_cents)
            for i, part in zip(
                eligible, allocate(amount, [totals[i] for i in eligible]), strict=True
            ):
                discounts[i] = part

    subtotal = sum(totals)
    discount_total = sum(discounts)
    goods = subtotal - discount_total
    if shipping_code:
        chosen = next((option for option in shipping if option.code == shipping_code), None)
        if chosen is None:
            raise ShippingUnavailable(
                f"The shipping method {shipping_code!r} does not serve this address."
            )
    elif shipping:
        chosen = min(shipping, key=lambda option: option.cost_cents(goods))
    else:
        raise ShippingUnavailable()
    shipping_cents = 0 if free_shipping else chosen.cost_cents(goods)

    rate = tax.rate if tax is not None else Decimal("0.00")
    line_taxes = [
        tax_on(totals[i] - discounts[i], rate, inclusive=prices_include_tax)
        for i in range(len(lines))
    ]
    shipping_tax = (
        tax_on(shipping_cents, rate, inclusive=prices_include_tax)
        if tax is not None and tax.applies_to_shipping
        else 0
    )
    tax_total = sum(line_taxes) + shipping_tax
    total = goods + shipping_cents + (0 if prices_include_tax else tax_total)
    rate = Decimal(rate).quantize(Decimal("0.01"))
    return Quote(
        lines=[
            PricedLine(
                line=line,
                line_total=money(totals[i]),
                discount_amount=money(discounts[i]),
                tax_rate=rate,
                tax_amount=money(line_taxes[i]),
            )
            for i, line in enumerate(lines)
        ],
        subtotal=money(subtotal),
        discount_total=money(discount_total),
        shipping_method=chosen,
        shipping_cost=money(shipping_cents),
        shipping_tax_amount=money(shipping_tax),
        tax_total=money(tax_total),
        total=money(total),
        prices_include_tax=prices_include_tax,
        voucher_code=voucher.code if voucher is not None else None,
    )


# --------------------------------------------------------------------------- from the database


@dataclass(frozen=True)
class Customer:
    """Who checks out: a user, or a guest known by email (either may be missing in a
    preview, where ``once_per_customer`` is then checked for whoever is known)."""

    user: object | None = None
    email: str = ""


def shipping_options(*, country: str, methods=None) -> list[ShippingOption]:
    """The active methods serving ``country``; the v1 flat rate when no method is active.
    ``methods``: the active methods, when the caller has read them."""
    if methods is None:
        methods = selectors.shipping_methods_active()
    if not methods:
        return [
            ShippingOption(
                code=FLAT_RATE_CODE,
                name=FLAT_RATE_NAME,
                price=Decimal(str(settings.NEXUS_SHIPPING_FLAT_RATE)).quantize(Decimal("0.01")),
                free_above=Decimal(str(settings.NEXUS_FREE_SHIPPING_THRESHOLD)).quantize(
                    Decimal("0.01")
                ),
            )
        ]
    return [
        ShippingOption(code=m.code, name=m.name, price=m.price, free_above=m.free_above)
        for m in methods
        if selectors.shipping_method_serves(m, country)
    ]


def voucher_terms(*, code: str, customer: Customer, now: datetime | None = None):
    """The voucher named ``code`` and its terms, or the refusal for it as of ``now``:
    VoucherInvalid, VoucherNotStarted, VoucherExpired, VoucherUsedUp (as counted now; the
    order takes its use with a conditional UPDATE), VoucherAlreadyUsed."""
    now = now or timezone.now()
    voucher = selectors.voucher_by_code(code=code)
    if voucher is None or not voucher.is_active:
        raise VoucherInvalid()
    if voucher.starts_at is not None and now < voucher.starts_at:
        raise VoucherNotStarted()
    if voucher.ends_at is not None and now >= voucher.ends_at:
        raise VoucherExpired()
    if voucher.usage_limit is not None and voucher.used_count >= voucher.usage_limit:
        raise VoucherUsedUp()
    if voucher.once_per_customer and selectors.voucher_used_by(
        voucher=voucher, user=customer.user, email=customer.email
    ):
        raise VoucherAlreadyUsed()
    terms = VoucherTerms(
        code=voucher.code,
        kind=voucher.kind,
        value=voucher.value,
        min_subtotal=voucher.min_subtotal,
        product_ids=frozenset(selectors.voucher_product_ids(voucher=voucher)),
        category_ids=frozenset(selectors.voucher_category_ids(voucher=voucher)),
    )
    return voucher, terms


def checkout_quote(
    *,
    lines: Iterable[PricingLine],
    ship_to: dict,
    shipping_method: str | None = None,
    voucher_code: str | None = None,
    customer: Customer | None = None,
) -> Quote:
    """What this cart costs, shipped to ``ship_to`` (an address snapshot), with the rules
    in force now. The one function behind both the preview and order placement."""
    country = ship_to.get("country", "")
    methods, rate = selectors.pricing_rules_for(country=country, region=ship_to.get("state", ""))
    voucher = terms = None
    if voucher_code:
        voucher, terms = voucher_terms(code=voucher_code, customer=customer or Customer())
    quote = price_cart(
        list(lines),
        shipping=shipping_options(country=country, methods=methods),
        shipping_code=shipping_method or None,
        tax=TaxTerms(rate=rate.rate, applies_to_shipping=rate.applies_to_shipping, name=rate.name)
        if rate is not None
        else None,
        voucher=terms,
        prices_include_tax=bool(settings.NEXUS_PRICES_INCLUDE_TAX),
    )
    quote.voucher = voucher
    return quote
