"""The authentication backend: ``django.contrib.auth.authenticate`` (and so the admin's
login and anything else that calls it) goes through the same lockout as the API."""

from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import PermissionDenied


class LockoutModelBackend(ModelBackend):
    """ModelBackend whose password check is ``users.services.credentials_verify``.

    A locked account or address raises PermissionDenied, which makes ``authenticate``
    stop and answer None (no other backend is asked). Sessions (``get_user``) and
    permissions stay ModelBackend's.
    """

    def authenticate(self, request, username=None, password=None, email=None, **kwargs):
        from users import services  # services import this app's models; load lazily
        from users.errors import InvalidCredentials, TooManyLoginAttempts

        email = email or username
        if not email or password is None:
            return None
        try:
            return services.credentials_verify(
                email=email, password=password, address=services.client_address(request)
            )
        except InvalidCredentials:
            return None
        except TooManyLoginAttempts as exc:
            raise PermissionDenied(exc.detail) from exc
