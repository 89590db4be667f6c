"""Idempotency-Key on checkout: replay, mismatch, in progress, released claims, scope per
user, abandoned claims, expiry and pruning."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from catalog.models import Product
from catalog.tests.factories import variant_set
from nexus.models import IdempotencyKey, IdempotencyStatus
from nexus.testing import problem_codes
from orders.models import Order
from orders.tests.factories import ADDRESS, ProductFactory, fill_cart

pytestmark = pytest.mark.django_db

ORDERS = "/api/v1/orders/"
BODY = {"shipping_address": ADDRESS, "payment_method": "card"}


def _post(client, key, body=BODY):
    return client.post(ORDERS, body, format="json", HTTP_IDEMPOTENCY_KEY=key)


def test_same_key_and_body_replays_the_first_response(user_client, user):
    product = ProductFactory(stock_quantity=5)
    fill_cart(user, (product, 2))

    first = _post(user_client, "k-1")
    assert first.status_code == 201, first.content
    assert "Idempotent-Replayed" not in first

    fill_cart(user, (product, 1))  # the cart has changed since: the retry must not re-run
    replay = _post(user_client, "k-1")

    assert replay.status_code == 201
    assert replay["Idempotent-Replayed"] == "true"
    assert replay.json() == first.json()
    assert Order.objects.count() == 1
    assert Product.objects.get(pk=product.pk).stock_quantity == 3
    row = IdempotencyKey.objects.get()
    assert (row.status, row.response_status) == (IdempotencyStatus.COMPLETED, 201)


def test_same_key_with_a_different_body_is_422(user_client, user):
    fill_cart(user, (ProductFactory(), 1))
    assert _post(user_client, "k-2").status_code == 201
    other_body = {**BODY, "payment_method": "paypal"}
    assert problem_codes(_post(user_client, "k-2", other_body)) == (
        422,
        "idempotency_key_mismatch",
    )
    assert Order.objects.count() == 1


def test_a_key_still_in_progress_is_409(user_client, user):
    fill_cart(user, (ProductFactory(), 1))
    first = _post(user_client, "k-3")
    IdempotencyKey.objects.update(status=IdempotencyStatus.IN_PROGRESS, locked_at=timezone.now())
    response = _post(user_client, "k-3")
    assert problem_codes(response) == (409, "idempotency_key_in_use")
    assert response["Retry-After"] == "1"
    assert first.status_code == 201 and Order.objects.count() == 1


def test_an_abandoned_claim_is_taken_over_after_the_lease(user_client, user, settings):
    # A worker died after claiming: its transaction rolled back, so no order exists.
    settings.NEXUS_IDEMPOTENCY_LEASE_SECONDS = 30
    fill_cart(user, (ProductFactory(), 1))
    _post(user_client, "k-4", {**BODY, "payment_method": "bogus"})  # 400: claim released
    assert not IdempotencyKey.objects.exists()
    response = _post(user_client, "k-4")
    assert response.status_code == 201
    # Simulate the crash: turn the row back into an old, unfinished claim and drop the order.
    IdempotencyKey.objects.update(
        status=IdempotencyStatus.IN_PROGRESS,
        locked_at=timezone.now() - timedelta(seconds=31),
        response_status=None,
        response_body=None,
    )
    Order.objects.all().delete()
    fill_cart(user, (ProductFactory(), 1))
    retried = _post(user_client, "k-4")
    assert retried.status_code == 201, retried.content
    assert Order.objects.count() == 1
    assert IdempotencyKey.objects.get().status == IdempotencyStatus.COMPLETED


def test_a_failed_checkout_releases_the_key_for_a_retry(user_client, user):
    assert problem_codes(_post(user_client, "k-5")) == (409, "cart_empty")
    assert not IdempotencyKey.objects.exists()
    product = ProductFactory(stock_quantity=1)
    fill_cart(user, (product, 2))
    assert problem_codes(_post(user_client, "k-5")) == (409, "out_of_stock")
    assert not IdempotencyKey.objects.exists()
    variant_set(product, stock_quantity=2)  # stock lives on variants
    response = _post(user_client, "k-5")
    assert response.status_code == 201
    assert _post(user_client, "k-5").json()["id"] == response.json()["id"]


def test_keys_are_scoped_to_the_user(user_client, other_client, user, other_user):
    fill_cart(user, (ProductFactory(), 1))
    fill_cart(other_user, (ProductFactory(), 1))
    mine = _post(user_client, "shared-key")
    theirs = _post(other_client, "shared-key")
    assert mine.status_code == theirs.status_code == 201
    assert mine.json()["id"] != theirs.json()["id"]
    assert IdempotencyKey.objects.count() == 2


@pytest.mark.parametrize("key", ["", "x" * 256, "caf\u00e9"])
def test_invalid_keys_are_400(user_client, user, key):
    fill_cart(user, (ProductFactory(), 1))
    response = user_client.post(
        ORDERS, BODY, format="json", headers={"Idempotency-Key": key.encode().decode("latin-1")}
    )
    assert problem_codes(response) == (400, "invalid_idempotency_key")
    assert not Order.objects.exists()


def test_without_a_key_every_post_is_a_new_attempt(user_client, user):
    fill_cart(user, (ProductFactory(), 1))
    assert user_client.post(ORDERS, BODY, format="json").status_code == 201
    assert problem_codes(user_client.post(ORDERS, BODY, format="json")) == (409, "cart_empty")
    assert not IdempotencyKey.objects.exists()


def test_an_expired_key_can_be_used_again(user_client, user):
    fill_cart(user, (ProductFactory(), 1))
    first = _post(user_client, "k-6")
    IdempotencyKey.objects.update(created_at=timezone.now() - timedelta(hours=25))
    fill_cart(user, (ProductFactory(), 1))
    second = _post(user_client, "k-6")
    assert second.status_code == 201 and "Idempotent-Replayed" not in second
    assert second.json()["id"] != first.json()["id"]


def test_prune_command_deletes_keys_older_than_a_day(user):
    now = timezone.now()
    old = IdempotencyKey.objects.create(
        user=user, key="old", request_hash="h", created_at=now - timedelta(hours=25)
    )
    fresh = IdempotencyKey.objects.create(
        user=user, key="fresh", request_hash="h", created_at=now - timedelta(hours=23)
    )
    out = StringIO()
    call_command("idempotency_prune", stdout=out)
    assert "Deleted 1" in out.getvalue()
    assert list(IdempotencyKey.objects.values_list("pk", flat=True)) == [fresh.pk]
    assert not IdempotencyKey.objects.filter(pk=old.pk).exists()
