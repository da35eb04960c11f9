"""API permission classes: every endpoint needs a signed-in staff member with a role."""

from rest_framework.permissions import BasePermission


class IsStaffWithRole(BasePermission):
    """Authenticated, active, in a role, and holding the view's ``required_permissions``."""

    message = "Your account has no role; ask a manager to give you one."

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not (user and user.is_authenticated and user.is_active and user.role):
            return False
        self.message = f"Your role ({user.role_label}) does not allow this."
        required = getattr(view, "required_permissions", ())
        if isinstance(required, dict):
            required = required.get(request.method, required.get("*", ()))
        return user.has_perms(required)
