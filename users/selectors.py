"""Reads of the users app: address snapshots, the copy of an address that an order keeps
forever (every field of ``ADDRESS_FIELDS`` as a string, blanks as "")."""

from typing import Any

from users.models import ADDRESS_FIELDS, Address


def address_snapshot(data: dict[str, Any]) -> dict[str, str]:
    """``data`` (an address given inline, or an address-book row's values) as a snapshot."""
    return {field: str(data.get(field) or "") for field in ADDRESS_FIELDS}


def address_book_snapshot(*, user, address_id: int) -> dict[str, str] | None:
    """A snapshot of ``user``'s address-book entry ``address_id``; None when it is not one
    of theirs (whether it belongs to someone else or does not exist)."""
    book = Address.objects.filter(user=user, pk=address_id).values(*ADDRESS_FIELDS).first()
    return None if book is None else address_snapshot(book)


def address_default_shipping_snapshot(*, user) -> dict[str, str] | None:
    """A snapshot of ``user``'s default shipping address, or None when none is set."""
    book = (
        Address.objects.filter(user=user, is_default_shipping=True).values(*ADDRESS_FIELDS).first()
    )
    return None if book is None else address_snapshot(book)
