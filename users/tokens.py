"""JWT issue, rotation and revocation on top of SimpleJWT.

Tokens carry ``ver`` (the user's ``token_version``): bumping it revokes every token of the
user at once. A refresh token is single-use: rotating it inserts its blacklist row, and
the unique constraint on that row lets exactly one of two concurrent refreshes win.

Tokens also carry ``sid``, the session: one per login, copied to every token rotated
from it. Presenting a refresh token that was already used is treated as theft (OAuth 2.0
Security BCP, refresh token reuse detection): the whole session is revoked, so the tokens
an attacker or the victim obtained from it stop working too (``RevokedSession``).
"""

import logging
import uuid
from datetime import UTC, datetime

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from rest_framework_simplejwt.exceptions import TokenBackendError, TokenError
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.state import token_backend
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from users.errors import InvalidToken
from users.models import RevokedAccessToken, RevokedSession, User

logger = logging.getLogger("nexus.users")

VERSION_CLAIM = "ver"
SESSION_CLAIM = "sid"


def tokens_for_user(user: User, *, session: str | None = None) -> dict[str, str]:
    """A fresh pair; ``session`` continues a login's session (rotation), else a new one."""
    refresh = RefreshToken.for_user(user)
    refresh[VERSION_CLAIM] = user.token_version
    refresh[SESSION_CLAIM] = session or uuid.uuid4().hex
    return {"access": str(refresh.access_token), "refresh": str(refresh)}


def _revoke_session(payload: dict) -> None:
    """End every token of the session ``payload`` belongs to (all of the user's tokens
    for a token issued before sessions existed)."""
    session = payload.get(SESSION_CLAIM)
    if not session:
        user = User.objects.filter(pk=payload.get("user_id")).first()
        if user is not None:
            tokens_revoke_all(user=user)
        return
    lifetime = settings.SIMPLE_JWT["REFRESH_TOKEN_LIFETIME"]
    RevokedSession.objects.get_or_create(
        sid=str(session)[:64], defaults={"expires_at": timezone.now() + lifetime}
    )
    logger.warning(
        "refresh token reused: session %s of user %s revoked", session, payload.get("user_id")
    )


def _reused_refresh_payload(raw: str) -> dict | None:
    """The claims of ``raw`` when it is a genuine, unexpired refresh token that was
    already used (blacklisted); None for anything else."""
    try:
        payload = token_backend.decode(raw, verify=True)  # signature and expiry
    except TokenBackendError:
        return None
    if payload.get(api_settings.TOKEN_TYPE_CLAIM) != "refresh":
        return None
    if not BlacklistedToken.objects.filter(token__jti=payload.get("jti")).exists():
        return None
    return payload


def _parse_refresh(raw: str) -> RefreshToken:
    try:
        token = RefreshToken(raw)
    except TokenError as exc:
        payload = _reused_refresh_payload(raw)
        if payload is not None:
            _revoke_session(payload)
        raise InvalidToken() from exc
    if RevokedSession.objects.filter(sid=str(token.get(SESSION_CLAIM, ""))).exists():
        raise InvalidToken()
    return token


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
        # Used concurrently: one of the two presenters is not the owner.
        _revoke_session(token.payload)
        raise InvalidToken()
    return tokens_for_user(user, session=token.get(SESSION_CLAIM))


@transaction.atomic
def session_revoke(*, user: User, raw_refresh: str, access_token: AccessToken | None) -> None:
    """Logout: blacklist the refresh token and deny the presented access token until it
    expires, both in one transaction. Raises InvalidToken for another user's token."""
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
    User.objects.filter(pk=user.pk).update(token_version=F("token_version") + 1)
    user.refresh_from_db(fields=["token_version"])


def revocations_prune(*, now: datetime | None = None) -> int:
    """Delete revocation rows whose tokens have expired anyway (revoked access tokens,
    revoked sessions); returns how many rows went."""
    now = now or timezone.now()
    access, _ = RevokedAccessToken.objects.filter(expires_at__lt=now).delete()
    sessions, _ = RevokedSession.objects.filter(expires_at__lt=now).delete()
    return access + sessions
