"""Bearer authentication that also honours revocation (logout, logout-all, password change)
in the same single query that loads the user."""

from django.db.models import Exists
from django.utils.translation import gettext_lazy as _
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed, InvalidToken

from users.models import RevokedAccessToken, User
from users.tokens import VERSION_CLAIM


class NexusJWTAuthentication(JWTAuthentication):
    def get_user(self, validated_token):
        try:
            user_id = validated_token["user_id"]
        except KeyError as exc:
            raise InvalidToken(_("Token contained no recognizable user identification")) from exc
        user = (
            User.objects.filter(pk=user_id)
            .annotate(
                token_revoked=Exists(
                    RevokedAccessToken.objects.filter(jti=validated_token.get("jti", ""))
                )
            )
            .first()
        )
        if user is None or not user.is_active:
            raise AuthenticationFailed(_("User not found or inactive."), code="user_not_found")
        if user.token_revoked or validated_token.get(VERSION_CLAIM) != user.token_version:
            raise AuthenticationFailed(_("Token has been revoked."), code="token_not_valid")
        return user
