"""``nexus.rawsql.update_where`` / ``delete_where``: the ORM's update and delete of plain
equalities, written once (issue 18); same rows changed, same values stored, on SQLite
and PostgreSQL alike."""

import uuid
from decimal import Decimal

import pytest
from django.db.models import signals
from django.utils import timezone

from cart.models import Cart, CartItem
from cart.tests.factories import CartFactory, CartItemFactory
from nexus.models import IdempotencyKey, IdempotencyStatus
from nexus.rawsql import delete_where, update_where
from orders.models import Order
from users.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _claim(user, key: str) -> IdempotencyKey:
    return IdempotencyKey.objects.create(
        user=user, key=key, request_hash="h" * 64, status=IdempotencyStatus.IN_PROGRESS
    )


def test_update_where_stores_what_the_orms_update_stores():
    user = UserFactory()
    ours, theirs = _claim(user, "ours"), _claim(user, "theirs")
    body = {"id": 7, "total": Decimal("12.50"), "at": timezone.now(), "lines": [{"q": 1}]}
    values = {
        "status": IdempotencyStatus.COMPLETED,
        "response_status": 201,
        "response_body": body,
    }
    where = {"status": IdempotencyStatus.IN_PROGRESS}
    written = update_where(
        IdempotencyKey, values, {**where, "id": ours.pk, "claim_token": ours.claim_token}
    )
    assert written == 1
    assert IdempotencyKey.objects.filter(pk=theirs.pk).update(**values) == 1
    stored = IdempotencyKey.objects.values("status", "response_status", "response_body")
    assert stored.get(pk=ours.pk) == stored.get(pk=theirs.pk)
    assert stored.get(pk=ours.pk)["response_body"]["total"] == "12.50"


def test_update_where_counts_no_row_when_a_condition_does_not_hold():
    user = UserFactory()
    claim = _claim(user, "k")
    taken_over = {"id": claim.pk, "claim_token": uuid.uuid4()}
    assert update_where(IdempotencyKey, {"response_status": 201}, taken_over) == 0
    claim.refresh_from_db()
    assert claim.response_status is None


def test_update_where_matches_a_foreign_key_by_id():
    user, other = UserFactory(), UserFactory()
    mine, theirs = CartFactory(user=user), CartFactory(user=other)
    later = timezone.now() + timezone.timedelta(days=1)
    assert update_where(Cart, {"updated_at": later}, {"user": user.pk}) == 1
    assert Cart.objects.get(pk=mine.pk).updated_at == later
    assert Cart.objects.get(pk=theirs.pk).updated_at < later


def test_update_where_refuses_none_in_a_condition():
    with pytest.raises(ValueError, match="isnull"):
        update_where(Cart, {"updated_at": timezone.now()}, {"user": None})


def test_delete_where_deletes_the_matching_rows_only():
    mine = CartFactory(user=UserFactory())
    theirs = CartFactory(user=UserFactory())
    for cart in (mine, mine, theirs):
        CartItemFactory(cart=cart)
    assert delete_where(CartItem, {"cart": mine.pk}) == 2
    assert list(CartItem.objects.values_list("cart_id", flat=True)) == [theirs.pk]


def test_delete_where_refuses_a_model_others_point_to():
    with pytest.raises(ValueError, match="related objects"):
        delete_where(Order, {"id": 1})


def test_delete_where_refuses_a_model_with_delete_receivers():
    def receiver(**kwargs):
        pass

    signals.post_delete.connect(receiver, sender=CartItem)
    try:
        with pytest.raises(ValueError, match="signal receivers"):
            delete_where(CartItem, {"cart": 1})
    finally:
        signals.post_delete.disconnect(receiver, sender=CartItem)
