"""Property tests (hypothesis) of orders/pricing.py over random carts, vouchers and rates.

Pure arithmetic, no database: what the module docstring promises holds for every input.

- The totals identity: exclusive ``total = subtotal - discount_total + shipping_cost +
  tax_total``; inclusive ``total = subtotal - discount_total + shipping_cost``.
- The parts add up exactly: lines' ``line_total`` = ``subtotal``, lines'
  ``discount_amount`` = ``discount_total``, lines' ``tax_amount`` + ``shipping_tax_amount``
  = ``tax_total``.
- Nothing is negative and no discount exceeds its line; the discount is what the voucher
  says (half-up percentage, capped fixed) and each line's share is within one cent of its
  exact proportional share (largest remainder).
- Each tax amount is the exact rational tax rounded half-up (checked with Fraction).
- Inclusive versus exclusive, for the same net prices and rates (no voucher; shipping
  priced alike): what is compared is the amount the customer pays per line and in total.
  (a) When every unit's tax is a whole number of cents, the inclusive shop lists exactly
  net + tax and both modes charge the same total and the same tax, line by line, to the
  cent. (b) In general the inclusive shop lists each unit at its gross price rounded
  half-up (``round(net x (1 + rate))``, what a shop displays), so a line of q units can
  differ by the unit rounding times q plus the line's own rounding: at most
  ``(q + 1) / 2`` cents, rounded down; the total by the sum of those plus one cent for
  shipping.
"""

from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from math import gcd

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orders.choices import VoucherKind
from orders.errors import VoucherInvalid
from orders.pricing import (
    PricingLine,
    ShippingOption,
    TaxTerms,
    VoucherTerms,
    allocate,
    price_cart,
)

PROPERTY_SETTINGS = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def _money(cents: int) -> Decimal:
    return Decimal(cents) / 100


lines_strategy = st.lists(
    st.builds(
        lambda i, price, qty, product, category: PricingLine(
            variant_id=1000 + i,
            product_id=product,
            category_id=category,
            unit_price=_money(price),
            quantity=qty,
        ),
        st.integers(0, 10**6),
        st.integers(0, 500_000),  # up to 5000.00
        st.integers(1, 25),
        st.integers(1, 6),
        st.one_of(st.none(), st.integers(1, 4)),
    ),
    min_size=1,
    max_size=7,
    unique_by=lambda line: line.variant_id,
)
rate_strategy = st.integers(0, 3000).map(lambda bp: Decimal(bp) / 100)  # 0.00% .. 30.00%
shipping_strategy = st.lists(
    st.builds(
        lambda code, price, free: ShippingOption(
            code=f"m{code}",
            name=f"Method {code}",
            price=_money(price),
            free_above=None if free is None else _money(free),
        ),
        st.integers(0, 50),
        st.integers(0, 5000),
        st.one_of(st.none(), st.integers(0, 200_000)),
    ),
    min_size=1,
    max_size=4,
    unique_by=lambda option: option.code,
)
voucher_strategy = st.one_of(
    st.none(),
    st.builds(
        lambda kind, value, products, categories: VoucherTerms(
            code="V",
            kind=kind,
            value=value,
            product_ids=frozenset(products),
            category_ids=frozenset(categories),
        ),
        st.sampled_from([VoucherKind.PERCENTAGE, VoucherKind.FIXED, VoucherKind.FREE_SHIPPING]),
        st.integers(1, 10000).map(lambda bp: Decimal(bp) / 100),
        st.sets(st.integers(1, 6), max_size=3),
        st.sets(st.integers(1, 4), max_size=2),
    ),
)


def _c(amount: Decimal) -> int:
    return int(amount * 100)


def _price_or_skip(lines, **kwargs):
    """``price_cart``, or None when the voucher is refused (it applies to no line)."""
    try:
        return price_cart(lines, **kwargs)
    except VoucherInvalid:
        voucher = kwargs["voucher"]
        assert not any(voucher.applies_to(line) for line in lines)
        return None


