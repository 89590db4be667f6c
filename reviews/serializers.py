"""Input and output serializers of the reviews app. Review text is returned exactly as it
was stored (JSON strings, never rendered as HTML): clients must escape it when displaying."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from catalog.models import Product
from reviews.choices import ReportReason, ReviewStatus
from reviews.models import RATING_MAX, RATING_MIN, Review, ReviewReport
from reviews.openapi import NamedChoiceField

_STATUS_SCHEMA = {
    "type": "string",
    "enum": [*ReviewStatus.values, None],
    "nullable": True,
    "description": "Moderation state, shown to the review's author and to staff only; "
    "null for everyone else (who only ever see approved reviews).\n"
    + "\n".join(f"* `{s.value}` - {s.label}" for s in ReviewStatus),
}


class ReviewSerializer(serializers.ModelSerializer):
    author = serializers.SerializerMethodField(
        help_text="The author's display name (never the email)."
    )
    status = serializers.SerializerMethodField()

    class Meta:
        model = Review
        fields = [
            "id",
            "product",
            "author",
            "rating",
            "title",
            "comment",
            "verified_purchase",
            "helpful_count",
            "status",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_author(self, review: Review) -> str:
        return review.user.display_name

    @extend_schema_field(_STATUS_SCHEMA)
    def get_status(self, review: Review) -> str | None:
        request = self.context.get("request")
        user = getattr(request, "user", None)
        if (
            user is not None
            and user.is_authenticated
            and (user.is_staff or review.user_id == user.pk)
        ):
            return review.status
        return None


class ReviewCreateSerializer(serializers.Serializer):
    product = serializers.PrimaryKeyRelatedField(
        queryset=Product.objects.filter(is_active=True),
        help_text="Id of an active product.",
    )
    rating = serializers.IntegerField(min_value=RATING_MIN, max_value=RATING_MAX)
    title = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    comment = serializers.CharField(max_length=5000)


class ReviewUpdateSerializer(serializers.Serializer):
    """PUT needs ``rating`` and ``comment``; PATCH any subset. The product cannot change."""

    rating = serializers.IntegerField(min_value=RATING_MIN, max_value=RATING_MAX)
    title = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    comment = serializers.CharField(max_length=5000)


class ReviewReportCreateSerializer(serializers.Serializer):
    reason = NamedChoiceField(enum_name="ReviewReportReasonEnum", choices=ReportReason.choices)
    detail = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class ReviewReportSerializer(serializers.ModelSerializer):
    reason = NamedChoiceField(
        enum_name="ReviewReportReasonEnum", choices=ReportReason.choices, read_only=True
    )

    class Meta:
        model = ReviewReport
        fields = ["id", "review", "reason", "detail", "created_at"]
        read_only_fields = fields


class ReviewModerateSerializer(serializers.Serializer):
    status = NamedChoiceField(
        enum_name="ReviewDecisionEnum",
        choices=[(ReviewStatus.APPROVED, "Approved"), (ReviewStatus.REJECTED, "Rejected")],
    )
    reason = serializers.CharField(
        max_length=500,
        required=False,
        allow_blank=True,
        default="",
        help_text="Why (kept for staff; never shown to customers).",
    )
