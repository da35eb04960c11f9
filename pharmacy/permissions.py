"""Who may do what: the API's permission class and the authentication backend that
answers ``user.has_perm`` for pages and API alike.

A role's permissions are its Group's (``pharmacy/roles.py``). Both read them through
``User.load_role_and_permissions``: one query per request for the role and every
permission, where Django's ModelBackend and ``User.role`` would take three. An API
token's request reads them in the query that finds the token and its user
(``StaffTokenAuthentication``).
"""

from functools import cache

from django.contrib.auth.backends import ModelBackend
from django.db import DEFAULT_DB_ALIAS, connection
from django.utils.translation import gettext_lazy as _
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.permissions import BasePermission

from pharmacy.models import User, role_and_permission_rows_sql
from pharmacy.sql import prepared


@cache
def _token_sql() -> str:
    """The token of a key, its user (every column) and the user's role and permission
    rows, one row per permission."""
    columns = ", ".join(f'staff."{field.column}"' for field in User._meta.concrete_fields)
    return f"""
    SELECT token.created, {columns}, role.*
    FROM {Token._meta.db_table} token
    JOIN {User._meta.db_table} staff ON staff.id = token.user_id
    LEFT JOIN LATERAL ({role_and_permission_rows_sql("staff.id")}) role ON true
    WHERE token.key = %s
    """


class StaffTokenAuthentication(TokenAuthentication):
    """DRF's token authentication (``Authorization: Token <key>``, the same errors), which
    reads the token, its user and the user's role and permissions in one plain-SQL
    query: e-prescribing networks send a request per prescription, and the ORM's two
    queries were a third of a NewRx's CPU time."""

    def authenticate_credentials(self, key):
        with connection.cursor() as cursor:
            cursor.execute(prepared("staff_token", _token_sql()), [key])
            rows = cursor.fetchall()
        if not rows:
            raise AuthenticationFailed(_("Invalid token."))
        fields = User._meta.concrete_fields
        user = User.from_db(
            DEFAULT_DB_ALIAS, [field.attname for field in fields], rows[0][1 : len(fields) + 1]
        )
        if not user.is_active:
            raise AuthenticationFailed(_("User inactive or deleted."))
        user.keep_role_and_permissions(row[len(fields) + 1 :] for row in rows)
        token = Token.from_db(
            DEFAULT_DB_ALIAS, ["key", "user_id", "created"], [key, user.pk, rows[0][0]]
        )
        token.user = user
        return user, token


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
