"""Reads of the orders app: order querysets shaped for the API (items prefetched, so a
page of orders costs a fixed number of queries), and whether a user has received a product
(read by reviews), a guest order by its token, and the pricing rules in force (shipping
methods, tax rates, vouchers). The cart read at checkout is cart's."""

import hashlib
import re
from functools import cache, lru_cache

from django.db import connection
from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.db.models.functions import Length, Upper

from catalog.selectors import category_descendant_ids, category_tree
from nexus.rawsql import model_columns, rows_converted
from nexus.rawsql import qualified_column as col
from orders.choices import OrderStatus
from orders.models import (
    Order,
    OrderEvent,
    OrderItem,
    ShippingMethod,
    TaxRate,
    Voucher,
    VoucherRedemption,
)
from users.models import email_key

_GUEST_TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{20,128}")


def order_queryset() -> QuerySet[Order]:
    # "payments" is the reverse relation of payments.Payment (read only, never imported).
    return Order.objects.select_related("user").prefetch_related(
        Prefetch("items", queryset=OrderItem.objects.order_by("id")), "payments"
    )


def order_is_fresh(order: Order) -> bool:
    """``order`` is fresh from ``services.order_place`` with its lines as inserted, ids
    included (False: not from there, or a database that does not return bulk ids)."""
    items = getattr(order, "placed_items", None)
    return items is not None and all(item.pk is not None for item in items)


def order_as_placed(order: Order) -> Order:
    """The order ``services.order_place`` returned, ready to serialise like a row of
    ``order_queryset`` without reading it back: its lines as inserted (in id order) and
    its payments (none yet) are filled in as that queryset prefetches them. Otherwise
    the order is read again."""
    if not order_is_fresh(order):
        return order_queryset().get(pk=order.pk)
    items = order.placed_items
    cache = {}
    for name, rows in (("items", sorted(items, key=lambda item: item.pk)), ("payments", [])):
        queryset = getattr(order, name).all()
        queryset._result_cache = list(rows)
        queryset._prefetch_done = True
        cache[name] = queryset
    order._prefetched_objects_cache = cache
    return order


def order_lock(*, pk: int) -> Order:
    """The order row, locked until the caller's transaction ends (``select_for_update``)."""
    return Order.objects.select_for_update().get(pk=pk)


def order_list_for(*, user) -> QuerySet[Order]:
    """Orders the user may see, newest first: their own, or every order for staff."""
    orders = order_queryset().order_by("-created_at", "-id")
    if user.is_staff:
        return orders
    return orders.filter(user=user)


def order_events(*, order: Order) -> QuerySet[OrderEvent]:
    return (
        OrderEvent.objects.filter(order=order).select_related("actor").order_by("created_at", "id")
    )


def order_delivered_purchase_exists(*, user, product_id: int) -> bool:
    """True when ``user`` has a delivered order with a line for the product."""
    return OrderItem.objects.filter(
        order__user=user, order__status=OrderStatus.DELIVERED, product_id=product_id
    ).exists()


# --------------------------------------------------------------------------- guests


def customer_email(order: Order) -> str:
    """Where the order's emails go: the address given at checkout (guests), else the
    account's."""
    return order.email or (order.user.email if order.user else "")


def customer_name(order: Order) -> str:
    """How emails greet the customer ("" for a guest: nothing is looked up for them)."""
    return (order.user.first_name or order.user.username) if order.user else ""


def guest_token_hash(token: str) -> str:
    """What is stored of a guest token: its SHA-256 (the token itself is shown once)."""
    return hashlib.sha256(token.encode()).hexdigest()


def order_for_guest_token(*, token: str | None) -> Order | None:
    """The guest order whose secret is ``token`` (shaped like ``order_queryset``), or
    None; a malformed token is None without a query. For every guest endpoint
    (``orders/guest/{guest_token}/...``), payments included."""
    if not token or not _GUEST_TOKEN_RE.fullmatch(token):
        return None
    return (
        order_queryset().filter(user__isnull=True, guest_token_hash=guest_token_hash(token)).first()
    )


# --------------------------------------------------------------------------- pricing rules


