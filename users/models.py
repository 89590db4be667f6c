"""Users (email login, derived role), their address book, and the auth bookkeeping tables
(revoked access tokens, login failure counters)."""

import unicodedata

from django.contrib.auth.models import AbstractUser, UserManager
from django.core.validators import RegexValidator
from django.db import models
from django.db.models.functions import Lower

from users.choices import Role

phone_validator = RegexValidator(
    r"^\+?[0-9 ()\-]{6,20}$", "Enter a phone number: digits, spaces, +, -, ( )."
)


def email_key(email: str) -> str:
    """The one identity of an email address: NFKC-normalised, then case-folded.

    ``\\u017fara@x.test`` (long s) and ``SARA@x.test`` both become ``sara@x.test``, so
    they name one account. Every lookup by email and the unique constraint use this key,
    never ``iexact`` (PostgreSQL folds dotless ``\\u0131`` to ``I`` and Python does not:
    the database and the lockout disagreed on who an address was).
    """
    return unicodedata.normalize("NFKC", email.strip()).casefold()


class NexusUserManager(UserManager):
    """Email is the login; usernames are derived from it when not given."""

    use_in_migrations = True

    def _create_user(self, username, email, password, **extra_fields):
        if not email:
            raise ValueError("An email address is required.")
        email = self.normalize_email(email).lower()
        if not username:
            username = email
        user = super()._create_user(username, email, password, **extra_fields)
        from users.roles import staff_group_join

        staff_group_join(user)  # an account created as staff gets the staff role
        return user

    def create_user(self, email=None, password=None, username=None, **extra_fields):
        extra_fields.setdefault("is_staff", False)
        extra_fields.setdefault("is_superuser", False)
        return self._create_user(username, email, password, **extra_fields)

    def create_superuser(self, email=None, password=None, username=None, **extra_fields):
        extra_fields.setdefault("is_staff", True)
        extra_fields.setdefault("is_superuser", True)
        if not extra_fields["is_staff"] or not extra_fields["is_superuser"]:
            raise ValueError("A superuser must have is_staff=True and is_superuser=True.")
        return self._create_user(username, email, password, **extra_fields)

    def get_by_natural_key(self, username):
        return self.get(email_normalized=email_key(username or ""))


class User(AbstractUser):
    email = models.EmailField("email address", unique=True)
    # email_key(email): the identity lookups and the unique constraint use (save() sets it).
    email_normalized = models.CharField(max_length=254, unique=True, editable=False)
    phone_number = models.CharField(max_length=20, blank=True, validators=[phone_validator])
    # Bumped to revoke every token of the user at once (logout-all, password change/reset).
    token_version = models.PositiveIntegerField(default=0, editable=False)

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS = ["username"]

    objects = NexusUserManager()

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(Lower("email"), name="users_user_email_ci_unique"),
            models.UniqueConstraint(Lower("username"), name="users_user_username_ci_unique"),
        ]

    def save(self, *args, **kwargs):
        # Derived, never edited: kept in step with email on every save, including the
        # admin's forms and createsuperuser (update_fields naming email includes it too).
        self.email_normalized = email_key(self.email or "")
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "email" in update_fields:
            kwargs["update_fields"] = {*update_fields, "email_normalized"}
        super().save(*args, **kwargs)

    def __str__(self) -> str:
        return self.email

    @property
    def role(self) -> str:
        if self.is_superuser:
            return Role.ADMIN
        if self.is_staff:
            return Role.STAFF
        return Role.CUSTOMER

    @property
    def display_name(self) -> str:
        full = f"{self.first_name} {self.last_name[:1]}.".strip() if self.last_name else ""
        return full or self.first_name or self.username.split("@")[0]


# The postal fields of an address: what an order copies as its address snapshot.
ADDRESS_FIELDS = (
    "full_name",
    "street",
    "street2",
    "city",
    "state",
    "postal_code",
    "country",
    "phone_number",
)


class Address(models.Model):
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="addresses")
    full_name = models.CharField(max_length=150)
    street = models.CharField(max_length=255)
    street2 = models.CharField(max_length=255, blank=True)
    city = models.CharField(max_length=100)
    state = models.CharField(max_length=100, blank=True)
    postal_code = models.CharField(max_length=20)
    country = models.CharField(max_length=2, help_text="ISO 3166-1 alpha-2")
    phone_number = models.CharField(max_length=20, blank=True, validators=[phone_validator])
    is_default_shipping = models.BooleanField(default=False)
    is_default_billing = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-is_default_shipping", "-created_at", "-id"]
        verbose_name_plural = "addresses"
        constraints = [
            models.UniqueConstraint(
                fields=["user"],
                condition=models.Q(is_default_shipping=True),
                name="users_address_one_default_shipping",
            ),
            models.UniqueConstraint(
                fields=["user"],
                condition=models.Q(is_default_billing=True),
                name="users_address_one_default_billing",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.full_name}, {self.street}, {self.city} ({self.country})"


class RevokedAccessToken(models.Model):
    """Access tokens ended by logout before they expire (rows are useless after ``expires_at``)."""

    jti = models.CharField(max_length=64, unique=True)
    expires_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return self.jti


class RevokedSession(models.Model):
    """A login session (the ``sid`` claim every token rotated from one login shares) ended
    because one of its refresh tokens was used twice: every token of it is refused."""

    sid = models.CharField(max_length=64, unique=True)
    expires_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return self.sid


class LoginFailure(models.Model):
    """Login attempts counted per key in a window: ``account:<user id>`` for an existing
    account, ``email:<email key>`` for an unknown one, ``address:<ip>`` per client."""

    key = models.CharField(max_length=300, unique=True)
    failures = models.PositiveIntegerField(default=0)
    window_started_at = models.DateTimeField()
    locked_until = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.key}: {self.failures}"
