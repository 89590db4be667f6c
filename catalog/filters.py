"""Query parameters of ``products/``: filters, ranked search and ordering (see API.md).

Price, stock and option filters act on active variants: a product matches when one of
its active variants matches all of them. ``option`` and ``attribute`` take repeatable
``Name:Value`` pairs; values of one name OR, different names AND.
"""

import re
from collections.abc import Callable

import django_filters
from django import forms
from django.conf import settings
from django.contrib.postgres.search import SearchQuery, SearchRank
from django.db.models import Exists, F, FloatField, OuterRef, Q, QuerySet, Value
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema_field

from catalog.models import Category, Product, ProductAttribute, ProductVariant
from catalog.selectors import (
    CATEGORY_COLUMNS,
    PRODUCT_LIST_ORDER,
    active_variant_exists,
    category_descendant_ids,
    category_resolve,
    category_tree,
)
from nexus.filters import IdFilter, LeanFilterSet

_MAX_PAIRS = 20
# Matches in variant SKUs joined to a search (an id list, so the product-side indexes
# still serve the rest of the condition).
_SKU_MATCHES = 500

ORDERING_CHOICES = [
    ("-created_at", "Newest first (default)"),
    ("created_at", "Oldest first"),
    ("price", "Price, low to high"),
    ("-price", "Price, high to low"),
    ("name", "Name, A to Z"),
    ("-name", "Name, Z to A"),
    ("average_rating", "Rating, low to high"),
    ("-average_rating", "Rating, high to low"),
]

_WORD = re.compile(r"[^\W_]+")


def _every_word(words: list[str]) -> Q:
    """SQLite: every word in one of the four fields (``fabrikam power``: both words)."""
    match = Q()
    for word in words:
        match &= (
            Q(name__icontains=word)
            | Q(sku__icontains=word)
            | Q(brand__icontains=word)
            | Q(description__icontains=word)
        )
    return match if words else Q(pk__in=[])


def product_search(queryset: QuerySet[Product], text: str) -> QuerySet[Product]:
    """Ranked search over name, brand, sku, variant SKUs and description.

    PostgreSQL: the weighted ``search_vector`` (GIN index) matched against a prefix
    tsquery (every word may be the start of a word: ``lapt`` finds laptops), OR'ed with a
    substring match on name and sku served by trigram indexes (partial SKUs, words cut in
    the middle, stop words); annotated with ``rank``. Elsewhere (SQLite): the whole text as a
    substring of name or sku, or every word somewhere in the four fields, rank 0.
    """
    text = text.strip()
    if not text:
        return queryset
    substring = Q(name__icontains=text) | Q(sku__icontains=text)
    variant_products = list(
        ProductVariant.objects.filter(sku__icontains=text)
        .order_by()
        .values_list("product_id", flat=True)
        .distinct()[:_SKU_MATCHES]
    )
    if variant_products:
        substring |= Q(pk__in=variant_products)
    words = _WORD.findall(text)[:8]
    if not settings.IS_POSTGRES:
        return queryset.filter(substring | _every_word(words))
    if not words:  # punctuation only: substring match, every rank equal
        return queryset.filter(substring).annotate(rank=Value(0.0, output_field=FloatField()))
    query = SearchQuery(
        " & ".join(f"{word}:*" for word in words), search_type="raw", config="english"
    )
    return queryset.filter(Q(search_vector=query) | substring).annotate(
        rank=SearchRank(F("search_vector"), query)
    )


class PairsField(forms.Field):
    """A repeatable ``Name:Value`` query parameter, cleaned to ``{name: [values]}``
    (names and values case-folded). Bad syntax is a 400 on the parameter."""

    widget = forms.MultipleHiddenInput

    def __init__(self, *args, max_name: int = 50, max_value: int = 100, **kwargs):
        self.max_name, self.max_value = max_name, max_value
        super().__init__(*args, **kwargs)

    def to_python(self, value) -> dict[str, list[str]]:
        raw = [value] if isinstance(value, str) else list(value or [])
        if len(raw) > _MAX_PAIRS:
            raise forms.ValidationError(f"At most {_MAX_PAIRS} pairs.", code="invalid")
        pairs: dict[str, list[str]] = {}
        for item in raw:
            name, sep, text = str(item).partition(":")
            name, text = name.strip(), text.strip()
            if "\x00" in name or "\x00" in text:
                raise forms.ValidationError("Null characters are not allowed.", code="null")
            if not sep or not name or not text:
                raise forms.ValidationError(
                    f"Expected Name:Value (for example Size:M), got {str(item)[:60]!r}.",
                    code="invalid",
                )
            if len(name) > self.max_name or len(text) > self.max_value:
                raise forms.ValidationError("Name or value too long.", code="max_length")
            pairs.setdefault(name.casefold(), []).append(text)
        return pairs


