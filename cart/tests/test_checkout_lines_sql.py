"""Issue 18: ``cart_lines_for_checkout``'s hand-written statement answers what its ORM
version (``_cart_lines_for_checkout_orm``) answers, by cart, by user and by guest token,
locked or not: the same lines in variant-id order, every concrete field of the line, its
variant and its product (values and types), the variant and product read with the line
(no query), and the same variant rows locked (PostgreSQL)."""

import pytest
from django.db import connection, transaction
from django.db.transaction import TransactionManagementError
from django.test.utils import CaptureQueriesContext

from cart.selectors import _cart_lines_for_checkout_orm, cart_lines_for_checkout
from cart.tests.factories import CartFactory, CartItemFactory, GuestCartFactory
from catalog.tests.factories import ProductFactory, ProductVariantFactory
from users.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _fields(instance) -> dict:
    return {
        field.attname: (value := getattr(instance, field.attname), type(value))
        for field in instance._meta.concrete_fields
    }


def _same(lines, orm_lines) -> None:
    assert [line.pk for line in lines] == [line.pk for line in orm_lines]
    for line, orm_line in zip(lines, orm_lines, strict=True):
        assert line._state.adding is False and line._state.db == orm_line._state.db
        with CaptureQueriesContext(connection) as queries:
            variant, product = line.variant, line.variant.product
        assert len(queries) == 0
        assert _fields(line) == _fields(orm_line)
        assert _fields(variant) == _fields(orm_line.variant)
        assert _fields(product) == _fields(orm_line.variant.product)


def test_checkout_lines_sql_answers_what_the_orm_answers():
    user = UserFactory()
    cart = CartFactory(user=user)
    with_options = ProductFactory(variants=False)
    large = ProductVariantFactory(product=with_options, options={"Size": "L"})
    small = ProductVariantFactory(product=with_options, options={"Size": "S"})
    plain = ProductFactory()
    plain.rating_histogram = {"5": 1}
    plain.save()
    for variant, quantity in ((small, 2), (large, 1)):
        CartItemFactory(cart=cart, variant=variant, quantity=quantity)
    CartItemFactory(cart=cart, product=plain, quantity=3)
    guest = GuestCartFactory()
    CartItemFactory(cart=guest, variant=large, quantity=5)
    UserFactory()  # no cart

    cases = [
        {"cart": cart},
        {"user": user},
        {"token": guest.token},
        {"cart": guest},
        {"user": UserFactory()},
        {"token": cart.token or "no-such-token"},
        {"token": "not a token!"},
        {},
    ]
    for kwargs in cases:
        for lock in (False, True):
            with transaction.atomic():
                lines = cart_lines_for_checkout(**kwargs, lock_variants=lock)
                orm = _cart_lines_for_checkout_orm(**kwargs, lock_variants=lock)
            _same(lines, orm)
    lines = cart_lines_for_checkout(user=user)
    assert [line.variant_id for line in lines] == sorted(line.variant_id for line in lines)
    assert len(lines) == 3


def test_locking_outside_a_transaction_is_refused_as_by_the_orm(transactional_db):
    user = UserFactory()
    CartItemFactory(cart=CartFactory(user=user), product=ProductFactory(), quantity=1)
    if not connection.features.has_select_for_update:
        pytest.skip("no row locks on this database")
    with pytest.raises(TransactionManagementError):
        _cart_lines_for_checkout_orm(user=user, lock_variants=True)
    with pytest.raises(TransactionManagementError):
        cart_lines_for_checkout(user=user, lock_variants=True)


@pytest.mark.django_db(transaction=True)
def test_the_lines_variants_are_locked(transactional_db):
    if connection.vendor != "postgresql":
        pytest.skip("row locks: PostgreSQL")
    import threading

    user = UserFactory()
    product = ProductFactory()
    CartItemFactory(cart=CartFactory(user=user), product=product, quantity=1)
    seen = {}

    def probe(variant_id):
        # Another connection (this thread's own), skipping rows someone holds locked.
        try:
            with connection.cursor() as cursor:
                for name, table, pk in (
                    ("variant", "catalog_productvariant", variant_id),
                    ("product", "catalog_product", product.pk),
                ):
                    cursor.execute(
                        f"SELECT id FROM {table} WHERE id = %s FOR UPDATE SKIP LOCKED",  # noqa: S608
                        [pk],
                    )
                    seen[name] = cursor.fetchall()
        finally:
            connection.close()

    with transaction.atomic():
        lines = cart_lines_for_checkout(user=user, lock_variants=True)
        thread = threading.Thread(target=probe, args=(lines[0].variant_id,))
        thread.start()
        thread.join(timeout=30)
    assert seen["variant"] == []  # held by our transaction
    assert seen["product"] == [(product.pk,)]  # products are read, not locked