@PROPERTY_SETTINGS
@given(
    lines=lines_strategy,
    shipping=shipping_strategy,
    rate=rate_strategy,
    taxed_shipping=st.booleans(),
    voucher=voucher_strategy,
    inclusive=st.booleans(),
)
def test_amounts_add_up_and_nothing_is_negative(
    lines, shipping, rate, taxed_shipping, voucher, inclusive
):
    quote = _price_or_skip(
        lines,
        shipping=shipping,
        tax=TaxTerms(rate=rate, applies_to_shipping=taxed_shipping),
        voucher=voucher,
        prices_include_tax=inclusive,
    )
    if quote is None:
        return
    priced = quote.lines
    assert sum(p.line_total for p in priced) == quote.subtotal
    assert sum(p.discount_amount for p in priced) == quote.discount_total
    assert sum(p.tax_amount for p in priced) + quote.shipping_tax_amount == quote.tax_total
    expected = quote.subtotal - quote.discount_total + quote.shipping_cost
    if not inclusive:
        expected += quote.tax_total
    assert quote.total == expected
    for p in priced:
        assert p.line_total == p.line.unit_price * p.line.quantity
        assert 0 <= p.discount_amount <= p.line_total
        assert p.tax_amount >= 0 and p.tax_rate == rate
        # Each tax is the exact rational tax of its amount, rounded half-up.
        base = Fraction(_c(p.line_total - p.discount_amount))
        r = Fraction(_c(rate), 10000)
        exact = base * r / (1 + r) if inclusive else base * r
        assert _c(p.tax_amount) == int(exact + Fraction(1, 2))
    for amount in (quote.subtotal, quote.shipping_cost, quote.tax_total, quote.total):
        assert amount >= 0
        assert amount == amount.quantize(Decimal("0.01"))
    if inclusive:
        # Tax is inside the amounts: never more than what is paid.
        assert quote.tax_total <= quote.total


@PROPERTY_SETTINGS
@given(lines=lines_strategy, voucher=voucher_strategy.filter(lambda v: v is not None))
def test_discount_is_what_the_voucher_says_spread_by_largest_remainder(lines, voucher):
    quote = _price_or_skip(
        lines, shipping=[ShippingOption("s", "S", Decimal("3.00"))], voucher=voucher
    )
    if quote is None:
        return
    eligible = [p for p in quote.lines if voucher.applies_to(p.line)]
    eligible_cents = sum(_c(p.line_total) for p in eligible)
    assert all(p.discount_amount == 0 for p in quote.lines if not voucher.applies_to(p.line))
    if voucher.kind == VoucherKind.FREE_SHIPPING:
        assert quote.discount_total == 0 and quote.shipping_cost == 0
        return
    if voucher.kind == VoucherKind.PERCENTAGE:
        wanted = int(Fraction(eligible_cents) * Fraction(_c(voucher.value), 10000) + Fraction(1, 2))
    else:
        wanted = _c(voucher.value)
    wanted = min(wanted, eligible_cents)
    assert _c(quote.discount_total) == wanted
    for p in eligible:
        exact = Fraction(wanted * _c(p.line_total), eligible_cents) if eligible_cents else 0
        assert abs(Fraction(_c(p.discount_amount)) - exact) < 1


@settings(max_examples=300, deadline=None)
@given(
    total=st.integers(0, 10**7),
    weights=st.lists(st.integers(0, 10**6), min_size=1, max_size=10),
)
def test_allocate_adds_up_and_never_exceeds_a_weight(total, weights):
    total = min(total, sum(weights))
    parts = allocate(total, weights)
    assert sum(parts) == total
    assert all(0 <= part <= weight for part, weight in zip(parts, weights, strict=True))


def _pair(lines, rate, shipping_net_cents, taxed_shipping, gross_of):
    """Price the same cart exclusive (net prices) and inclusive (gross_of(net) prices)."""
    net_shipping = ShippingOption("s", "S", _money(shipping_net_cents))
    tax = TaxTerms(rate=rate, applies_to_shipping=taxed_shipping)
    exclusive = price_cart(lines, shipping=[net_shipping], tax=tax)
    gross_lines = [
        PricingLine(
            variant_id=line.variant_id,
            product_id=line.product_id,
            category_id=line.category_id,
            unit_price=_money(gross_of(_c(line.unit_price))),
            quantity=line.quantity,
        )
        for line in lines
    ]
    gross_shipping = shipping_net_cents
    if taxed_shipping:
        gross_shipping = gross_of(shipping_net_cents)
    inclusive = price_cart(
        gross_lines,
        shipping=[ShippingOption("s", "S", _money(gross_shipping))],
        tax=tax,
        prices_include_tax=True,
    )
    return exclusive, inclusive


