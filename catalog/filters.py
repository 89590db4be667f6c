"""Query parameters of ``products/``: filters, ranked search and ordering (see API.md)."""

import re

import django_filters
from django.conf import settings
from django.contrib.postgres.search import SearchQuery, SearchRank
from django.db.models import F, FloatField, Q, QuerySet, Value

from catalog.models import Category, Product
from catalog.selectors import category_descendant_ids, category_resolve, category_tree

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


def product_search(queryset: QuerySet[Product], text: str) -> QuerySet[Product]:
    """Ranked search over name, brand, sku and description.

    PostgreSQL: the weighted ``search_vector`` (GIN index) matched against a prefix
    tsquery (every word may be the start of a word: ``lapt`` finds laptops), OR'ed with a
    substring match on name and sku served by trigram indexes (partial SKUs, words cut in
    the middle, stop words); annotated with ``rank``. Elsewhere (SQLite): a plain
    case-insensitive substring match on the four fields, rank 0.
    """
    text = text.strip()
    if not text:
        return queryset
    substring = Q(name__icontains=text) | Q(sku__icontains=text)
    if not settings.IS_POSTGRES:
        return queryset.filter(
            substring | Q(brand__icontains=text) | Q(description__icontains=text)
        )
    words = _WORD.findall(text)[:8]
    if not words:  # punctuation only: substring match, every rank equal
        return queryset.filter(substring).annotate(rank=Value(0.0, output_field=FloatField()))
    query = SearchQuery(
        " & ".join(f"{word}:*" for word in words), search_type="raw", config="english"
    )
    return queryset.filter(Q(search_vector=query) | substring).annotate(
        rank=SearchRank(F("search_vector"), query)
    )


class ProductFilter(django_filters.FilterSet):
    category = django_filters.CharFilter(
        method="filter_category",
        max_length=140,
        help_text="Category id or slug; products of its subcategories are included.",
    )
    brand = django_filters.CharFilter(
        field_name="brand", lookup_expr="iexact", max_length=100, help_text="Exact brand."
    )
    price_min = django_filters.NumberFilter(field_name="price", lookup_expr="gte", min_value=0)
    price_max = django_filters.NumberFilter(field_name="price", lookup_expr="lte", min_value=0)
    in_stock = django_filters.BooleanFilter(method="filter_in_stock")
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
        tree = category_tree()
        category_id = category_resolve(tree=tree, value=value)
        if category_id is None:
            return queryset.none()
        ids = category_descendant_ids(tree=tree, category_id=category_id)
        return queryset.filter(category_id__in=ids)

    def filter_in_stock(self, queryset, name, value):
        return queryset.filter(stock_quantity__gt=0) if value else queryset.filter(stock_quantity=0)

    def filter_search(self, queryset, name, value):
        return product_search(queryset, value)

    def filter_noop(self, queryset, name, value):
        return queryset

    def filter_queryset(self, queryset):
        queryset = super().filter_queryset(queryset)
        ordering = self.form.cleaned_data.get("ordering")
        if ordering:
            tie = "-id" if ordering.startswith("-") else "id"
            return queryset.order_by(ordering, tie)
        if self.form.cleaned_data.get("search") and settings.IS_POSTGRES:
            return queryset.order_by("-rank", "-id")
        return queryset.order_by("-created_at", "-id")


class CategoryFilter(django_filters.FilterSet):
    parent = django_filters.NumberFilter(field_name="parent_id", help_text="Children of this id.")
    root = django_filters.BooleanFilter(
        field_name="parent", lookup_expr="isnull", help_text="Only top-level categories."
    )

    class Meta:
        model = Category
        fields: list[str] = []
