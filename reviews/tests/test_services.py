"""Rules of the review services: aggregates after every kind of change, the database
constraints behind them, and the content checks."""

from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from catalog.models import Product
from nexus.exceptions import FieldError
from orders.choices import OrderStatus
from reviews import services
from reviews.choices import HoldReason, ReviewStatus
from reviews.errors import (
    AlreadyReviewed,
    OwnReview,
    PurchaseRequired,
    ReviewNotFound,
    ReviewNotPublished,
)
from reviews.models import Review
from reviews.tests.factories import ProductFactory, ReviewFactory, purchase
from users.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _state(product) -> tuple[Decimal, int, dict]:
    product = Product.objects.get(pk=product.pk)
    return product.average_rating, product.review_count, product.rating_histogram


def _hist(*ratings: int) -> dict[str, int]:
    return {str(star): ratings.count(star) for star in range(1, 6)}


def _review(product, rating: int, **kwargs) -> Review:
    user = UserFactory()
    purchase(user, product)
    return services.review_create(
        user=user, product_id=product.pk, rating=rating, comment=f"Rated {rating}.", **kwargs
    )


@pytest.fixture
def product(db):
    return ProductFactory()


# --------------------------------------------------------------------------- aggregates


def test_aggregates_after_creates_round_half_up(product):
    for rating in (5, 5, 4):
        _review(product, rating)
    assert _state(product) == (Decimal("4.67"), 3, _hist(5, 5, 4))
    _review(product, 1)
    assert _state(product) == (Decimal("3.75"), 4, _hist(5, 5, 4, 1))


def test_aggregates_ignore_pending_reviews(settings, product):
    _review(product, 5)
    settings.NEXUS_REVIEWS_REQUIRE_MODERATION = True
    held = _review(product, 1)
    assert held.status == ReviewStatus.PENDING
    assert _state(product) == (Decimal("5.00"), 1, _hist(5))


def test_aggregates_after_edit(product):
    _review(product, 5)
    review = _review(product, 4)
    services.review_update(review=review, rating=2)
    assert _state(product) == (Decimal("3.50"), 2, _hist(5, 2))
    services.review_update(review=review, title="same rating")
    assert _state(product) == (Decimal("3.50"), 2, _hist(5, 2))


def test_aggregates_after_delete(product):
    keep = _review(product, 3)
    gone = _review(product, 5)
    services.review_delete(review=gone)
    assert _state(product) == (Decimal("3.00"), 1, _hist(3))
    services.review_delete(review=keep)
    assert _state(product) == (Decimal("0.00"), 0, _hist())


def test_aggregates_after_moderation(product):
    staff = UserFactory(is_staff=True)
    _review(product, 4)
    review = _review(product, 2)
    services.review_moderate(review=review, moderator=staff, status=ReviewStatus.REJECTED)
    assert _state(product) == (Decimal("4.00"), 1, _hist(4))
    services.review_moderate(review=review, moderator=staff, status=ReviewStatus.APPROVED)
    assert _state(product) == (Decimal("3.00"), 2, _hist(4, 2))


def test_aggregates_after_reports_hide(settings, product):
    settings.NEXUS_REVIEWS_REPORTS_TO_HIDE = 1
    _review(product, 1)
    review = _review(product, 5)
    services.review_report(review=review, user=UserFactory(), reason="spam")
    assert _state(product) == (Decimal("1.00"), 1, _hist(1))


def test_aggregates_are_per_product(product):
    other = ProductFactory()
    _review(product, 5)
    _review(other, 1)
    assert _state(product)[:2] == (Decimal("5.00"), 1)
    assert _state(other)[:2] == (Decimal("1.00"), 1)


def test_report_threshold_zero_never_hides(settings, product):
    settings.NEXUS_REVIEWS_REPORTS_TO_HIDE = 0
    review = _review(product, 5)
    for _ in range(4):
        services.review_report(review=review, user=UserFactory(), reason="spam")
    review.refresh_from_db()
    assert review.status == ReviewStatus.APPROVED
    assert review.open_report_count == 4


# --------------------------------------------------------------------------- rules


def test_review_create_refuses_cancelled_orders(product):
    user = UserFactory()
    purchase(user, product, status=OrderStatus.CANCELLED)
    with pytest.raises(PurchaseRequired):
        services.review_create(user=user, product_id=product.pk, rating=5, comment="x")


def test_review_create_refuses_second_review(product):
    review = _review(product, 5)
    with pytest.raises(AlreadyReviewed):
        services.review_create(user=review.user, product_id=product.pk, rating=1, comment="y")


