"""Writes of the users app: registration, login with failure throttling, password change
and reset, profile and address book. Each function owns its transaction."""

import logging
import secrets
from datetime import datetime

from django.conf import settings
from django.contrib.auth import password_validation
from django.contrib.auth.signals import user_logged_in
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.encoding import force_bytes, force_str
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode
from rest_framework.throttling import BaseThrottle

from nexus.exceptions import FieldError
from nexus.mail import email_message_send
from nexus.outbox import outbox_add
from users.errors import InvalidCredentials, TooManyLoginAttempts
from users.models import ADDRESS_FIELDS, Address, LoginFailure, User, email_key
from users.tokens import revocations_prune, tokens_for_user, tokens_revoke_all

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


def _registration_conflict(user: User, username_given: bool) -> FieldError | None:
    """After an IntegrityError: which unique rule the database enforced (None: neither)."""
    if User.objects.filter(email_normalized=email_key(user.email)).exists():
        return FieldError("email", "unique", "An account with this email already exists.")
    if username_given and User.objects.filter(username__iexact=user.username).exists():
        return FieldError("username", "unique", "This username is taken.")
    return None


def user_register(
    *,
    email: str,
    password: str,
    username: str | None = None,
    first_name: str = "",
    last_name: str = "",
) -> User:
    """Create a customer account.

    The unique constraints decide (``email_normalized``, ``lower(username)``), not a
    check before the slow password hash: of two concurrent registrations of ``sara@`` and
    ``\\u017fara@`` (one identity) exactly one is created. Raises FieldError (400
    ``validation_error``, field code ``unique``) for a taken email or username, or
    ``password_too_weak``.
    """
    email = User.objects.normalize_email(email).lower()
    user = User(
        email=email,
        username=username or _unique_username(email.split("@")[0]),
        first_name=first_name,
        last_name=last_name,
    )
    _validate_password(password, user, "password")
    user.set_password(password)
    for _ in range(3):
        try:
            with transaction.atomic():
                user.save()
            return user
        except IntegrityError as exc:
            conflict = _registration_conflict(user, username_given=bool(username))
            if conflict is not None:
                raise conflict from exc
            if username:  # a race already over: report the name as taken
                raise FieldError("username", "unique", "This username is taken.") from exc
            # A derived username collided with one created meanwhile: derive another.
            user.pk = None
            user.username = _unique_username(f"{email.split('@')[0][:110]}-{secrets.token_hex(3)}")
    raise FieldError("username", "unique", "This username is taken.")


# --------------------------------------------------------------------------- login


def client_address(request) -> str:
    """The client address the throttles and the lockout count by (NUM_PROXIES aware)."""
    if request is None:
        return "unknown"
    return BaseThrottle().get_ident(request) or "unknown"


def _attempt_keys(*, user: User | None, key: str, address: str) -> list[tuple[str, int]]:
    # The account counter is keyed on the matched account, so every spelling that finds
    # it (case, compatibility forms) shares one counter; unknown emails count by key.
    account = f"account:{user.pk}" if user is not None else f"email:{key}"[:300]
    return [
        (account, settings.NEXUS_LOGIN_MAX_FAILURES_PER_ACCOUNT),
        (f"address:{address}"[:300], settings.NEXUS_LOGIN_MAX_FAILURES_PER_ADDRESS),
    ]


@transaction.atomic
def _attempt_reserve(keys: list[tuple[str, int]], now: datetime) -> int | None:
    """Count one attempt on every key before the password is checked, or refuse.

    The rows are locked (in key order, so two logins never deadlock) and the counters
    compared and increased in one transaction: of 20 concurrent wrong passwords, exactly
    ``limit`` are checked. Returns the seconds to wait when refused, None when allowed.
    """
    window = settings.NEXUS_LOGIN_FAILURE_WINDOW
    names = [key for key, _ in keys]
    LoginFailure.objects.bulk_create(
        [LoginFailure(key=key, window_started_at=now) for key in names], ignore_conflicts=True
    )
    rows = {
        row.key: row
        for row in LoginFailure.objects.select_for_update().filter(key__in=names).order_by("key")
    }
    locked = [
        row.locked_until for row in rows.values() if row.locked_until and row.locked_until > now
    ]
    if locked:
        return max(1, int((max(locked) - now).total_seconds()) + 1)
    for key, limit in keys:
        row = rows[key]
        if row.window_started_at <= now - window:
            row.failures = 0
            row.window_started_at = now
        if row.failures >= limit:
            # ``limit`` attempts in this window already: lock (the refusal is committed).
            row.failures = 0
            row.window_started_at = now
            row.locked_until = now + window
            row.save(update_fields=["failures", "window_started_at", "locked_until"])
            return max(1, int(window.total_seconds()))
    for key, _ in keys:
        row = rows[key]
        row.failures += 1
        row.save(update_fields=["failures", "window_started_at"])
    return None


def _attempt_succeeded(keys: list[tuple[str, int]]) -> None:
    """A right password: the account starts over; the address gives its attempt back."""
    (account, _), (address, _) = keys
    LoginFailure.objects.filter(key=account).delete()
    LoginFailure.objects.filter(key=address, failures__gt=0).update(failures=F("failures") - 1)


