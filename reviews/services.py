"""Writes of the reviews app: post, edit, delete and moderate reviews, helpful votes and
reports. Each function owns its transaction.

Every change that can move a product's approved-review aggregates first locks the
product row (``SELECT ... FOR UPDATE`` on its primary key), so changes to the reviews of
one product run one after the other, then recomputes the aggregates with one query and
stores them through ``catalog.services.product_rating_set`` before committing: the
product's ``average_rating``, ``review_count`` and histogram are never stale.
"""

import hashlib
import re

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from catalog.services import product_lock, product_rating_set
from nexus.exceptions import FieldError
from orders.selectors import order_delivered_purchase_exists
from reviews import selectors
from reviews.choices import HoldReason, ReportReason, ReviewStatus
from reviews.errors import (
    AlreadyReported,
    AlreadyReviewed,
    AlreadyVoted,
    OwnReview,
    PurchaseRequired,
    ReviewNotFound,
    ReviewNotPublished,
    VoteNotFound,
)
from reviews.models import RATING_MAX, RATING_MIN, Review, ReviewReport, ReviewVote

# http(s) URLs, "www." hosts and bare domains with a common top-level domain.
_LINK_RE = re.compile(
    r"(?:https?://|www\.)\S+|\b[a-z0-9-]+\.(?:com|net|org|info|biz|io|co|ru|cn|xyz|top|shop)\b",
    re.IGNORECASE,
)


# --------------------------------------------------------------------------- settings


def _require_purchase() -> bool:
    return bool(settings.NEXUS_REVIEWS_REQUIRE_PURCHASE)


def _require_moderation() -> bool:
    return bool(settings.NEXUS_REVIEWS_REQUIRE_MODERATION)


def _reports_to_hide() -> int:
    return int(settings.NEXUS_REVIEWS_REPORTS_TO_HIDE)


def _max_links() -> int:
    return int(settings.NEXUS_REVIEWS_MAX_LINKS)


def _duplicate_min_length() -> int:
    return int(settings.NEXUS_REVIEWS_DUPLICATE_MIN_LENGTH)


def _blocked_words() -> list[str]:
    return [word.lower() for word in settings.NEXUS_REVIEWS_BLOCKED_WORDS]


# --------------------------------------------------------------------------- helpers


def _aggregates_refresh(*, product_id: int) -> None:
    product_rating_set(
        product_id=product_id, **selectors.product_rating_aggregate(product_id=product_id)
    )


def _review_lock(review: Review) -> Review:
    """The review's current row, locked (it may have changed since the caller read it)."""
    current = Review.objects.select_for_update().filter(pk=review.pk).first()
    if current is None:
        raise ReviewNotFound()
    return current


def comment_fingerprint(comment: str) -> str:
    """Hash of the comment with case and spacing normalised; empty for short comments,
    which are too common ("Great product!") to count as copy-paste."""
    normalised = " ".join(comment.lower().split())
    if len(normalised) < _duplicate_min_length():
        return ""
    return hashlib.sha256(normalised.encode()).hexdigest()


def review_content_hold_reason(
    *, user, title: str, comment: str, fingerprint: str, exclude_pk: int | None = None
) -> str:
    """Why this text must wait for staff (a HoldReason value), or "" when it may be published.

    Held: more links than ``NEXUS_REVIEWS_MAX_LINKS``; a word of
    ``NEXUS_REVIEWS_BLOCKED_WORDS``; the same comment as another review by the same author.
    """
    text = f"{title}\n{comment}"
    if len(_LINK_RE.findall(text)) > _max_links():
        return HoldReason.LINKS
    lowered = text.lower()
    if any(word and word in lowered for word in _blocked_words()):
        return HoldReason.BLOCKED_WORD
    if fingerprint:
        duplicates = Review.objects.filter(user=user, comment_fingerprint=fingerprint)
        if exclude_pk is not None:
            duplicates = duplicates.exclude(pk=exclude_pk)
        if duplicates.exists():
            return HoldReason.DUPLICATE
    return HoldReason.NONE


