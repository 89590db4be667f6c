"""Django admin for reviews: read-only records; approve, reject and delete go through the
same services as the API, so the product aggregates follow every change."""

from django.contrib import admin

from nexus.admin import admin_run_per_row
from reviews import services
from reviews.choices import ReviewStatus
from reviews.models import Review, ReviewReport


class ReviewReportInline(admin.TabularInline):
    model = ReviewReport
    extra = 0
    can_delete = False
    fields = ["created_at", "user", "reason", "detail", "resolved_at"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


def _moderate(modeladmin, request, queryset, decision: str) -> None:
    admin_run_per_row(
        modeladmin,
        request,
        queryset,
        lambda review: services.review_moderate(
            review=review, moderator=request.user, status=decision
        ),
        name=lambda review: f"Review {review.pk}",
        done=f"{decision.capitalize()}: {{count}} review(s).",
    )


@admin.register(Review)
class ReviewAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "product",
        "user",
        "rating",
        "title",
        "status",
        "hold_reason",
        "verified_purchase",
        "helpful_count",
        "open_report_count",
        "created_at",
    ]
    list_filter = ["status", "rating", "hold_reason", "verified_purchase", "created_at"]
    search_fields = ["title", "comment", "user__email", "product__name", "product__sku"]
    list_select_related = ["product", "user"]
    raw_id_fields = ["product", "user", "moderated_by"]
    readonly_fields = [
        "product",
        "user",
        "rating",
        "title",
        "comment",
        "status",
        "hold_reason",
        "verified_purchase",
        "helpful_count",
        "open_report_count",
        "moderated_by",
        "moderated_at",
        "moderation_reason",
        "created_at",
        "updated_at",
    ]
    inlines = [ReviewReportInline]
    actions = ["approve", "reject"]

    def has_add_permission(self, request) -> bool:
        return False

    @admin.action(description="Approve the selected reviews", permissions=["change"])
    def approve(self, request, queryset) -> None:
        _moderate(self, request, queryset, ReviewStatus.APPROVED)

    @admin.action(description="Reject the selected reviews", permissions=["change"])
    def reject(self, request, queryset) -> None:
        _moderate(self, request, queryset, ReviewStatus.REJECTED)

    def delete_model(self, request, obj: Review) -> None:
        services.review_delete(review=obj)

    def delete_queryset(self, request, queryset) -> None:
        for review in queryset.order_by("pk"):
            services.review_delete(review=review)


@admin.register(ReviewReport)
class ReviewReportAdmin(admin.ModelAdmin):
    list_display = ["id", "review", "user", "reason", "created_at", "resolved_at"]
    list_filter = ["reason", "resolved_at"]
    search_fields = ["detail", "user__email", "review__title"]
    list_select_related = ["review", "user"]
    readonly_fields = ["review", "user", "reason", "detail", "created_at", "resolved_at"]

    def has_add_permission(self, request) -> bool:
        return False