@extend_schema_field({"type": "array", "items": {"type": "string", "pattern": "^[^:]+:.+$"}})
class PairsFilter(django_filters.Filter):
    field_class = PairsField

    def filter(self, qs, value):  # applied by ProductFilter.filter_queryset
        return qs


def _iexact_any(field: str, values: list[str]) -> Q:
    condition = Q()
    for value in values:
        condition |= Q(**{f"{field}__iexact": value})
    return condition


class ProductFilter(LeanFilterSet):
    """``tree``: a function returning the category tree, when the caller has it or shares
    it (``ProductViewSet`` loads it once per request for the filter and the count);
    without it the category filter loads the tree itself."""

    def __init__(self, *args, tree: Callable[[], dict[int, dict]] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.tree = tree or category_tree

    category = django_filters.CharFilter(
        method="filter_category",
        max_length=140,
        help_text="Category id or slug; products of its subcategories are included.",
    )
    brand = django_filters.CharFilter(
        field_name="brand", lookup_expr="iexact", max_length=100, help_text="Exact brand."
    )
    price_min = django_filters.NumberFilter(
        method="filter_noop",
        min_value=0,
        help_text="Products with an active variant priced at least this.",
    )
    price_max = django_filters.NumberFilter(
        method="filter_noop",
        min_value=0,
        help_text="Products with an active variant priced at most this.",
    )
    in_stock = django_filters.BooleanFilter(
        method="filter_noop",
        help_text="true: an active variant is in stock; false: none is.",
    )
    option = PairsFilter(
        help_text="Repeatable `Name:Value` (for example `option=Size:M&option=Color:Red`): "
        "products with an active variant that has one of the values given for each "
        "option named (values of one option OR, different options AND; "
        "case-insensitive). Bad syntax: 400.",
    )
    attribute = PairsFilter(
        help_text="Repeatable `Name:Value` (for example `attribute=Material:Cotton`): "
        "values of one attribute OR, different attributes AND; case-insensitive.",
    )
    is_featured = django_filters.BooleanFilter(field_name="is_featured")
    is_active = django_filters.BooleanFilter(
        field_name="is_active", help_text="Staff only in effect: the public sees active ones."
    )
    rating_min = django_filters.NumberFilter(
        field_name="average_rating", lookup_expr="gte", min_value=0, max_value=5
    )
    search = django_filters.CharFilter(
        method="filter_search",
        max_length=200,
        help_text="Words in name, description, sku or brand (prefixes match); ranked by "
        "relevance unless `ordering` is given.",
    )
    ordering = django_filters.ChoiceFilter(
        choices=ORDERING_CHOICES, method="filter_noop", help_text="Sort order."
    )

    class Meta:
        model = Product
        fields: list[str] = []

    def filter_category(self, queryset, name, value):
        tree = self.tree()
        category_id = category_resolve(tree=tree, value=value)
        if category_id is None:
            return queryset.none()
        ids = category_descendant_ids(tree=tree, category_id=category_id)
        return queryset.filter(category_id__in=ids)

    def _variant_conditions(self, queryset: QuerySet[Product]) -> QuerySet[Product]:
        """One EXISTS over active variants for price, in-stock and option filters, so
        that a single variant must satisfy all of them.

        A price bound alone needs no EXISTS: an active variant priced at least X exists
        exactly when the highest active price (``price + active_price_spread``, NULL
        without an active variant) is at least X, and one priced at most Y exactly when
        there is an active variant (the spread is not NULL) and the lowest (``price``) is
        at most Y; both are counted from an index alone (``catalog_prod_active_cat_top``
        and ``catalog_prod_active_cat_price``, catalog/models.py).
        Both bounds, or either with ``in_stock=true`` or ``option``, must hold for one
        variant: the EXISTS."""
        data = self.form.cleaned_data
        low, high = data.get("price_min"), data.get("price_max")
        lone = (low is None) != (high is None) and not data.get("option")
        if lone and not data.get("in_stock") and high is not None:
            queryset = queryset.filter(active_price_spread__isnull=False, price__lte=high)
            high = None
        # The sum only on PostgreSQL, where numeric addition is exact; SQLite adds the two
        # decimals as floating point (0.70 + 0.10 < 0.80 there), so it keeps the EXISTS.
        elif lone and not data.get("in_stock") and settings.IS_POSTGRES:
            top = F("price") + F("active_price_spread")
            queryset = queryset.alias(price_top=top).filter(price_top__gte=low)
            low = None
        conditions = Q()
        if low is not None:
            conditions &= Q(price__gte=low)
        if high is not None:
            conditions &= Q(price__lte=high)
        if data.get("in_stock") is True:
            conditions &= Q(stock_quantity__gt=0)
        variants = ProductVariant.objects.filter(conditions, product=OuterRef("pk"), is_active=True)
        through = ProductVariant.option_values.through
        for name, values in (data.get("option") or {}).items():
            variants = variants.filter(
                Exists(
                    through.objects.filter(
                        Q(productoptionvalue__option__name__iexact=name)
                        & _iexact_any("productoptionvalue__value", values),
                        productvariant_id=OuterRef("pk"),
                    )
                )
            )
        if conditions or data.get("option"):
            queryset = queryset.filter(Exists(variants))
        if data.get("in_stock") is False:
            queryset = queryset.exclude(active_variant_exists(stock_quantity__gt=0))
        for name, values in (data.get("attribute") or {}).items():
            queryset = queryset.filter(
                Exists(
                    ProductAttribute.objects.filter(
                        _iexact_any("value", values), product=OuterRef("pk"), name__iexact=name
                    )
                )
            )
        return queryset

    def filter_search(self, queryset, name, value):
        return product_search(queryset, value)

    def filter_noop(self, queryset, name, value):
        return queryset

    def filter_queryset(self, queryset):
        queryset = self._variant_conditions(super().filter_queryset(queryset))
        ordering = self.form.cleaned_data.get("ordering")
        if ordering:
            tie = "-id" if ordering.startswith("-") else "id"
            return queryset.order_by(ordering, tie)
        if self.form.cleaned_data.get("search") and settings.IS_POSTGRES:
            return queryset.order_by("-rank", "-id")
        return queryset.order_by(*PRODUCT_LIST_ORDER)


class CategoryFilter(LeanFilterSet):
    parent = IdFilter(field_name="parent_id", help_text="Children of this id.")
    root = django_filters.BooleanFilter(
        field_name="parent", lookup_expr="isnull", help_text="Only top-level categories."
    )

    class Meta:
        model = Category
        fields: list[str] = []

    def filter_rows(self, rows: list[tuple]) -> list[tuple]:
        """``filter_queryset`` for the ``selectors.category_rows`` tuples (``categories/``
        filters every category in Python, in their order): the same categories, the same
        order. Call ``is_valid()`` first."""
        data = self.form.cleaned_data
        parent_index = CATEGORY_COLUMNS.index("parent_id")
        if data.get("parent") is not None:
            rows = [row for row in rows if row[parent_index] == data["parent"]]
        if data.get("root") is not None:
            rows = [row for row in rows if (row[parent_index] is None) == data["root"]]
        return rows


class ProductFilterBackend(DjangoFilterBackend):
    """``DjangoFilterBackend`` handing ``ProductFilter`` the view's once-per-request
    category tree (``view.category_tree``), so a category-filtered page does not load
    the tree twice (once to filter, once for its count)."""

    def get_filterset_kwargs(self, request, queryset, view):
        kwargs = super().get_filterset_kwargs(request, queryset, view)
        if hasattr(view, "category_tree"):
            kwargs["tree"] = view.category_tree
        return kwargs
