"""JWT issue, rotation and revocation on top of SimpleJWT.

Tokens carry ``ver`` (the user's ``token_version``): bumping it revokes every token of the
user at once. A refresh token is single-use: rotating it inserts its blacklist row, and
the unique constraint on that row lets exactly one of two concurrent refreshes win.
"""

from datetime import UTC, datetime

from django.db import IntegrityError, transaction
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from users.errors import InvalidToken
from users.models import RevokedAccessToken, User

VERSION_CLAIM = "ver"


def tokens_for_user(user: User) -> dict[str, str]:
    refresh = RefreshToken.for_user(user)
    refresh[VERSION_CLAIM] = user.token_version
    return {"access": str(refresh.access_token), "refresh": str(refresh)}


def _parse_refresh(raw: str) -> RefreshToken:
    try:
        return RefreshToken(raw)
    except TokenError as exc:
        raise InvalidToken() from exc


def _user_for(token: RefreshToken | AccessToken) -> User:
    user = User.objects.filter(pk=token.get("user_id"), is_active=True).first()
    if user is None or token.get(VERSION_CLAIM) != user.token_version:
        raise InvalidToken()
    return user


def _expiry(token: RefreshToken | AccessToken) -> datetime:
    return datetime.fromtimestamp(token["exp"], tz=UTC)


def _blacklist(token: RefreshToken, user: User) -> bool:
    """Blacklist ``token``; False when it already was (somebody else used it first)."""
    try:
        with transaction.atomic():
            outstanding, _ = OutstandingToken.objects.get_or_create(
                jti=token["jti"],
                defaults={"user": user, "token": str(token), "expires_at": _expiry(token)},
            )
            BlacklistedToken.objects.create(token=outstanding)
    except IntegrityError:
        return False
    return True


def refresh_rotate(*, raw_refresh: str) -> dict[str, str]:
    """Trade a refresh token for a new pair; the old one is dead. Raises InvalidToken."""
    token = _parse_refresh(raw_refresh)
    user = _user_for(token)
    if not _blacklist(token, user):
        raise InvalidToken()
    return tokens_for_user(user)


def session_revoke(*, user: User, raw_refresh: str, access_token: AccessToken | None) -> None:
    """Logout: blacklist the refresh token and deny the presented access token until it expires."""
    token = _parse_refresh(raw_refresh)
    if str(token.get("user_id")) != str(user.pk):
        raise InvalidToken("This refresh token does not belong to you.")
    _blacklist(token, user)
    if access_token is not None:
        RevokedAccessToken.objects.get_or_create(
            jti=access_token["jti"], defaults={"expires_at": _expiry(access_token)}
        )


def tokens_revoke_all(*, user: User) -> None:
    """Every token issued to ``user`` so far stops working."""
    from django.db.models import F

    User.objects.filter(pk=user.pk).update(token_version=F("token_version") + 1)
    user.refresh_from_db(fields=["token_version"])
