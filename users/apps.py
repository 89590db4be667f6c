"""App configuration for users."""

from django.apps import AppConfig


class UsersConfig(AppConfig):
    name = "users"
    verbose_name = "Users and auth"

    def ready(self) -> None:
        from users import openapi  # noqa: F401  (registers the OpenAPI auth scheme)
