"""Django admin for reviews: filters and search work, and approve / reject / delete go
through the services (the product aggregates follow)."""

from decimal import Decimal

import pytest
from django.test import Client

from catalog.models import Product
from reviews.choices import ReviewStatus
from reviews.models import Review
from reviews.tests.factories import ProductFactory, ReviewFactory, ReviewReportFactory

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/reviews/review/"


@pytest.fixture
def admin_web(admin_user) -> Client:
    client = Client()
    client.force_login(admin_user)
    return client


def _counted(product) -> tuple[Decimal, int]:
    product = Product.objects.get(pk=product.pk)
    return product.average_rating, product.review_count


def test_admin_changelist_filters_and_search(admin_web):
    wanted = ReviewFactory(rating=5, status=ReviewStatus.PENDING, title="Needle in a haystack")
    ReviewFactory(rating=5)
    ReviewFactory(rating=1, status=ReviewStatus.PENDING)

    response = admin_web.get(CHANGELIST, {"status__exact": "pending", "rating__exact": "5"})
    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == [wanted]

    response = admin_web.get(CHANGELIST, {"q": "needle"})
    assert list(response.context["cl"].result_list) == [wanted]


def test_admin_change_page_shows_reports(admin_web):
    report = ReviewReportFactory(detail="Looks like an advert")
    response = admin_web.get(f"{CHANGELIST}{report.review.pk}/change/")
    assert response.status_code == 200
    assert b"Looks like an advert" in response.content


def test_admin_approve_and_reject_actions_use_the_service(admin_web, admin_user):
    product = ProductFactory()
    reviews = [ReviewFactory(product=product, rating=r, status="pending") for r in (4, 2)]
    ids = [str(review.pk) for review in reviews]

    response = admin_web.post(CHANGELIST, {"action": "approve", "_selected_action": ids})

    assert response.status_code == 302
    assert set(Review.objects.values_list("status", flat=True)) == {ReviewStatus.APPROVED}
    assert Review.objects.filter(moderated_by=admin_user).count() == 2
    assert _counted(product) == (Decimal("3.00"), 2)

    admin_web.post(CHANGELIST, {"action": "reject", "_selected_action": ids[:1]})
    assert _counted(product) == (Decimal("2.00"), 1)


def test_admin_delete_uses_the_service(admin_web):
    product = ProductFactory()
    keep = ReviewFactory(product=product, rating=5, status="pending")
    gone = ReviewFactory(product=product, rating=1, status="pending")
    admin_web.post(CHANGELIST, {"action": "approve", "_selected_action": [keep.pk, gone.pk]})
    assert _counted(product) == (Decimal("3.00"), 2)

    response = admin_web.post(
        CHANGELIST,
        {"action": "delete_selected", "_selected_action": [gone.pk], "post": "yes"},
    )

    assert response.status_code == 302
    assert list(Review.objects.all()) == [keep]
    assert _counted(product) == (Decimal("5.00"), 1)

    admin_web.post(f"{CHANGELIST}{keep.pk}/delete/", {"post": "yes"})
    assert _counted(product) == (Decimal("0.00"), 0)
