"""Input and output serializers of the users app."""

from django.contrib.auth.validators import UnicodeUsernameValidator
from rest_framework import serializers

from users.countries import validate_country_code
from users.models import ADDRESS_FIELDS, Address, User


class UserSerializer(serializers.ModelSerializer):
    role = serializers.CharField(read_only=True)

    class Meta:
        model = User
        fields = [
            "id",
            "email",
            "username",
            "first_name",
            "last_name",
            "phone_number",
            "role",
            "date_joined",
        ]
        read_only_fields = ["id", "email", "role", "date_joined"]
        # Uniqueness is checked case-insensitively by the service; the format rule stays.
        extra_kwargs = {"username": {"validators": [UnicodeUsernameValidator()]}}


class RegisterSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254)
    password = serializers.CharField(write_only=True, max_length=128, trim_whitespace=False)
    password_confirm = serializers.CharField(write_only=True, max_length=128, trim_whitespace=False)
    username = serializers.RegexField(
        r"^[\w.@+-]+\Z", max_length=150, required=False, allow_blank=True
    )
    first_name = serializers.CharField(max_length=150, required=False, allow_blank=True)
    last_name = serializers.CharField(max_length=150, required=False, allow_blank=True)

    def validate(self, attrs):
        if attrs["password"] != attrs["password_confirm"]:
            raise serializers.ValidationError(
                {"password_confirm": ["The two passwords do not match."]}, code="mismatch"
            )
        return attrs


class LoginSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254)
    password = serializers.CharField(max_length=128, trim_whitespace=False)
    cart_token = serializers.CharField(
        max_length=64,
        required=False,
        help_text="A guest cart token to merge into the user's cart on login.",
    )


class AuthResponseSerializer(serializers.Serializer):
    user = UserSerializer()
    access = serializers.CharField()
    refresh = serializers.CharField()


class TokenPairSerializer(serializers.Serializer):
    access = serializers.CharField()
    refresh = serializers.CharField()


class RefreshSerializer(serializers.Serializer):
    refresh = serializers.CharField(max_length=4096)


class PasswordChangeSerializer(serializers.Serializer):
    old_password = serializers.CharField(max_length=128, trim_whitespace=False)
    new_password = serializers.CharField(max_length=128, trim_whitespace=False)


class PasswordResetSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254)


class PasswordResetConfirmSerializer(serializers.Serializer):
    uid = serializers.CharField(max_length=64)
    token = serializers.CharField(max_length=128)
    new_password = serializers.CharField(max_length=128, trim_whitespace=False)


class AddressSerializer(serializers.ModelSerializer):
    class Meta:
        model = Address
        fields = ["id", *ADDRESS_FIELDS, "is_default_shipping", "is_default_billing"]
        read_only_fields = ["id"]

    def validate_country(self, value: str) -> str:
        return validate_country_code(value)
