"""Reads of the reviews app: which reviews a caller may see, and the approved-review
aggregates of a product. (Who bought what is orders': ``orders.selectors``.)"""

from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Count, Q, QuerySet, Sum

from reviews.choices import ReviewStatus
from reviews.models import RATING_MAX, RATING_MIN, Review


def _shaped(queryset: QuerySet[Review]) -> QuerySet[Review]:
    # The author is read for the display name; nothing else is joined per row.
    return queryset.select_related("user")


def review_visible_list(*, user) -> QuerySet[Review]:
    """Reviews the caller may read.

    Everyone: approved reviews of active products. A signed-in user also sees their own
    reviews in any state. Staff see every review.
    """
    queryset = Review.objects.all()
    if user is not None and user.is_authenticated and user.is_staff:
        return _shaped(queryset)
    visible = Q(status=ReviewStatus.APPROVED, product__is_active=True)
    if user is not None and user.is_authenticated:
        visible |= Q(user=user)
    return _shaped(queryset.filter(visible))


def review_own_list(*, user) -> QuerySet[Review]:
    """The caller's own reviews (what they may edit)."""
    return _shaped(Review.objects.filter(user=user))


def review_deletable_list(*, user) -> QuerySet[Review]:
    """Reviews the caller may delete: their own; staff any."""
    if user.is_staff:
        return _shaped(Review.objects.all())
    return review_own_list(user=user)


def product_rating_aggregate(*, product_id: int) -> dict:
    """Average (2 places), count and 1-5 histogram of the product's approved reviews,
    in one query."""
    stars = range(RATING_MIN, RATING_MAX + 1)
    row = Review.objects.filter(product_id=product_id, status=ReviewStatus.APPROVED).aggregate(
        total=Sum("rating"),
        count=Count("id"),
        **{f"r{star}": Count("id", filter=Q(rating=star)) for star in stars},
    )
    count = row["count"] or 0
    average = (
        (Decimal(row["total"]) / count).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        if count
        else Decimal("0.00")
    )
    return {
        "average_rating": average,
        "review_count": count,
        "histogram": {str(star): row[f"r{star}"] for star in stars},
    }
