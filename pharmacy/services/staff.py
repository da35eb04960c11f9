"""Staff accounts and how they sign in: the role groups kept in step with
``ROLE_PERMISSIONS``, creating a staff member, their API tokens, and their second sign-in
factor (an authenticator app and recovery codes)."""

import secrets
import time
from binascii import unhexlify
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import Group, Permission
from django.contrib.auth.password_validation import validate_password
from django.db import transaction
from django.utils import timezone
from django_otp.models import Device
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice, default_key

from pharmacy.models import ApiToken, AuditEvent, Role, User, hash_api_key
from pharmacy.roles import ROLE_PERMISSIONS
from pharmacy.services.audit import record_audit_event


class StaffError(ValueError):
    """A staff account cannot be created or changed as asked; the message says why."""


def sync_role_groups() -> None:
    """Make the role groups carry exactly the permissions of ``ROLE_PERMISSIONS``.

    Raises LookupError when a listed permission does not exist (a typo in the table).
    """
    with transaction.atomic():
        for role, names in ROLE_PERMISSIONS.items():
            group, _ = Group.objects.get_or_create(name=role)
            permissions = []
            for name in names:
                app_label, codename = name.split(".")
                try:
                    permissions.append(
                        Permission.objects.get(content_type__app_label=app_label, codename=codename)
                    )
                except Permission.DoesNotExist:
                    raise LookupError(f"permission {name} of role {role} does not exist") from None
            group.permissions.set(permissions)


def create_staff(
    username: str,
    *,
    role: str,
    password: str,
    first_name: str = "",
    last_name: str = "",
    email: str = "",
    license_number: str = "",
    license_state: str = "",
) -> User:
    """Create a staff member in one role. Raises StaffError on a taken name, unknown role
    or a password the validators refuse; nothing is written then."""
    if role not in Role.values:
        raise StaffError(f"Unknown role {role!r}; choose one of {', '.join(Role.values)}.")
    if not username or User.objects.filter(username__iexact=username).exists():
        raise StaffError(f"The username {username!r} is empty or already taken.")
    if license_state and len(license_state) != 2:
        raise StaffError("The license state is the two-letter state code.")
    user = User(
        username=username,
        first_name=first_name,
        last_name=last_name,
        email=email,
        license_number=license_number,
        license_state=license_state.upper(),
    )
    try:
        validate_password(password, user)
    except Exception as error:  # django's ValidationError carries a list of messages
        raise StaffError(" ".join(getattr(error, "messages", [str(error)]))) from None
    user.set_password(password)
    with transaction.atomic():
        sync_role_groups()
        user.save()
        user.groups.set([Group.objects.get(name=role)])
    return user


def _check_manager(by: User | None, what: str) -> None:
    """Refuse a staff action to someone who may not manage staff (None: the command line,
    run by whoever runs the servers)."""
    if by is not None and not by.has_perm("pharmacy.manage_staff"):
        raise StaffError(f"Only a manager can {what}.")


# --------------------------------------------------------------------------- API tokens

# The longest life a token may be given: an integration is re-keyed at least this often.
API_TOKEN_MAX_DAYS = 3650


def create_api_token(
    user: User, *, by: User | None = None, name: str = "", days: int | None = None
) -> ApiToken:
    """Issue a new API token to ``user``, beside any they hold, expiring after ``days``
    (``API_TOKEN_DAYS`` by default). ``by`` is the manager who issued it (None: the
    command line). Writes an audit row.

    The returned token carries the key in ``.key``, on this object only: the database
    keeps its hash, so it can never be shown again. Raises StaffError for an inactive
    user, a number of days out of range, or a ``by`` who may not manage staff; nothing is
    written then. (A token of someone
    without a role authenticates and is refused everything.)
    """
    _check_manager(by, "issue API tokens")
    days = settings.API_TOKEN_DAYS if days is None else days
    if not 1 <= days <= API_TOKEN_MAX_DAYS:
        raise StaffError(f"A token lasts from 1 to {API_TOKEN_MAX_DAYS} days, not {days}.")
    if not user.is_active:
        raise StaffError(f"{user.username} is disabled; an API token would not work.")
    name = name.strip()
    if len(name) > ApiToken._meta.get_field("name").max_length:
        raise StaffError("A token's name is at most 100 characters.")
    # 30 random bytes, URL-safe: 40 characters a shell and an HTTP header take as they are.
    key = secrets.token_urlsafe(30)
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=user,
            name=name,
            prefix=key[:8],
            key_hash=hash_api_key(key),
            expires_at=timezone.now() + timedelta(days=days),
        )
        record_audit_event(
            actor=by,
            username="command line",
            action=AuditEvent.Action.CREATE,
            obj=token,
            summary=f"API token {token.prefix}… {name!r} for {user.username}, expires "
            f"{timezone.localdate(token.expires_at).isoformat()}",
        )
    token.key = key
    return token


def revoke_api_token(token: ApiToken, *, by: User | None) -> ApiToken:
    """Stop ``token`` working from now on; ``by`` is the manager (None: the command line).
    Writes an audit row. Locks the token's row. Raises StaffError when it was revoked
    already or ``by`` may not manage staff (nothing is written then); an expired token may
    still be revoked, to say so."""
    _check_manager(by, "revoke API tokens")
    with transaction.atomic():
        token = ApiToken.objects.select_for_update().select_related("user").get(pk=token.pk)
        if token.revoked_at is not None:
            raise StaffError(
                f"The token {token.prefix}… was revoked already, on "
                f"{timezone.localdate(token.revoked_at).isoformat()}."
            )
        token.revoked_at = timezone.now()
        token.revoked_by = by
        token.save(update_fields=["revoked_at", "revoked_by"])
        record_audit_event(
            actor=by,
            username="command line",
            action=AuditEvent.Action.UPDATE,
            obj=token,
            summary=f"API token {token.prefix}… {token.name!r} of {token.user.username} revoked",
        )
    return token


