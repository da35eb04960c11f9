"""Staff accounts and their roles: the role groups kept in step with ``ROLE_PERMISSIONS``,
creating a staff member, and their API token."""

from django.contrib.auth.models import Group, Permission
from django.contrib.auth.password_validation import validate_password
from django.db import transaction
from rest_framework.authtoken.models import Token

from pharmacy.models import Role, User
from pharmacy.roles import ROLE_PERMISSIONS


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


def create_api_token(user: User) -> Token:
    """Give the user a fresh API token, replacing any previous one (it stops working)."""
    with transaction.atomic():
        Token.objects.filter(user=user).delete()
        return Token.objects.create(user=user)
