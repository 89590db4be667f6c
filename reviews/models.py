"""Reviews of products by customers, helpful votes and abuse reports.

The database backs every rule the services rely on: one review per user and product,
a rating between 1 and 5, one vote and one report per user and review.
"""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from catalog.models import Product
from reviews.choices import HoldReason, ReportReason, ReviewStatus

RATING_MIN = 1
RATING_MAX = 5


class Review(models.Model):
    # CASCADE: a deleted product takes its reviews (and its aggregates) with it.
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="reviews")
    # PROTECT: deleting an account must not silently change products' ratings; accounts
    # are deactivated, or their reviews deleted through the service first.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="reviews"
    )
    rating = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(RATING_MIN), MaxValueValidator(RATING_MAX)]
    )
    title = models.CharField(max_length=200, blank=True)
    comment = models.TextField(max_length=5000)
    status = models.CharField(
        max_length=16, choices=ReviewStatus.choices, default=ReviewStatus.PENDING
    )
    hold_reason = models.CharField(
        max_length=16, choices=HoldReason.choices, blank=True, default=HoldReason.NONE
    )
    verified_purchase = models.BooleanField(default=False)
    helpful_count = models.PositiveIntegerField(default=0)
    # Reports received since staff last decided on the review.
    open_report_count = models.PositiveIntegerField(default=0)
    # sha256 of the normalised comment: finds the same text posted on several products.
    comment_fingerprint = models.CharField(max_length=64, blank=True, editable=False)
    moderated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    moderated_at = models.DateTimeField(null=True, blank=True)
    moderation_reason = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "product"], name="reviews_review_one_per_user_product"
            ),
            models.CheckConstraint(
                condition=models.Q(rating__gte=RATING_MIN, rating__lte=RATING_MAX),
                name="reviews_review_rating_1_5",
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=ReviewStatus.values),
                name="reviews_review_status_valid",
            ),
        ]
        indexes = [
            models.Index(
                fields=["product", "status", "-created_at"], name="reviews_product_status_new"
            ),
            models.Index(fields=["status", "-created_at"], name="reviews_status_new"),
            models.Index(fields=["user", "comment_fingerprint"], name="reviews_user_fingerprint"),
        ]

    def __str__(self) -> str:
        return f"{self.rating}/5 on {self.product_id} by {self.user_id} ({self.status})"


class ReviewVote(models.Model):
    """A user found a review helpful."""

    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="votes")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["review", "user"], name="reviews_vote_one_per_user"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} found {self.review_id} helpful"


class ReviewReport(models.Model):
    """A user flagged a review as abusive; ``resolved_at`` is set when staff decide."""

    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="reports")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    reason = models.CharField(max_length=16, choices=ReportReason.choices)
    detail = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["review", "user"], name="reviews_report_one_per_user"),
            models.CheckConstraint(
                condition=models.Q(reason__in=ReportReason.values),
                name="reviews_report_reason_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} reported {self.review_id} ({self.reason})"
