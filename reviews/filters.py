"""Query filters and ordering of the review list."""

import django_filters
from django import forms
from rest_framework import serializers

from nexus.filters import IdFilter
from reviews.choices import ReviewStatus
from reviews.models import RATING_MAX, RATING_MIN, Review


class IntegerFilter(django_filters.Filter):
    field_class = forms.IntegerField


class ReviewOrderingFilter(django_filters.OrderingFilter):
    def filter(self, qs, value):
        if value and not all(value):
            # ``ordering=,`` splits into empty terms, which no schema value allows.
            raise serializers.ValidationError({"ordering": ["Empty sort term."]})
        qs = super().filter(qs, value)
        # A unique last key keeps pages stable when many reviews share a value.
        return qs.order_by(*qs.query.order_by, "-id") if value else qs


class ReviewFilter(django_filters.FilterSet):
    product = IdFilter(field_name="product_id", help_text="A product id.")
    rating = IntegerFilter(
        field_name="rating",
        min_value=RATING_MIN,
        max_value=RATING_MAX,
        help_text=f"Exact star rating ({RATING_MIN}-{RATING_MAX}).",
    )
    status = django_filters.ChoiceFilter(
        choices=ReviewStatus.choices,
        help_text="Customers: only their own reviews are ever not approved. Staff: any review.",
    )
    mine = django_filters.BooleanFilter(
        method="filter_mine", help_text="true: only the caller's own reviews (any status)."
    )
    ordering = ReviewOrderingFilter(
        fields=("created_at", "rating", "helpful_count"),
        help_text="created_at, -created_at (default), rating, -rating, helpful_count, "
        "-helpful_count.",
    )

    class Meta:
        model = Review
        fields = ["product", "rating", "status", "mine"]

    def filter_mine(self, queryset, name, value):
        if value is None:
            return queryset
        user = getattr(self.request, "user", None)
        if value:
            if user is None or not user.is_authenticated:
                return queryset.none()
            return queryset.filter(user=user)
        if user is not None and user.is_authenticated:
            return queryset.exclude(user=user)
        return queryset
