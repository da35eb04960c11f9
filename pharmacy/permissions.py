"""API permission classes: every endpoint needs a signed-in staff member with a role."""

from django.contrib.auth.models import Group, Permission
from django.db.models import CharField, Value
from rest_framework.permissions import BasePermission

from pharmacy.models import Role


def _role_and_permissions(user) -> tuple[str | None, set[str]]:
    """The user's role and every permission they hold ("app_label.codename"), through their
    groups or given to them directly, in one query (the same answer as ``User.role`` and
    ``ModelBackend``, which take three)."""
    through_groups = (
        Group.objects.filter(user=user)
        .order_by()
        .values_list("name", "permissions__content_type__app_label", "permissions__codename")
    )
    direct = (
        Permission.objects.filter(user=user)
        .order_by()
        .values_list(Value("", output_field=CharField()), "content_type__app_label", "codename")
    )
    names: set[str] = set()
    permissions: set[str] = set()
    for group_name, app_label, codename in through_groups.union(direct, all=True):
        names.add(group_name)
        if codename is not None:
            permissions.add(f"{app_label}.{codename}")
    return next((role for role in Role.values if role in names), None), permissions


class IsStaffWithRole(BasePermission):
    """Authenticated, active, in a role, and holding the view's ``required_permissions``."""

    message = "Your account has no role; ask a manager to give you one."

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not (user and user.is_authenticated and user.is_active):
            return False
        if not hasattr(user, "_role"):
            # One query for the role and the permissions on every API request; ``User.role``
            # reads the cached role.
            user._role, user._api_permissions = _role_and_permissions(user)
        if not user.role:
            return False
        self.message = f"Your role ({user.role_label}) does not allow this."
        required = getattr(view, "required_permissions", ())
        if isinstance(required, dict):
            required = required.get(request.method, required.get("*", ()))
        if user.is_superuser or not hasattr(user, "_api_permissions"):
            # A superuser holds every permission (ModelBackend); a user whose role was read
            # elsewhere in this request is asked through the backends as before.
            return user.has_perms(required)
        return all(permission in user._api_permissions for permission in required)
