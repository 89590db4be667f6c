"""``nexus.rawsql.update_where``, ``delete_where`` and ``insert_new``: the ORM's update,
delete and create, written once (issue 18); same rows changed, same values stored, on
SQLite and PostgreSQL alike."""

import uuid
from decimal import Decimal

import pytest
from django.db.models import signals
from django.utils import timezone

from cart.models import Cart, CartItem
from cart.tests.factories import CartFactory, CartItemFactory
from nexus.models import IdempotencyKey, IdempotencyStatus, OutboxMessage
from nexus.rawsql import delete_where, insert_all, insert_new, update_where
from orders.models import Order
from users.models import User
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


def test_insert_new_stores_and_returns_what_create_does():
    user = UserFactory()
    ours = insert_new(IdempotencyKey, user=user, key="ours", request_hash="h" * 64)
    theirs = IdempotencyKey.objects.create(user=user, key="theirs", request_hash="h" * 64)
    assert ours.pk is not None and not ours._state.adding and ours._state.db == "default"
    assert ours.created_at is not None and ours.user == user
    stored = {row.pop("key"): row for row in IdempotencyKey.objects.values()}
    for row, instance in ((stored["ours"], ours), (stored["theirs"], theirs)):
        assert row.pop("id") == instance.pk
        assert row.pop("claim_token") == instance.claim_token
        assert row.pop("created_at") == instance.created_at
        row.pop("locked_at")
    assert stored["ours"] == stored["theirs"]


def test_insert_new_refuses_what_needs_the_orms_save():
    with pytest.raises(ValueError, match="save"):
        insert_new(User, username="u", email="u@example.com")
    with pytest.raises(ValueError, match="assigns the id"):
        insert_new(Cart, id=10**9, token="t")

    def receiver(**kwargs):
        pass

    signals.pre_save.connect(receiver, sender=CartItem)
    try:
        with pytest.raises(ValueError, match="signal receivers"):
            insert_new(CartItem, cart_id=1)
    finally:
        signals.pre_save.disconnect(receiver, sender=CartItem)


@pytest.mark.parametrize("rows", [1, 3, 80])
def test_insert_all_stores_and_returns_what_bulk_create_does(rows):
    """80 rows is past SQLite's parameter limit for this model: bulk_create's own path."""
    at = timezone.now()

    def batch(kind):
        return [
            OutboxMessage(kind=kind, payload={"n": n, "at": at.isoformat()}, max_attempts=n + 1)
            for n in range(rows)
        ]

    ours, theirs = insert_all(batch("ours")), OutboxMessage.objects.bulk_create(batch("theirs"))
    for batch_written in (ours, theirs):
        assert all(item.pk is not None and not item._state.adding for item in batch_written)
    stored = {row["id"]: row for row in OutboxMessage.objects.values()}
    assert len(stored) == 2 * rows

    def as_stored(batch_written):
        rows_stored = [dict(stored[item.pk]) for item in batch_written]
        for row, item in zip(rows_stored, batch_written, strict=True):
            assert row.pop("created_at") == item.created_at
            assert row.pop("next_attempt_at") == item.next_attempt_at
            del row["id"], row["kind"]
        return rows_stored

    assert as_stored(ours) == as_stored(theirs)
    assert [row["max_attempts"] for row in as_stored(ours)] == list(range(1, rows + 1))


def test_insert_all_refuses_mixed_models():
    with pytest.raises(ValueError, match="one model"):
        insert_all([OutboxMessage(kind="k", max_attempts=1), Cart(token="t")])
