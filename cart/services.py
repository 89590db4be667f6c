"""Writes of the cart app."""

from django.db import transaction

from cart.models import Cart


@transaction.atomic
def cart_clear(*, cart: Cart) -> None:
    """Remove every line of ``cart`` (checkout and DELETE cart/)."""
    cart.items.all().delete()
    cart.save(update_fields=["updated_at"])