# --------------------------------------------------------------------------- second factor


class SecondFactorError(ValueError):
    """A code that does not pass, or a second factor that cannot be set up; the message
    says why in words for the person signing in."""


def has_authenticator(user: User) -> bool:
    """Whether ``user`` has set up an authenticator app (a confirmed TOTP device)."""
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def new_authenticator_key() -> str:
    """A fresh TOTP secret (hex, 20 bytes as RFC 6238 recommends for SHA-1) for setup."""
    return default_key()


def enroll_authenticator(user: User, *, key: str, code: str) -> tuple[TOTPDevice, list[str]]:
    """Set up ``user``'s authenticator app: ``key`` is the secret they added to it (hex, as
    ``new_authenticator_key`` makes it) and ``code`` the code it shows now, proof that
    they did. Gives them ``MFA_RECOVERY_CODES`` new single-use recovery codes, replacing
    any they had, and returns the device and the codes (to be shown once). Writes an
    audit row. Locks the user's row, so two setups at once make one device.

    Raises SecondFactorError when the code does not match the key or the person has an
    app already (a second one is added only after a manager's reset); nothing is
    written then.
    """
    with transaction.atomic():
        User.objects.select_for_update().filter(pk=user.pk).first()
        if has_authenticator(user):
            raise SecondFactorError(
                "You have set up an authenticator app already; sign in with its code."
            )
        device = TOTPDevice(user=user, name="Authenticator app", key=key, confirmed=True)
        totp = TOTP(unhexlify(key), device.step, device.t0, device.digits)
        totp.time = time.time()
        code = _normalize_code(code)
        if not (code.isdigit() and totp.verify(int(code), device.tolerance)):
            raise SecondFactorError(
                "That code does not match. Check that the app shows this pharmacy's entry "
                "and enter the code it shows now."
            )
        # The code just used may not pass the sign-in step again; a phone's clock a step
        # off is remembered, as django-otp does at each sign-in.
        device.last_t, device.drift = totp.t(), totp.drift
        device.save()
        TOTPDevice.objects.filter(user=user, confirmed=False).delete()
        StaticDevice.objects.filter(user=user).delete()
        recovery = StaticDevice.objects.create(user=user, name="Recovery codes")
        codes = [StaticToken.random_token() for _ in range(settings.MFA_RECOVERY_CODES)]
        StaticToken.objects.bulk_create(StaticToken(device=recovery, token=c) for c in codes)
        record_audit_event(
            actor=user,
            action=AuditEvent.Action.CREATE,
            obj=device,
            summary=f"Set up an authenticator app and {len(codes)} recovery codes",
        )
    return device, codes


def _normalize_code(code: str) -> str:
    return "".join(code.split()).replace("-", "").lower()


def verify_second_factor(user: User, *, code: str) -> Device:
    """The device of ``user`` that ``code`` passes: their authenticator app for six
    digits, else their recovery codes (a recovery code passes once, then it is gone).

    Raises SecondFactorError for an empty or wrong code, or while the device makes the
    person wait after wrong codes (django-otp's throttle: 1, 2, 4, 8... seconds after each
    wrong code in a row). A wrong code is recorded on the device (that is the throttle),
    nothing else. Locks the user's devices of that kind while it checks.
    """
    code = _normalize_code(code)
    if not code:
        raise SecondFactorError(
            "Enter the 6-digit code from your authenticator app, or a recovery code."
        )
    model = TOTPDevice if code.isdigit() and len(code) == 6 else StaticDevice
    waiting = None
    # The device's throttle counts a wrong code: it must be saved, so the error is raised
    # after this transaction commits.
    with transaction.atomic():
        for device in model.objects.devices_for_user(user, confirmed=True).select_for_update():
            allowed, details = device.verify_is_allowed()
            if not allowed:
                waiting = details.get("locked_until")
                continue
            if device.verify_token(code):
                return device
    if waiting is not None:
        seconds = max(1, int((waiting - timezone.now()).total_seconds() + 0.999))
        raise SecondFactorError(
            f"Too many wrong codes in a row. Wait {seconds} second{'s' if seconds > 1 else ''} "
            "and try again."
        )
    if model is StaticDevice:
        raise SecondFactorError(
            "That is not one of your recovery codes, or it was used already. Each code works once."
        )
    raise SecondFactorError(
        "That code is not right. Enter the newest code your authenticator app shows "
        "(check that the phone's clock is right), or a recovery code."
    )


def recovery_codes_left(user: User) -> int:
    """How many unused recovery codes ``user`` has."""
    return StaticToken.objects.filter(device__user=user).count()


def reset_second_factor(user: User, *, by: User) -> int:
    """Delete ``user``'s authenticator app and recovery codes, for a lost or replaced
    phone: they set up a new app at their next sign-in, and a session of theirs that
    passed the second factor must pass it again. ``by`` is the manager; writes an audit
    row. Returns how many devices were deleted. Raises StaffError when ``by`` may not
    manage staff; nothing is written then.
    """
    if by is None:
        raise StaffError("Say which manager resets the second factor.")
    _check_manager(by, "reset someone's second factor")
    with transaction.atomic():
        deleted = 0
        for model in (TOTPDevice, StaticDevice):
            _, per_model = model.objects.filter(user=user).delete()
            deleted += per_model.get(model._meta.label, 0)
        record_audit_event(
            actor=by,
            action=AuditEvent.Action.DELETE,
            obj=user,
            summary=f"Second factor of {user.username} reset; they set it up again at sign-in",
        )
    return deleted
