"""App configuration for cart: connects the login receiver that merges guest carts."""

from django.apps import AppConfig


class CartConfig(AppConfig):
    name = "cart"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from cart.receivers import cart_merge_on_login

        user_logged_in.connect(cart_merge_on_login, dispatch_uid="cart_merge_on_login")
