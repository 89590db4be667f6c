"""Issue 12, item 8: the review_create limit holds under concurrent posts (real threads,
PostgreSQL); DRF's cache throttle let 11 of 20 past a limit of 10."""

import pytest

from nexus.testing import client_for, requires_postgres, run_concurrently, statuses
from reviews.models import Review
from reviews.tests.factories import ProductFactory
from reviews.throttles import ReviewCreateRateThrottle
from users.tests.factories import UserFactory

pytestmark = [requires_postgres, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_concurrent_reviews_hold_the_hourly_limit(monkeypatch, settings):
    settings.NEXUS_REVIEWS_REQUIRE_PURCHASE = False
    monkeypatch.setattr(ReviewCreateRateThrottle, "THROTTLE_RATES", {"review_create": "10/hour"})
    user = UserFactory()
    products = ProductFactory.create_batch(20)

    def post(index: int):
        body = {"product": products[index].pk, "rating": 5, "comment": "Does what it says."}
        return client_for(user).post("/api/v1/reviews/", body)

    results = run_concurrently(post, 20)

    assert statuses(results) == [201] * 10 + [429] * 10
    assert Review.objects.filter(user=user).count() == 10
