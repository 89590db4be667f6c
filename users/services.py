"""Writes of the users app: registration, login with failure throttling, password change
and reset, profile and address book. Each function owns its transaction."""

import logging
import secrets
from datetime import datetime

from django.conf import settings
from django.contrib.auth import authenticate, password_validation
from django.contrib.auth.signals import user_logged_in
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.encoding import force_bytes, force_str
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode

from nexus.exceptions import FieldError
from nexus.mail import email_send_on_commit
from users.errors import InvalidCredentials, TooManyLoginAttempts
from users.models import Address, LoginFailure, User
from users.tokens import tokens_for_user, tokens_revoke_all

logger = logging.getLogger("nexus.users")


# --------------------------------------------------------------------------- registration


def _validate_password(password: str, user: User, field: str) -> None:
    try:
        password_validation.validate_password(password, user)
    except DjangoValidationError as exc:
        raise FieldError(field, "password_too_weak", " ".join(exc.messages)) from exc


def _unique_username(base: str) -> str:
    base = (base or "user")[:120]
    candidate = base
    while User.objects.filter(username__iexact=candidate).exists():
        candidate = f"{base}-{secrets.token_hex(3)}"
    return candidate


def user_register(
    *,
    email: str,
    password: str,
    username: str | None = None,
    first_name: str = "",
    last_name: str = "",
) -> User:
    """Create a customer account.

    Raises FieldError for a taken email or username, or a weak password.
    """
    email = User.objects.normalize_email(email).lower()
    if User.objects.filter(email__iexact=email).exists():
        raise FieldError("email", "unique", "An account with this email already exists.")
    if username and User.objects.filter(username__iexact=username).exists():
        raise FieldError("username", "unique", "This username is taken.")
    user = User(
        email=email,
        username=username or _unique_username(email.split("@")[0]),
        first_name=first_name,
        last_name=last_name,
    )
    _validate_password(password, user, "password")
    user.set_password(password)
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError as exc:
        # Two registrations raced for the same email or username: the database decided.
        raise FieldError("email", "unique", "An account with this email already exists.") from exc
    return user


# --------------------------------------------------------------------------- login


def _failure_keys(email: str, address: str) -> list[tuple[str, int]]:
    return [
        (f"account:{email.lower()}", settings.NEXUS_LOGIN_MAX_FAILURES_PER_ACCOUNT),
        (f"address:{address}", settings.NEXUS_LOGIN_MAX_FAILURES_PER_ADDRESS),
    ]


def _login_check_lock(keys: list[str], now: datetime) -> None:
    locked = (
        LoginFailure.objects.filter(key__in=keys, locked_until__gt=now)
        .order_by("-locked_until")
        .values_list("locked_until", flat=True)
        .first()
    )
    if locked is not None:
        raise TooManyLoginAttempts(max(1, int((locked - now).total_seconds()) + 1))


@transaction.atomic
def _login_failure_record(key: str, limit: int, now: datetime) -> None:
    window = settings.NEXUS_LOGIN_FAILURE_WINDOW
    row, _ = LoginFailure.objects.select_for_update().get_or_create(
        key=key, defaults={"window_started_at": now}
    )
    if row.window_started_at <= now - window:
        row.failures = 0
        row.window_started_at = now
    row.failures += 1
    if row.failures >= limit:
        row.locked_until = now + window
        row.failures = 0
        row.window_started_at = now
    row.save()


def user_login(*, request, email: str, password: str, address: str) -> tuple[User, dict[str, str]]:
    """Check the credentials and issue a token pair.

    Failures are counted per account and per client address in the database (so the
    lockout survives a Redis outage); past the limit every attempt is refused with
    TooManyLoginAttempts (429) until the lock expires. Wrong credentials: InvalidCredentials.
    """
    now = timezone.now()
    keys = _failure_keys(email, address)
    _login_check_lock([key for key, _ in keys], now)
    user = authenticate(request, email=email.lower(), password=password)
    if user is None:
        for key, limit in keys:
            _login_failure_record(key, limit, now)
        raise InvalidCredentials()
    LoginFailure.objects.filter(key=keys[0][0]).delete()
    user_logged_in.send(sender=user.__class__, request=request, user=user)
    return user, tokens_for_user(user)