@pytest.mark.parametrize("rating", [0, 6])
def test_review_create_service_checks_the_rating(product, rating):
    user = UserFactory()
    purchase(user, product)
    with pytest.raises(FieldError):
        services.review_create(user=user, product_id=product.pk, rating=rating, comment="x")


@pytest.mark.parametrize("rating", [0, 6, 100])
def test_database_refuses_ratings_outside_1_to_5(product, rating):
    with pytest.raises(IntegrityError), transaction.atomic():
        ReviewFactory(product=product, rating=rating)


def test_database_refuses_two_reviews_of_one_product_by_one_user(product):
    review = ReviewFactory(product=product)
    with pytest.raises(IntegrityError), transaction.atomic():
        ReviewFactory(product=product, user=review.user)


def test_database_refuses_unknown_status(product):
    with pytest.raises(IntegrityError), transaction.atomic():
        ReviewFactory(product=product, status="published")


def test_vote_and_report_refuse_own_and_unpublished_reviews(product):
    review = ReviewFactory(product=product, status=ReviewStatus.PENDING)
    with pytest.raises(OwnReview):
        services.review_vote_add(review=review, user=review.user)
    with pytest.raises(ReviewNotPublished):
        services.review_vote_add(review=review, user=UserFactory())
    with pytest.raises(ReviewNotPublished):
        services.review_report(review=review, user=UserFactory(), reason="spam")


def test_changes_to_a_review_deleted_meanwhile_are_404(product):
    review = ReviewFactory(product=product)
    Review.objects.filter(pk=review.pk).delete()
    with pytest.raises(ReviewNotFound):
        services.review_update(review=review, rating=1)
    with pytest.raises(ReviewNotFound):
        services.review_moderate(
            review=review, moderator=UserFactory(is_staff=True), status=ReviewStatus.REJECTED
        )


def test_edit_never_publishes_a_held_review(product):
    review = ReviewFactory(product=product, status=ReviewStatus.PENDING, hold_reason="reported")
    services.review_update(review=review, comment="Nicer words now.")
    review.refresh_from_db()
    assert review.status == ReviewStatus.PENDING
    assert review.hold_reason == HoldReason.REPORTED


def test_edit_refreshes_verified_purchase(settings, product):
    settings.NEXUS_REVIEWS_REQUIRE_PURCHASE = False
    user = UserFactory()
    review = services.review_create(user=user, product_id=product.pk, rating=4, comment="x")
    assert review.verified_purchase is False
    purchase(user, product)
    assert services.review_update(review=review, rating=5).verified_purchase is True


# --------------------------------------------------------------------------- content checks


def _hold(text: str, user=None, **kwargs) -> str:
    user = user or UserFactory()
    return services.review_content_hold_reason(
        user=user,
        title="",
        comment=text,
        fingerprint=services.comment_fingerprint(text),
        **kwargs,
    )


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("Plain words, no links at all.", ""),
        ("One link is fine: https://maker.example/manual", ""),
        ("https://a.example/x and https://b.example/y", HoldReason.LINKS),
        ("visit www.cheap-stuff.com or cheap-stuff.net", HoldReason.LINKS),
        ("HTTP://A.EXAMPLE/1 http://a.example/2 http://a.example/3", HoldReason.LINKS),
    ],
)
def test_content_check_links(text, reason):
    assert _hold(text) == reason


def test_content_check_link_limit_is_configurable(settings):
    settings.NEXUS_REVIEWS_MAX_LINKS = 0
    assert _hold("manual at https://maker.example/manual") == HoldReason.LINKS


def test_content_check_blocked_words(settings):
    settings.NEXUS_REVIEWS_BLOCKED_WORDS = ["CasinoBonus"]
    assert _hold("Get your casinobonus here") == HoldReason.BLOCKED_WORD
    assert _hold("Nothing to see") == ""


def test_content_check_duplicates_by_the_same_author_only(product):
    text = "This is exactly what I wanted for my kitchen."
    review = ReviewFactory(product=product, comment=text)
    Review.objects.filter(pk=review.pk).update(
        comment_fingerprint=services.comment_fingerprint(text)
    )

    assert _hold(text.upper(), user=review.user) == HoldReason.DUPLICATE
    assert _hold(text, user=UserFactory()) == ""
    assert _hold(text, user=review.user, exclude_pk=review.pk) == ""


def test_content_check_short_duplicates_are_allowed(settings, product):
    settings.NEXUS_REVIEWS_REQUIRE_PURCHASE = False
    user = UserFactory()
    for item in (product, ProductFactory()):
        review = services.review_create(
            user=user, product_id=item.pk, rating=5, comment="Great product!"
        )
        assert review.status == ReviewStatus.APPROVED
