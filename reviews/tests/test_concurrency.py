"""Races against a real PostgreSQL: concurrent posts, votes and reports through the API
with real threads. The product row lock and the unique constraints decide."""

import threading
from collections.abc import Callable
from decimal import Decimal

import pytest
from django.db import connections

from catalog.models import Product
from nexus.testing import client_for, requires_postgres
from reviews.choices import ReviewStatus
from reviews.models import Review, ReviewVote
from reviews.tests.factories import ProductFactory, ReviewFactory, purchase
from users.tests.factories import UserFactory

pytestmark = [requires_postgres, pytest.mark.django_db(transaction=True)]

REVIEWS = "/api/v1/reviews/"


def _race(calls: list[Callable[[], object]]) -> list[object]:
    """Run every call at the same moment in its own thread; their results, in order."""
    barrier = threading.Barrier(len(calls))
    results: list[object] = [None] * len(calls)

    def run(index: int, call: Callable[[], object]) -> None:
        try:
            barrier.wait()
            results[index] = call()
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=item) for item in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_concurrent_posts_by_one_user_give_one_201_and_409s():
    product = ProductFactory()
    user = UserFactory()
    purchase(user, product)
    clients = [client_for(user) for _ in range(4)]

    responses = _race(
        [
            lambda client=client: client.post(
                REVIEWS, {"product": product.pk, "rating": 4, "comment": "Race me."}
            )
            for client in clients
        ]
    )

    statuses = sorted(response.status_code for response in responses)
    assert statuses == [201, 409, 409, 409]
    assert {r.json()["code"] for r in responses if r.status_code == 409} == {"already_reviewed"}
    assert Review.objects.filter(user=user, product=product).count() == 1
    product.refresh_from_db()
    assert (product.average_rating, product.review_count) == (Decimal("4.00"), 1)


def test_concurrent_posts_by_many_users_all_count():
    product = ProductFactory()
    ratings = [5, 4, 3, 2, 1, 5]
    users = [UserFactory() for _ in ratings]
    for user in users:
        purchase(user, product)
    clients = [client_for(user) for user in users]

    responses = _race(
        [
            lambda client=client, rating=rating: client.post(
                REVIEWS, {"product": product.pk, "rating": rating, "comment": f"{rating} stars"}
            )
            for client, rating in zip(clients, ratings, strict=True)
        ]
    )

    assert [response.status_code for response in responses] == [201] * len(ratings)
    product = Product.objects.get(pk=product.pk)
    assert product.review_count == 6
    assert product.average_rating == Decimal("3.33")
    assert product.rating_histogram == {"1": 1, "2": 1, "3": 1, "4": 1, "5": 2}


def test_concurrent_edits_and_moderation_leave_consistent_aggregates():
    product = ProductFactory()
    reviews = [ReviewFactory(product=product, rating=3) for _ in range(4)]
    staff = client_for(UserFactory(is_staff=True))
    author_clients = [client_for(review.user) for review in reviews]

    calls = [
        lambda: staff.post(f"{REVIEWS}{reviews[0].pk}/moderate/", {"status": "rejected"}),
        lambda: author_clients[1].patch(f"{REVIEWS}{reviews[1].pk}/", {"rating": 5}),
        lambda: author_clients[2].delete(f"{REVIEWS}{reviews[2].pk}/"),
        lambda: author_clients[3].patch(f"{REVIEWS}{reviews[3].pk}/", {"rating": 1}),
    ]
    responses = _race(calls)

    assert [response.status_code for response in responses] == [200, 200, 204, 200]
    product = Product.objects.get(pk=product.pk)
    assert product.review_count == 2
    assert product.average_rating == Decimal("3.00")
    assert product.rating_histogram == {"1": 1, "2": 0, "3": 0, "4": 0, "5": 1}


def test_concurrent_votes_by_one_user_count_once_and_many_users_all_count():
    review = ReviewFactory()
    voter = UserFactory()
    others = [UserFactory() for _ in range(4)]
    url = f"{REVIEWS}{review.pk}/helpful/"

    voter_clients = [client_for(voter) for _ in range(3)]
    same = _race([lambda client=client: client.post(url) for client in voter_clients])
    assert sorted(response.status_code for response in same) == [200, 409, 409]

    other_clients = [client_for(user) for user in others]
    many = _race([lambda client=client: client.post(url) for client in other_clients])
    assert [response.status_code for response in many] == [200] * 4

    review.refresh_from_db()
    assert review.helpful_count == 5 == ReviewVote.objects.filter(review=review).count()


def test_concurrent_reports_hide_the_review_exactly_at_the_threshold(settings):
    settings.NEXUS_REVIEWS_REPORTS_TO_HIDE = 3
    product = ProductFactory()
    author = UserFactory()
    purchase(author, product)
    posted = client_for(author).post(
        REVIEWS, {"product": product.pk, "rating": 5, "comment": "Reported a lot."}
    )
    review_id = posted.json()["id"]
    url = f"{REVIEWS}{review_id}/report/"

    reporters = [client_for(UserFactory()) for _ in range(5)]

    responses = _race(
        [lambda client=client: client.post(url, {"reason": "spam"}) for client in reporters]
    )

    # The third report hides the review: later reporters either no longer see it (404) or
    # saw it before and are refused once they hold the lock (409 review_not_published).
    assert sum(response.status_code == 201 for response in responses) == 3
    late = {(r.status_code, r.json()["code"]) for r in responses if r.status_code != 201}
    assert late <= {(404, "not_found"), (409, "review_not_published")}
    review = Review.objects.get(pk=review_id)
    assert review.status == ReviewStatus.PENDING
    assert review.open_report_count == 3
    product.refresh_from_db()
    assert product.review_count == 0
