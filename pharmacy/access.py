"""Access checks of the browser pages."""

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied


def staff_permission_required(permission: str):
    """Signed-out visitors go to sign in; signed-in staff without the permission get 403."""

    def decorator(view):
        @wraps(view)
        @login_required
        def wrapped(request, *args, **kwargs):
            if not request.user.has_perm(permission):
                raise PermissionDenied(
                    f"Your role ({request.user.role_label}) does not give access to this page."
                )
            return view(request, *args, **kwargs)

        # Read by the role matrix (pharmacy/tests/test_url_matrix.py).
        wrapped.required_permission = permission
        return wrapped

    return decorator