def _paid(priced, inclusive: bool) -> Decimal:
    amount = priced.line_total - priced.discount_amount
    return amount if inclusive else amount + priced.tax_amount


@PROPERTY_SETTINGS
@given(
    data=st.data(),
    rate_bp=st.integers(1, 3000),
    taxed_shipping=st.booleans(),
    lines=lines_strategy,
)
def test_inclusive_and_exclusive_agree_exactly_when_unit_taxes_are_whole_cents(
    data, rate_bp, taxed_shipping, lines
):
    # Net unit prices that are multiples of 10000 / gcd(rate, 10000) cents have a whole
    # number of cents of tax per unit.
    step = 10000 // gcd(rate_bp, 10000)
    lines = [
        PricingLine(
            variant_id=line.variant_id,
            product_id=line.product_id,
            category_id=line.category_id,
            unit_price=_money(data.draw(st.integers(0, 2000)) * step % 10**7),
            quantity=line.quantity,
        )
        for line in lines
    ]
    shipping = data.draw(st.integers(0, 20)) * step % 10**5
    rate = Decimal(rate_bp) / 100

    def gross(net: int) -> int:
        assert net * rate_bp % 10000 == 0
        return net + net * rate_bp // 10000

    exclusive, inclusive = _pair(lines, rate, shipping, taxed_shipping, gross)
    assert inclusive.total == exclusive.total
    assert inclusive.tax_total == exclusive.tax_total
    for ex, inc in zip(exclusive.lines, inclusive.lines, strict=True):
        assert _paid(inc, True) == _paid(ex, False)
        assert inc.tax_amount == ex.tax_amount


@PROPERTY_SETTINGS
@given(
    rate_bp=st.integers(0, 3000),
    taxed_shipping=st.booleans(),
    lines=lines_strategy,
    shipping=st.integers(0, 5000),
)
def test_inclusive_and_exclusive_differ_by_no_more_than_unit_rounding(
    rate_bp, taxed_shipping, lines, shipping
):
    def gross(net: int) -> int:  # the displayed gross unit price, half-up
        return (2 * (net * (10000 + rate_bp)) + 10000) // 20000

    exclusive, inclusive = _pair(lines, Decimal(rate_bp) / 100, shipping, taxed_shipping, gross)
    bound_total = 0
    for ex, inc in zip(exclusive.lines, inclusive.lines, strict=True):
        bound = (ex.line.quantity + 1) // 2
        assert abs(_c(_paid(inc, True)) - _c(_paid(ex, False))) <= bound
        bound_total += bound
    bound_total += 1 if taxed_shipping else 0
    assert abs(_c(inclusive.total) - _c(exclusive.total)) <= bound_total


def test_rounding_examples_half_up_per_line():
    # 0.05 at 10%: 0.005 of tax rounds up to 0.01; three such lines are 0.03, not
    # round(0.015) = 0.02: tax is per line, then summed.
    lines = [
        PricingLine(
            variant_id=i, product_id=i, category_id=None, unit_price=Decimal("0.05"), quantity=1
        )
        for i in range(3)
    ]
    quote = price_cart(
        lines, shipping=[ShippingOption("s", "S", Decimal("0"))], tax=TaxTerms(Decimal("10"))
    )
    assert [p.tax_amount for p in quote.lines] == [Decimal("0.01")] * 3
    assert quote.tax_total == Decimal("0.03")
    # 10.00 off three equal lines of 3.33: 3.34 goes to the first (ties: earlier line).
    lines = [
        PricingLine(
            variant_id=i, product_id=i, category_id=None, unit_price=Decimal("5.00"), quantity=1
        )
        for i in range(3)
    ]
    quote = price_cart(
        lines,
        shipping=[ShippingOption("s", "S", Decimal("0"))],
        voucher=VoucherTerms("V", VoucherKind.FIXED, Decimal("10.00")),
    )
    assert [p.discount_amount for p in quote.lines] == [
        Decimal("3.34"),
        Decimal("3.33"),
        Decimal("3.33"),
    ]
    assert Decimal("0.125").quantize(Decimal("0.01"), ROUND_HALF_UP) == Decimal("0.13")
