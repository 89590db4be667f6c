"""Review endpoints: the public list, posting (throttled, idempotent), editing and deleting
one's own review, helpful votes, reports, and staff moderation. Thin: validate, call a
service or selector, serialize."""

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response

from nexus.idempotency import IDEMPOTENCY_KEY_PARAMETER, idempotency_is_replay, idempotent
from nexus.openapi import NO_BODY
from nexus.permissions import IsStaff
from reviews import selectors, services
from reviews.filters import ReviewFilter
from reviews.models import Review
from reviews.serializers import (
    ReviewCreateSerializer,
    ReviewModerateSerializer,
    ReviewReportCreateSerializer,
    ReviewReportSerializer,
    ReviewSerializer,
    ReviewUpdateSerializer,
)
from reviews.throttles import ReviewCreateRateThrottle


@extend_schema_view(
    list=extend_schema(
        description="Approved reviews of active products, newest first. A signed-in caller "
        "also sees their own reviews in any state (with `status`); staff see every review "
        "and filter the moderation queue with `status=pending`. `author` is a display "
        "name, never an email."
    ),
    retrieve=extend_schema(
        description="One review, with the same visibility as the list (anything else is a 404)."
    ),
)
@extend_schema(tags=["reviews"])
class ReviewViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = ReviewSerializer
    filterset_class = ReviewFilter
    http_method_names = ["get", "post", "put", "patch", "delete", "head", "options"]
    problem_statuses = {
        "create": {409, 422},
        "helpful": {409},
        "report": {409},
    }

    def get_permissions(self):
        if self.action in ("list", "retrieve"):
            return [AllowAny()]
        if self.action == "moderate":
            return [IsAuthenticated(), IsStaff()]
        return [IsAuthenticated()]

    def get_throttles(self):
        throttles = super().get_throttles()
        if self.action == "create" and not idempotency_is_replay(self.request):
            throttles.append(ReviewCreateRateThrottle())
        return throttles

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Review.objects.none()
        user = self.request.user
        if self.action in ("update", "partial_update"):
            return selectors.review_own_list(user=user)
        if self.action == "destroy":
            return selectors.review_deletable_list(user=user)
        return selectors.review_visible_list(user=user)

    def filter_queryset(self, queryset):
        if self.action != "list":
            return queryset
        return super().filter_queryset(queryset)

    def _review_response(self, review: Review, status_code: int = status.HTTP_200_OK) -> Response:
        review = selectors.review_visible_list(user=self.request.user).filter(pk=review.pk).first()
        if review is None:  # deleted or hidden by a concurrent request
            raise NotFound()
        context = self.get_serializer_context()
        return Response(ReviewSerializer(review, context=context).data, status=status_code)

    @extend_schema(
        request=ReviewCreateSerializer,
        responses={201: ReviewSerializer},
        parameters=[IDEMPOTENCY_KEY_PARAMETER],
        description="Posts the caller's review of a product: one per user and product (409 "
        "`already_reviewed`, also when two posts race). While `NEXUS_REVIEWS_REQUIRE_PURCHASE` "
        "is on (the default) only a customer with a delivered order of the product may "
        "review it (403 `purchase_required`); `verified_purchase` says whether they did. "
        "The review is published (`approved`) at once unless it is held for staff "
        "(`pending`): too many links, the same text as another of the author's reviews, "
        "a blocked word, or `NEXUS_REVIEWS_REQUIRE_MODERATION` on. Throttled per user "
        "(scope `review_create`).",
    )
    @idempotent
    def create(self, request):
        serializer = ReviewCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        review = services.review_create(
            user=request.user,
            product_id=data["product"].pk,
            rating=data["rating"],
            title=data["title"],
            comment=data["comment"],
        )
        return self._review_response(review, status.HTTP_201_CREATED)

    def _update(self, request, *, partial: bool) -> Response:
        review = self.get_object()
        serializer = ReviewUpdateSerializer(data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        review = services.review_update(review=review, **serializer.validated_data)
        return self._review_response(review)

    @extend_schema(
        request=ReviewUpdateSerializer,
        responses={200: ReviewSerializer},
        description="The author edits their review (anyone else: 404). The content checks "
        "run again. Editing never publishes a review: an approved review that passes the "
        "checks stays approved (unless `NEXUS_REVIEWS_REQUIRE_MODERATION` is on, then it "
        "waits for staff again), a pending one stays pending and a rejected one goes back "
        "to pending for staff.",
    )
    def update(self, request, pk=None):
        return self._update(request, partial=False)

    @extend_schema(
        request=ReviewUpdateSerializer(partial=True),
        responses={200: ReviewSerializer},
        description="As PUT, with any subset of the fields.",
    )
    def partial_update(self, request, pk=None):
        return self._update(request, partial=True)

    @extend_schema(
        responses={204: NO_BODY},
        description="The author deletes their review; staff may delete any review. "
        "Anyone else: 404.",
    )
    def destroy(self, request, pk=None):
        services.review_delete(review=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        methods=["POST"],
        request=None,
        responses={200: ReviewSerializer},
        description="Marks a published review as helpful: once per user (409 "
        "`already_voted`), never one's own (403 `own_review`); a review that is not "
        "approved: 409 `review_not_published`. Answers the review with its new "
        "`helpful_count`.",
    )
    @extend_schema(
        methods=["DELETE"],
        request=None,
        responses={200: ReviewSerializer},
        description="Takes the caller's helpful vote back (404 `vote_not_found` if none).",
    )
    @action(detail=True, methods=["post", "delete"], serializer_class=None)
    def helpful(self, request, pk=None):
        review = self.get_object()
        if request.method == "DELETE":
            review = services.review_vote_remove(review=review, user=request.user)
        else:
            review = services.review_vote_add(review=review, user=request.user)
        return self._review_response(review)

    @extend_schema(
        request=ReviewReportCreateSerializer,
        responses={201: ReviewReportSerializer},
        description="Reports a published review to staff: once per user (409 "
        "`already_reported`), never one's own (403 `own_review`). When "
        "`NEXUS_REVIEWS_REPORTS_TO_HIDE` users (default 3) have reported it, the review is "
        "hidden (back to `pending`) until staff decide.",
    )
    @action(detail=True, methods=["post"], serializer_class=ReviewReportCreateSerializer)
    def report(self, request, pk=None):
        review = self.get_object()
        serializer = ReviewReportCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        report = services.review_report(
            review=review, user=request.user, **serializer.validated_data
        )
        return Response(ReviewReportSerializer(report).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=ReviewModerateSerializer,
        responses={200: ReviewSerializer},
        description="Staff only (403 for anyone else, whatever the id): `approved` "
        "publishes the review, `rejected` hides it. Either closes its open reports. The "
        "product's rating aggregates change in the same transaction.",
    )
    @action(detail=True, methods=["post"], serializer_class=ReviewModerateSerializer)
    def moderate(self, request, pk=None):
        review = self.get_object()
        serializer = ReviewModerateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        review = services.review_moderate(
            review=review, moderator=request.user, **serializer.validated_data
        )
        return self._review_response(review)