def shipping_methods_active() -> list[ShippingMethod]:
    """Every active method, cheapest first (a store has a handful)."""
    return list(ShippingMethod.objects.filter(is_active=True).order_by("price", "code"))


def shipping_method_serves(method: ShippingMethod, country: str) -> bool:
    return not method.countries or country.upper() in method.countries


def shipping_methods_for(*, country: str | None, staff: bool) -> list[ShippingMethod]:
    """The methods a caller may list: active ones (staff: all), serving ``country``
    when given. Filtered in Python: JSON containment is not portable to SQLite."""
    methods = ShippingMethod.objects.order_by("price", "code")
    if not staff:
        methods = methods.filter(is_active=True)
    if not country:
        return list(methods)
    return [m for m in methods if shipping_method_serves(m, country)]


def _tax_rates_for(*, country: str, region: str = "") -> QuerySet[TaxRate]:
    """The address's rates, the most specific first: its region's, then its country's."""
    region = (region or "").strip().upper()
    return (
        TaxRate.objects.annotate(region_key=Upper("region"))
        .filter(country=country.upper(), region_key__in={"", region})
        .order_by(Length("region").desc())
    )


def tax_rate_for(*, country: str, region: str = "") -> TaxRate | None:
    """The most specific rate for an address: its region's, else its country's, else None."""
    return _tax_rates_for(country=country, region=region).first()


# What pricing reads of the rate (orders.pricing.checkout_quote): every subquery more
# costs its building and compiling on each checkout (six cost ~1 ms more than four).
_TAX_FIELDS = ("id", "rate", "applies_to_shipping", "name")


# The (unevaluated) queries of ``pricing_rules_for``, built once per address per process:
# each checkout evaluates a copy, so it still reads the rows in force, but does not
# rebuild them (with four subqueries, a third of the query's cost).


@lru_cache(maxsize=256)
def _best_tax_rates(country: str, region: str) -> QuerySet[TaxRate]:
    return _tax_rates_for(country=country, region=region)


@lru_cache(maxsize=256)
def _pricing_rules_query(country: str, region: str) -> QuerySet[ShippingMethod]:
    best = _best_tax_rates(country, region)
    return (
        ShippingMethod.objects.filter(is_active=True)
        .order_by("price", "code")
        .annotate(**{f"tax_{name}": Subquery(best.values(name)[:1]) for name in _TAX_FIELDS})
    )


def _pricing_rules_for_orm(
    *, country: str, region: str = ""
) -> tuple[list[ShippingMethod], TaxRate | None]:
    """``pricing_rules_for`` through the ORM: the reference its hand-written statements
    are held equal to (``orders/tests/test_pricing_rules_sql.py``)."""
    country, region = country.upper(), (region or "").strip().upper()
    methods = list(_pricing_rules_query(country, region).all())
    if not methods:
        return [], _best_tax_rates(country, region).first()
    first = methods[0]
    if first.tax_id is None:
        return methods, None
    return methods, TaxRate(**{name: getattr(first, f"tax_{name}") for name in _TAX_FIELDS})


_METHOD_COLUMNS = model_columns(ShippingMethod)
_TAX_COLUMNS = model_columns(TaxRate, [TaxRate._meta.get_field(name) for name in _TAX_FIELDS])


@cache
def _pricing_rules_sql() -> tuple[str, str]:
    """The two statements of ``pricing_rules_for``, written once per process from the
    models' metadata (identifiers only; every value is a parameter): the active methods
    with the best rate's four columns as uncorrelated subqueries, and that rate alone.
    The same SQL as the ORM's ``_pricing_rules_query`` and ``_best_tax_rates``."""
    q = connection.ops.quote_name
    method, tax = q(ShippingMethod._meta.db_table), q(TaxRate._meta.db_table)

    region = col(tax, TaxRate, "region")
    best = (
        f"FROM {tax} WHERE {col(tax, TaxRate, 'country')} = %s AND UPPER({region}) IN (%s, %s) "
        f"ORDER BY LENGTH({region}) DESC LIMIT 1"
    )
    methods = (
        "SELECT "  # noqa: S608 (identifiers from the models' metadata)
        + ", ".join(f"{method}.{q(field.column)}" for _, field in _METHOD_COLUMNS)
        + "".join(f", (SELECT {tax}.{q(field.column)} {best})" for _, field in _TAX_COLUMNS)
        + f" FROM {method} WHERE {col(method, ShippingMethod, 'is_active')} "
        f"ORDER BY {col(method, ShippingMethod, 'price')} ASC, "
        f"{col(method, ShippingMethod, 'code')} ASC"
    )
    rate = "SELECT " + ", ".join(f"{tax}.{q(field.column)}" for _, field in _TAX_COLUMNS)
    return methods, f"{rate} {best}"