def _check_rating(rating: int) -> None:
    if not RATING_MIN <= rating <= RATING_MAX:
        raise FieldError("rating", "out_of_range", f"Rate from {RATING_MIN} to {RATING_MAX} stars.")


# --------------------------------------------------------------------------- reviews


@transaction.atomic
def review_create(*, user, product_id: int, rating: int, comment: str, title: str = "") -> Review:
    """Post the user's review of an active product.

    With ``NEXUS_REVIEWS_REQUIRE_PURCHASE`` (default on) only a user with a delivered order
    line for the product may review it (PurchaseRequired, 403); ``verified_purchase`` is
    set from the orders either way. One review per user and product (AlreadyReviewed,
    409, also when two posts race: the product lock queues them and the unique
    constraint is the last line of defence). The review is published at once unless the
    content checks hold it or ``NEXUS_REVIEWS_REQUIRE_MODERATION`` is on; it is then
    ``pending`` until staff decide.
    """
    _check_rating(rating)
    if not product_lock(product_id=product_id, active_only=True):
        raise FieldError("product", "does_not_exist", "No such product.")
    if Review.objects.filter(user=user, product_id=product_id).exists():
        raise AlreadyReviewed()
    verified = order_delivered_purchase_exists(user=user, product_id=product_id)
    if _require_purchase() and not verified:
        raise PurchaseRequired()
    fingerprint = comment_fingerprint(comment)
    hold = review_content_hold_reason(
        user=user, title=title, comment=comment, fingerprint=fingerprint
    )
    if not hold and _require_moderation():
        hold = HoldReason.MODERATION
    review = Review(
        user=user,
        product_id=product_id,
        rating=rating,
        title=title,
        comment=comment,
        comment_fingerprint=fingerprint,
        verified_purchase=verified,
        status=ReviewStatus.PENDING if hold else ReviewStatus.APPROVED,
        hold_reason=hold,
    )
    try:
        with transaction.atomic():
            review.save()
    except IntegrityError:
        if Review.objects.filter(user=user, product_id=product_id).exists():
            raise AlreadyReviewed() from None
        raise
    if review.status == ReviewStatus.APPROVED:
        _aggregates_refresh(product_id=product_id)
    return review


@transaction.atomic
def review_update(
    *,
    review: Review,
    rating: int | None = None,
    title: str | None = None,
    comment: str | None = None,
) -> Review:
    """Edit the author's review (the fields given; None leaves a field as it is).

    The content checks run again: a review that fails them goes back to ``pending``.
    Editing never publishes a review: a pending review stays pending, a rejected one
    goes back to ``pending`` for staff to look at again, and under
    ``NEXUS_REVIEWS_REQUIRE_MODERATION`` an approved review that is edited is held again.
    An approved review that passes the checks stays approved. The aggregates follow.
    """
    if rating is not None:
        _check_rating(rating)
    product_lock(product_id=review.product_id)
    review = _review_lock(review)
    if rating is not None:
        review.rating = rating
    if title is not None:
        review.title = title
    if comment is not None:
        review.comment = comment
    review.comment_fingerprint = comment_fingerprint(review.comment)
    review.verified_purchase = order_delivered_purchase_exists(
        user=review.user, product_id=review.product_id
    )
    hold = review_content_hold_reason(
        user=review.user,
        title=review.title,
        comment=review.comment,
        fingerprint=review.comment_fingerprint,
        exclude_pk=review.pk,
    )
    if hold:
        review.status, review.hold_reason = ReviewStatus.PENDING, hold
    elif review.status == ReviewStatus.REJECTED or (
        review.status == ReviewStatus.APPROVED and _require_moderation()
    ):
        review.status, review.hold_reason = ReviewStatus.PENDING, HoldReason.EDITED
    review.save()
    _aggregates_refresh(product_id=review.product_id)
    return review


