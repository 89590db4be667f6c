"""Bearer authentication that also honours revocation (logout, logout-all, password change,
a session revoked for refresh-token reuse) in the same single query that loads the user."""

from functools import cache

from django.db import connection
from django.utils.translation import gettext_lazy as _
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed, InvalidToken

from users.models import RevokedAccessToken, RevokedSession, User
from users.tokens import SESSION_CLAIM, VERSION_CLAIM


@cache
def _user_sql() -> str:
    """The user row with two flags: is this access token revoked, is its session.

    Every signed-in request runs it, so it is written once instead of compiled by the
    ORM per request (building the same ``.annotate(Exists(...), Exists(...))`` queryset
    cost three times the round trip); ``User.objects.raw`` still converts the columns."""
    q = connection.ops.quote_name
    user, access, session = (
        q(model._meta.db_table) for model in (User, RevokedAccessToken, RevokedSession)
    )
    columns = ", ".join(f"{user}.{q(field.column)}" for field in User._meta.concrete_fields)
    # Identifiers from the models' metadata only; every value is a query parameter.
    return (
        f"SELECT {columns}, "  # noqa: S608
        f"EXISTS (SELECT 1 FROM {access} WHERE {access}.{q('jti')} = %s) AS token_revoked, "
        f"EXISTS (SELECT 1 FROM {session} WHERE {session}.{q('sid')} = %s) AS session_revoked "
        f"FROM {user} WHERE {user}.{q(User._meta.pk.column)} = %s"
    )


class NexusJWTAuthentication(JWTAuthentication):
    def get_user(self, validated_token):
        try:
            user_id = validated_token["user_id"]
        except KeyError as exc:
            raise InvalidToken(_("Token contained no recognizable user identification")) from exc
        try:
            user_id = int(user_id)
        except (TypeError, ValueError):
            user_id = None
        user = None
        if user_id is not None:
            params = [
                str(validated_token.get("jti", "")),
                str(validated_token.get(SESSION_CLAIM, "")),
                user_id,
            ]
            user = next(iter(User.objects.raw(_user_sql(), params)), None)
        if user is None or not user.is_active:
            raise AuthenticationFailed(_("User not found or inactive."), code="user_not_found")
        if (
            user.token_revoked
            or user.session_revoked
            or validated_token.get(VERSION_CLAIM) != user.token_version
        ):
            raise AuthenticationFailed(_("Token has been revoked."), code="token_not_valid")
        return user