def credentials_verify(*, email: str, password: str, address: str) -> User:
    """The one decision on an email and password: API login, the admin's login form and
    ``django.contrib.auth.authenticate`` (users.backends) all come here.

    Attempts are counted per account and per client address in the database (so the
    lockout survives a Redis outage) *before* the password is checked; past the limit
    every attempt, right or wrong, is refused with TooManyLoginAttempts (429) until the
    lock expires. Wrong email, wrong password or inactive account: InvalidCredentials.
    """
    key = email_key(email)
    user = User.objects.filter(email_normalized=key).first()
    keys = _attempt_keys(user=user, key=key, address=address)
    retry_after = _attempt_reserve(keys, timezone.now())
    if retry_after is not None:
        raise TooManyLoginAttempts(retry_after)
    if user is None:
        User().set_password(password)  # the same hashing work as for a real account
        raise InvalidCredentials()
    if not (user.check_password(password) and user.is_active):
        raise InvalidCredentials()
    _attempt_succeeded(keys)
    return user


def user_login(
    *, request, email: str, password: str, address: str, cart_token: str | None = None
) -> tuple[User, dict[str, str]]:
    """Check the credentials (``credentials_verify``) and issue a token pair.

    On success sends ``user_logged_in`` with the validated ``cart_token`` (the hook named in
    users/__init__.py).
    """
    user = credentials_verify(email=email, password=password, address=address)
    user_logged_in.send(sender=user.__class__, request=request, user=user, cart_token=cart_token)
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
    """Queue a reset email for ``email``; the same work whether or not an account has it.

    The request only writes an outbox row (the same insert for every address), so neither
    its answer nor its timing tells which emails have accounts; the worker looks the
    account up and sends the link only if it exists (``password_reset_email_deliver``).
    """
    with transaction.atomic():
        outbox_add(kind="password_reset", payload={"email": email.strip()})


def password_reset_email_deliver(message) -> dict:
    """Outbox handler of kind ``password_reset``: email the link to an active account."""
    email = message.payload["email"]
    user = User.objects.filter(email_normalized=email_key(email), is_active=True).first()
    if user is None:
        logger.info("password reset requested for an unknown email")
        return {"sent": False}
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    link = f"{settings.NEXUS_PASSWORD_RESET_URL}?uid={uid}&token={token}"
    body = (
        f"Hello {user.first_name or user.username},\n\n"
        f"Someone asked to reset the password of your Nexus account. To choose a new one, "
        f"open this link (valid for {settings.PASSWORD_RESET_TIMEOUT // 3600} hours):\n\n{link}\n\n"
        f"uid: {uid}\ntoken: {token}\n\nIf it was not you, ignore this email.\n"
    )
    result = email_message_send(
        message, subject="Reset your Nexus password", body=body, to=[user.email]
    )
    return {"sent": True, **result}


def password_reset_confirm(*, uid: str, token: str, new_password: str) -> None:
    """Set a new password from a reset link; every existing token of the user is revoked.

    Single-use under concurrency: the user row is locked and the token checked again on
    the locked row (the token is derived from the password hash, which the first
    confirm changes), so of concurrent confirms with one token exactly one succeeds.
    """
    error = FieldError("token", "invalid", "This reset link is invalid or has expired.")
    try:
        user_id = int(force_str(urlsafe_base64_decode(uid)))
    except (TypeError, ValueError, OverflowError, UnicodeDecodeError) as exc:
        raise FieldError("uid", "invalid", "This reset link is invalid or has expired.") from exc
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None or not default_token_generator.check_token(user, token):
        raise error
    _validate_password(new_password, user, "new_password")
    with transaction.atomic():
        user = User.objects.select_for_update().filter(pk=user_id, is_active=True).first()
        if user is None or not default_token_generator.check_token(user, token):
            raise error
        user.set_password(new_password)
        user.save(update_fields=["password"])
        tokens_revoke_all(user=user)


def demo_account_reset(*, user: User, password: str) -> User:
    """A demo account (``manage.py demo_accounts --reset``): a new password, active again,
    every earlier token revoked, and a staff account back in the staff group."""
    from users.roles import staff_group_join

    with transaction.atomic():
        user.set_password(password)
        user.is_active = True
        user.save(update_fields=["password", "is_active"])
        tokens_revoke_all(user=user)
        staff_group_join(user)
    return user


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

_ADDRESS_FIELDS = (*ADDRESS_FIELDS, "is_default_shipping", "is_default_billing")


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


# --------------------------------------------------------------------------- housekeeping


def auth_records_prune() -> tuple[int, int]:
    """Delete revocation rows whose tokens have expired anyway (revoked access tokens and
    sessions, ``users.tokens.revocations_prune``) and login-failure counters whose window
    and lockout are over. Returns both counts."""
    now = timezone.now()
    revoked = revocations_prune(now=now)
    failures, _ = (
        LoginFailure.objects.filter(window_started_at__lt=now - settings.NEXUS_LOGIN_FAILURE_WINDOW)
        .exclude(locked_until__gt=now)
        .delete()
    )
    return revoked, failures
