"""Who may do what: the API's permission class and the authentication backend that
answers ``user.has_perm`` for pages and API alike.

A role's permissions are its Group's (``pharmacy/roles.py``). Both read them through
``User.load_role_and_permissions``: one query per request for the role and every
permission, where Django's ModelBackend and ``User.role`` would take three.
"""

from django.contrib.auth.backends import ModelBackend
from rest_framework.permissions import BasePermission


class StaffRoleBackend(ModelBackend):
    """ModelBackend whose permission set comes from the one query that also reads the
    role. A superuser still holds every permission (ModelBackend's rule)."""

    def get_all_permissions(self, user_obj, obj=None) -> set[str]:
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        if user_obj.is_superuser:
            return super().get_all_permissions(user_obj, obj)
        if not hasattr(user_obj, "_role_permissions"):
            user_obj.load_role_and_permissions()
        return user_obj._role_permissions


class IsStaffWithRole(BasePermission):
    """Authenticated, active, in a role, and holding the view's ``required_permissions``."""

    message = "Your account has no role; ask a manager to give you one."

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not (user and user.is_authenticated and user.is_active):
            return False
        if not user.role:
            return False
        self.message = f"Your role ({user.role_label}) does not allow this."
        required = getattr(view, "required_permissions", ())
        if isinstance(required, dict):
            required = required.get(request.method, required.get("*", ()))
        return user.has_perms(required)