# --------------------------------------------------------------------------- passwords


def password_change(*, user: User, old_password: str, new_password: str) -> dict[str, str]:
    """Change the password, revoke every existing token, and return a fresh pair for this client."""
    if not user.check_password(old_password):
        raise FieldError("old_password", "invalid", "The current password is wrong.")
    _validate_password(new_password, user, "new_password")
    with transaction.atomic():
        user.set_password(new_password)
        user.save(update_fields=["password"])
        tokens_revoke_all(user=user)
    return tokens_for_user(user)


def password_reset_request(*, email: str) -> None:
    """Email a reset link if an active account has this email; silent otherwise."""
    user = User.objects.filter(email__iexact=email.strip(), is_active=True).first()
    if user is None:
        logger.info("password reset requested for an unknown email")
        return
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    link = f"{settings.NEXUS_PASSWORD_RESET_URL}?uid={uid}&token={token}"
    body = (
        f"Hello {user.first_name or user.username},\n\n"
        f"Someone asked to reset the password of your Nexus account. To choose a new one, "
        f"open this link (valid for {settings.PASSWORD_RESET_TIMEOUT // 3600} hours):\n\n{link}\n\n"
        f"uid: {uid}\ntoken: {token}\n\nIf it was not you, ignore this email.\n"
    )
    email_send_on_commit(subject="Reset your Nexus password", body=body, to=[user.email])


def password_reset_confirm(*, uid: str, token: str, new_password: str) -> None:
    """Set a new password from a reset link; every existing token of the user is revoked."""
    try:
        user_id = int(force_str(urlsafe_base64_decode(uid)))
    except (TypeError, ValueError, OverflowError, UnicodeDecodeError) as exc:
        raise FieldError("uid", "invalid", "This reset link is invalid or has expired.") from exc
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None or not default_token_generator.check_token(user, token):
        raise FieldError("token", "invalid", "This reset link is invalid or has expired.")
    _validate_password(new_password, user, "new_password")
    with transaction.atomic():
        user.set_password(new_password)
        user.save(update_fields=["password"])
        tokens_revoke_all(user=user)


# --------------------------------------------------------------------------- profile


def user_update_profile(*, user: User, data: dict) -> User:
    """Update the editable profile fields (never email, role or staff flags)."""
    editable = {"username", "first_name", "last_name", "phone_number"}
    changed = [field for field in data if field in editable]
    for field in changed:
        setattr(user, field, data[field])
    if "username" in changed and (
        User.objects.filter(username__iexact=user.username).exclude(pk=user.pk).exists()
    ):
        raise FieldError("username", "unique", "This username is taken.")
    try:
        with transaction.atomic():
            user.save(update_fields=changed or None)
    except IntegrityError as exc:
        raise FieldError("username", "unique", "This username is taken.") from exc
    return user


# --------------------------------------------------------------------------- addresses

_ADDRESS_FIELDS = (
    "full_name",
    "street",
    "street2",
    "city",
    "state",
    "postal_code",
    "country",
    "phone_number",
    "is_default_shipping",
    "is_default_billing",
)


def _clear_other_defaults(address: Address) -> None:
    others = Address.objects.filter(user_id=address.user_id).exclude(pk=address.pk)
    if address.is_default_shipping:
        others.filter(is_default_shipping=True).update(is_default_shipping=False)
    if address.is_default_billing:
        others.filter(is_default_billing=True).update(is_default_billing=False)


@transaction.atomic
def address_save(*, user: User, data: dict, address: Address | None = None) -> Address:
    """Create or update an address of ``user``.

    Making it a default takes that flag off the user's other addresses in the same
    transaction (the user row is locked so two concurrent changes queue). A user's first
    address becomes the default for both shipping and billing.
    """
    User.objects.select_for_update().filter(pk=user.pk).first()
    if address is None:
        address = Address(user=user)
        if not Address.objects.filter(user=user).exists():
            data = {"is_default_shipping": True, "is_default_billing": True, **data}
    for field in _ADDRESS_FIELDS:
        if field in data:
            setattr(address, field, data[field])
    _clear_other_defaults(address)
    address.save()
    return address


@transaction.atomic
def address_delete(*, address: Address) -> None:
    address.delete()
