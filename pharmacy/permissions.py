"""Who may do what: the API's permission class and the authentication backend that
answers ``user.has_perm`` for pages and API alike.

A role's permissions are its Group's (``pharmacy/roles.py``). Both read them as
``pharmacy.models.role_and_permission_subqueries`` defines them: for a signed-in user in
one query per request (``User.load_role_and_permissions``), where Django's ModelBackend
and ``User.role`` would take three; for an API token in the query that finds the token
and its user (``StaffTokenAuthentication``).
"""

from datetime import timedelta
from functools import cache

from django.contrib.auth.backends import ModelBackend
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework.authentication import TokenAuthentication
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.permissions import BasePermission

from pharmacy.models import ApiToken, hash_api_key, role_and_permission_subqueries

# How stale a token's ``last_used_at`` may be: enough to tell a live integration from one
# that stopped, without a write on every request.
LAST_USED_RESOLUTION = timedelta(hours=1)


class StaffTokenAuthentication(TokenAuthentication):
    """``Authorization: Token <key>`` (DRF's header, keyword and errors) against
    ``ApiToken``, found by the SHA-256 of the key in the one query that also reads its
    user, role and permissions, so the permission check that follows needs no query of
    its own: e-prescribing networks send one request per prescription.

    An expired or revoked token, or one of a disabled user, is refused with a sentence
    saying so. ``last_used_at`` is written at most once an hour per token, by a
    conditional UPDATE, so most requests write nothing.
    """

    model = ApiToken

    def authenticate_credentials(self, key):
        try:
            token = _tokens_with_role_and_permissions().get(key_hash=hash_api_key(key))
        except ApiToken.DoesNotExist:
            raise AuthenticationFailed(_("Invalid token.")) from None
        if token.revoked_at is not None:
            raise AuthenticationFailed(
                f"This token was revoked on {_day(token.revoked_at)}; ask a manager for a new one."
            )
        now = timezone.now()
        if token.expires_at <= now:
            raise AuthenticationFailed(
                f"This token expired on {_day(token.expires_at)}; ask a manager for a new one."
            )
        if not token.user.is_active:
            raise AuthenticationFailed(_("User inactive or deleted."))
        token.user.keep_role_and_permissions(
            role_names=token.role_names, permission_names=token.permission_names
        )
        if token.last_used_at is None or token.last_used_at <= now - LAST_USED_RESOLUTION:
            # Of concurrent requests only the first still matches the condition.
            ApiToken.objects.filter(pk=token.pk).filter(
                Q(last_used_at__isnull=True) | Q(last_used_at__lte=now - LAST_USED_RESOLUTION)
            ).update(last_used_at=now)
        return token.user, token


def _day(moment) -> str:
    return timezone.localdate(moment).isoformat()


@cache
def _tokens_with_role_and_permissions():
    """Tokens with their user, role and permissions. Built once per process and filtered
    per request (each filter is a copy): resolving the subqueries on every request cost
    more than running the query."""
    return ApiToken.objects.select_related("user").annotate(
        **role_and_permission_subqueries("user_id")
    )


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
