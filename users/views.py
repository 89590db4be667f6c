"""Auth, profile and address-book endpoints (thin: validate, call a service, serialize)."""

from drf_spectacular.utils import extend_schema
from rest_framework import generics, status, viewsets
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView

from nexus.openapi import NO_BODY
from users import services, tokens
from users.models import Address
from users.serializers import (
    AddressSerializer,
    AuthResponseSerializer,
    LoginSerializer,
    PasswordChangeSerializer,
    PasswordResetConfirmSerializer,
    PasswordResetSerializer,
    RefreshSerializer,
    RegisterSerializer,
    TokenPairSerializer,
    UserSerializer,
)
from users.throttles import AuthRateThrottle, PasswordResetRateThrottle


def _auth_response(user, pair: dict[str, str], status_code: int) -> Response:
    return Response({"user": UserSerializer(user).data, **pair}, status=status_code)


class _PublicAuthView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [AuthRateThrottle]


class RegisterView(_PublicAuthView):
    @extend_schema(
        tags=["auth"], request=RegisterSerializer, responses={201: AuthResponseSerializer}
    )
    def post(self, request):
        serializer = RegisterSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        user = services.user_register(
            email=data["email"],
            password=data["password"],
            username=data.get("username") or None,
            first_name=data.get("first_name", ""),
            last_name=data.get("last_name", ""),
        )
        return _auth_response(user, tokens.tokens_for_user(user), status.HTTP_201_CREATED)


class LoginView(_PublicAuthView):
    @extend_schema(
        tags=["auth"],
        request=LoginSerializer,
        responses={200: AuthResponseSerializer},
        description="Email and password. Failures are limited per account and per address "
        "(429 `too_many_login_attempts` with Retry-After). `cart_token` merges a guest cart.",
    )
    def post(self, request):
        serializer = LoginSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user, pair = services.user_login(
            request=request,
            email=serializer.validated_data["email"],
            password=serializer.validated_data["password"],
            address=BaseThrottle().get_ident(request),
            cart_token=serializer.validated_data.get("cart_token"),
        )
        return _auth_response(user, pair, status.HTTP_200_OK)


class TokenRefreshView(_PublicAuthView):
    @extend_schema(tags=["auth"], request=RefreshSerializer, responses={200: TokenPairSerializer})
    def post(self, request):
        serializer = RefreshSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        pair = tokens.refresh_rotate(raw_refresh=serializer.validated_data["refresh"])
        return Response(pair)


class LogoutView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(tags=["auth"], request=RefreshSerializer, responses={204: NO_BODY})
    def post(self, request):
        serializer = RefreshSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        tokens.session_revoke(
            user=request.user,
            raw_refresh=serializer.validated_data["refresh"],
            access_token=request.auth,
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class LogoutAllView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(tags=["auth"], request=None, responses={204: NO_BODY})
    def post(self, request):
        tokens.tokens_revoke_all(user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class PasswordChangeView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        tags=["auth"],
        request=PasswordChangeSerializer,
        responses={200: TokenPairSerializer},
        description="Changes the password and revokes every token issued so far; the answer "
        "carries a fresh pair so this client stays signed in.",
    )
    def post(self, request):
        serializer = PasswordChangeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        pair = services.password_change(user=request.user, **serializer.validated_data)
        return Response(pair)


class PasswordResetView(_PublicAuthView):
    throttle_classes = [PasswordResetRateThrottle]

    @extend_schema(
        tags=["auth"],
        request=PasswordResetSerializer,
        responses={202: NO_BODY},
        description=(
            "Queue a reset email. Always 202 with no body, in the same time, whether or not "
            "an account has this email: the request only records the reset; a background "
            "worker sends the link to an existing active account."
        ),
    )
    def post(self, request):
        serializer = PasswordResetSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.password_reset_request(email=serializer.validated_data["email"])
        return Response(status=status.HTTP_202_ACCEPTED)


class PasswordResetConfirmView(_PublicAuthView):
    @extend_schema(tags=["auth"], request=PasswordResetConfirmSerializer, responses={204: NO_BODY})
    def post(self, request):
        serializer = PasswordResetConfirmSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.password_reset_confirm(**serializer.validated_data)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(tags=["users"])
class ProfileView(generics.RetrieveUpdateAPIView):
    serializer_class = UserSerializer
    permission_classes = [IsAuthenticated]

    def get_object(self):
        return self.request.user

    def perform_update(self, serializer):
        services.user_update_profile(user=self.request.user, data=serializer.validated_data)


@extend_schema(tags=["users"])
class AddressViewSet(viewsets.ModelViewSet):
    serializer_class = AddressSerializer
    permission_classes = [IsAuthenticated]
    http_method_names = ["get", "post", "put", "patch", "delete", "head", "options"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Address.objects.none()
        return Address.objects.filter(user=self.request.user)

    def perform_create(self, serializer):
        serializer.instance = services.address_save(
            user=self.request.user, data=serializer.validated_data
        )

    def perform_update(self, serializer):
        serializer.instance = services.address_save(
            user=self.request.user, data=serializer.validated_data, address=serializer.instance
        )

    def perform_destroy(self, instance):
        services.address_delete(address=instance)
