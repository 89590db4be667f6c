"""Signal receivers of the cart app: the login hook (``users/__init__.py``). A login whose
body carried ``cart_token`` merges that guest cart into the user's; the token arrives
validated by ``LoginSerializer`` as the ``cart_token`` signal argument, and the receiver
only delegates to ``cart.services.cart_merge``."""

from cart import services


def cart_merge_on_login(sender, user=None, cart_token: str | None = None, **kwargs) -> None:
    # Other logins (the Django admin) send user_logged_in without a cart_token.
    if user is not None and cart_token:
        services.cart_merge(user=user, token=cart_token)
