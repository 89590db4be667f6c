"""Domain errors of the users app, each with a stable code and HTTP status."""

from rest_framework import status

from nexus.exceptions import DomainError


class InvalidCredentials(DomainError):
    status_code = status.HTTP_401_UNAUTHORIZED
    code = "invalid_credentials"
    title = "Invalid credentials"
    default_detail = "The email or password is wrong."


class TooManyLoginAttempts(DomainError):
    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    code = "too_many_login_attempts"
    title = "Too many failed logins"
    default_detail = "Too many failed logins. Try again later."

    def __init__(self, retry_after: int):
        super().__init__(
            f"Too many failed logins. Try again in {retry_after} seconds.",
            extra={"retry_after": retry_after},
        )
        self.headers = {"Retry-After": str(retry_after)}


class InvalidToken(DomainError):
    status_code = status.HTTP_401_UNAUTHORIZED
    code = "token_not_valid"
    title = "Invalid token"
    default_detail = "The token is invalid, expired or revoked."