@transaction.atomic
def review_delete(*, review: Review) -> None:
    """Delete a review (by its author or staff) with its votes and reports."""
    product_lock(product_id=review.product_id)
    Review.objects.filter(pk=review.pk).delete()
    _aggregates_refresh(product_id=review.product_id)


@transaction.atomic
def review_moderate(*, review: Review, moderator, status: str, reason: str = "") -> Review:
    """Staff decision: ``approved`` publishes the review, ``rejected`` hides it for good
    (until its author edits it). Any decision closes the review's open reports."""
    if status not in (ReviewStatus.APPROVED, ReviewStatus.REJECTED):
        raise FieldError("status", "invalid_choice", "Choose approved or rejected.")
    product_lock(product_id=review.product_id)
    review = _review_lock(review)
    now = timezone.now()
    review.status = status
    review.hold_reason = HoldReason.NONE
    review.moderated_by = moderator
    review.moderated_at = now
    review.moderation_reason = reason
    review.open_report_count = 0
    review.save()
    ReviewReport.objects.filter(review=review, resolved_at__isnull=True).update(resolved_at=now)
    _aggregates_refresh(product_id=review.product_id)
    return review


# --------------------------------------------------------------------------- votes


def _check_not_own_and_published(*, review: Review, user) -> None:
    if review.user_id == user.pk:
        raise OwnReview()
    if review.status != ReviewStatus.APPROVED:
        raise ReviewNotPublished()


@transaction.atomic
def review_vote_add(*, review: Review, user) -> Review:
    """Mark a published review as helpful: once per user (AlreadyVoted, 409), never one's
    own (OwnReview, 403). The counter moves by a conditional update, never in Python."""
    _check_not_own_and_published(review=review, user=user)
    try:
        with transaction.atomic():
            ReviewVote.objects.create(review=review, user=user)
    except IntegrityError:
        if not Review.objects.filter(pk=review.pk).exists():
            raise ReviewNotFound() from None
        raise AlreadyVoted() from None
    Review.objects.filter(pk=review.pk).update(helpful_count=F("helpful_count") + 1)
    review.refresh_from_db(fields=["helpful_count"])
    return review


@transaction.atomic
def review_vote_remove(*, review: Review, user) -> Review:
    """Take back one's helpful vote (VoteNotFound, 404, when there is none)."""
    deleted, _ = ReviewVote.objects.filter(review=review, user=user).delete()
    if not deleted:
        raise VoteNotFound()
    Review.objects.filter(pk=review.pk, helpful_count__gt=0).update(
        helpful_count=F("helpful_count") - 1
    )
    review.refresh_from_db(fields=["helpful_count"])
    return review


# --------------------------------------------------------------------------- reports


@transaction.atomic
def review_report(*, review: Review, user, reason: str, detail: str = "") -> ReviewReport:
    """Report a published review: once per user (AlreadyReported, 409), never one's own.

    When the review's open reports reach ``NEXUS_REVIEWS_REPORTS_TO_HIDE`` (default 3; 0
    turns hiding off) it goes back to ``pending`` until staff decide, and leaves the
    product's aggregates in the same transaction.
    """
    if reason not in ReportReason.values:
        raise FieldError("reason", "invalid_choice", "Not a valid reason.")
    _check_not_own_and_published(review=review, user=user)
    product_lock(product_id=review.product_id)
    review = _review_lock(review)
    if review.status != ReviewStatus.APPROVED:
        raise ReviewNotPublished()
    try:
        with transaction.atomic():
            report = ReviewReport.objects.create(
                review=review, user=user, reason=reason, detail=detail
            )
    except IntegrityError:
        raise AlreadyReported() from None
    review.open_report_count += 1
    threshold = _reports_to_hide()
    if threshold > 0 and review.open_report_count >= threshold:
        review.status, review.hold_reason = ReviewStatus.PENDING, HoldReason.REPORTED
    review.save(update_fields=["open_report_count", "status", "hold_reason"])
    if review.status != ReviewStatus.APPROVED:
        _aggregates_refresh(product_id=review.product_id)
    return report
