"""App configuration for cart."""

from django.apps import AppConfig


class CartConfig(AppConfig):
    name = "cart"
