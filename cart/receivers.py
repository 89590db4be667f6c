"""Signal receivers of the cart app: a login that carries ``cart_token`` merges that guest
cart into the user's (the receiver only delegates to ``cart.services.cart_merge``)."""

from cart import services


def cart_merge_on_login(sender, request=None, user=None, **kwargs) -> None:
    data = getattr(request, "data", None)
    token = data.get("cart_token") if hasattr(data, "get") else None
    if user is not None and isinstance(token, str) and token:
        services.cart_merge(user=user, token=token)
