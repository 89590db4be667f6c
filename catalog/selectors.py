"""Reads of the catalog app: querysets shaped for the API (one query per relation, so a
list runs a fixed number of queries whatever its page size) and the category tree."""

from django.db.models import Count, Prefetch, Q, QuerySet
from django.http import Http404

from catalog.cache import cached, catalog_version, versioned_key
from catalog.models import Category, Product, ProductImage


def as_id(lookup: str) -> int | None:
    """``lookup`` as a primary key when it is one (ASCII digits that fit a bigint)."""
    if lookup.isascii() and lookup.isdigit() and len(lookup) <= 18:
        return int(lookup)
    return None


# ------------------------------------------------------------------------ category tree


def category_tree() -> dict[int, dict]:
    """Every category as ``{id: {"parent", "slug", "direct", "children"}}``, one query.

    ``direct`` counts the category's own active products. The table is small (hundreds of
    rows), so it is loaded whole and cached per catalog version: subtree counts and
    descendant ids then cost no query at all.
    """

    def load() -> dict[int, dict]:
        rows = Category.objects.order_by().values("id", "parent_id", "slug")
        counts = dict(
            Product.objects.filter(is_active=True)
            .order_by()
            .values_list("category_id")
            .annotate(n=Count("id"))
        )
        tree = {
            row["id"]: {
                "parent": row["parent_id"],
                "slug": row["slug"],
                "direct": counts.get(row["id"], 0),
                "children": [],
            }
            for row in rows
        }
        for category_id, node in tree.items():
            if node["parent"] in tree:
                tree[node["parent"]]["children"].append(category_id)
        return tree

    return cached(versioned_key("tree", "categories"), load)


def category_descendant_ids(*, tree: dict[int, dict], category_id: int) -> list[int]:
    """``category_id`` and every category below it (cycle-safe)."""
    seen: list[int] = []
    stack = [category_id]
    while stack:
        current = stack.pop()
        if current in seen or current not in tree:
            continue
        seen.append(current)
        stack.extend(tree[current]["children"])
    return seen


def category_product_count(*, tree: dict[int, dict], category_id: int) -> int:
    """Active products in the category and all its subcategories."""
    ids = category_descendant_ids(tree=tree, category_id=category_id)
    return sum(tree[i]["direct"] for i in ids)


def category_resolve(*, tree: dict[int, dict], value: str) -> int | None:
    """The id of the category named by ``value`` (an id or a slug), or None."""
    category_id = as_id(value)
    if category_id is not None and category_id in tree:
        return category_id
    for category_id, node in tree.items():
        if node["slug"] == value:
            return category_id
    return None


def category_list() -> QuerySet[Category]:
    return Category.objects.all()


def category_get(*, lookup: str) -> Category:
    category_id = as_id(lookup)
    condition = Q(pk=category_id) if category_id is not None else Q(slug=lookup)
    found = category_list().filter(condition).first()
    if found is None:
        raise Http404
    return found


# ------------------------------------------------------------------------ products


def product_list(*, staff: bool) -> QuerySet[Product]:
    """Products with their category and images (two queries for any page size).

    The public sees active products only; staff see all. ``search_vector`` is deferred:
    it is the largest column and never part of a response.
    """
    queryset = (
        Product.objects.select_related("category")
        .defer("search_vector", "category__description")
        .prefetch_related(
            Prefetch("images", queryset=ProductImage.objects.order_by("-is_primary", "id"))
        )
    )
    if not staff:
        queryset = queryset.filter(is_active=True)
    return queryset


def product_get(*, lookup: str, staff: bool) -> Product:
    """One product by id or slug, shaped like ``product_list``; Http404 if not visible."""
    product_id = as_id(lookup)
    condition = Q(pk=product_id) if product_id is not None else Q(slug=lookup)
    product = product_list(staff=staff).filter(condition).first()
    if product is None:
        raise Http404
    return product


def product_count_key(*, staff: bool, params: str) -> str:
    return versioned_key("count", f"{int(staff)}:{params}", catalog_version())