def pricing_rules_for(
    *, country: str, region: str = ""
) -> tuple[list[ShippingMethod], TaxRate | None]:
    """``shipping_methods_active()`` and ``tax_rate_for(...)`` in one query (a checkout
    reads both): each active method row carries the address's rate as uncorrelated
    subqueries (evaluated once). With no active method, the rate is read on its own.
    The rate returned holds its id and pricing terms (rate, applies_to_shipping, name).

    Hand-written statements (``_pricing_rules_sql``), the ORM version's
    (``_pricing_rules_for_orm``) SQL and answers: compiling its four subqueries on every
    checkout cost more than running them (issue 18)."""
    country, region = country.upper(), (region or "").strip().upper()
    best = [country, "", region]
    methods_sql, rate_sql = _pricing_rules_sql()
    alias = connection.alias
    width = len(_METHOD_COLUMNS)
    method_names = [field.attname for _, field in _METHOD_COLUMNS]
    with connection.cursor() as cursor:
        cursor.execute(methods_sql, best * len(_TAX_COLUMNS))
        rows = rows_converted(cursor.fetchall(), _METHOD_COLUMNS + _TAX_COLUMNS)
        if not rows:
            cursor.execute(rate_sql, best)
            found = rows_converted(cursor.fetchall(), _TAX_COLUMNS)
            return [], _tax_rate(found[0]) if found else None
    methods = [ShippingMethod.from_db(alias, method_names, row[:width]) for row in rows]
    first = rows[0][width:]
    return methods, None if first[0] is None else _tax_rate(first)


def _tax_rate(values) -> TaxRate:
    return TaxRate(**dict(zip(_TAX_FIELDS, values, strict=True)))


def voucher_by_code(*, code: str) -> Voucher | None:
    """The voucher, annotated with ``has_products`` and ``has_categories`` (whether it is
    limited to some products or categories), so an unrestricted voucher costs one query."""
    return (
        Voucher.objects.filter(code=voucher_code_normalize(code))
        .annotate(
            has_products=Exists(Voucher.products.through.objects.filter(voucher_id=OuterRef("pk"))),
            has_categories=Exists(
                Voucher.categories.through.objects.filter(voucher_id=OuterRef("pk"))
            ),
        )
        .first()
    )


def voucher_product_ids(*, voucher: Voucher) -> set[int]:
    """The products the voucher is limited to (none: not limited by product)."""
    if not getattr(voucher, "has_products", True):
        return set()
    return set(
        Voucher.products.through.objects.filter(voucher_id=voucher.pk).values_list(
            "product_id", flat=True
        )
    )


def voucher_code_normalize(code: str) -> str:
    """Codes are case-insensitive: stored and looked up upper-cased, spaces trimmed."""
    return (code or "").strip().upper()


def voucher_category_ids(*, voucher: Voucher) -> set[int]:
    """The voucher's categories with all their subcategories."""
    if not getattr(voucher, "has_categories", True):
        return set()
    chosen = list(
        Voucher.categories.through.objects.filter(voucher_id=voucher.pk).values_list(
            "category_id", flat=True
        )
    )
    if not chosen:
        return set()
    tree = category_tree()
    ids: set[int] = set()
    for category_id in chosen:
        ids.update(category_descendant_ids(tree=tree, category_id=category_id))
    return ids


def voucher_used_by(*, voucher: Voucher, user, email: str) -> bool:
    """True when this customer (the account, or the normalised email) holds a use."""
    condition = Q()
    if user is not None and getattr(user, "is_authenticated", False):
        condition |= Q(user=user)
    if email:
        condition |= Q(email_key=email_key(email))
    if not condition:
        return False
    return VoucherRedemption.objects.filter(condition, voucher=voucher).exists()
