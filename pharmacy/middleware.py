"""Session limits for shared pharmacy workstations, and the security headers of every
response."""

import time

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.utils.cache import add_never_cache_headers

from pharmacy.access import sign_in_response

SESSION_STARTED_KEY = "signed_in_at"


class SessionLimitsMiddleware:
    """End a staff session 12 hours after sign-in however active it is.

    The 15-minute idle limit is the session cookie age, renewed on every request
    (SESSION_SAVE_EVERY_REQUEST); this adds the absolute limit the cookie cannot express.
    It holds for every request a session signs in, whatever else it carries: an API
    request authenticated by token has no session user here and is not concerned.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            started = request.session.get(SESSION_STARTED_KEY)
            if started is None:
                request.session[SESSION_STARTED_KEY] = time.time()
            elif time.time() - started > settings.SESSION_ABSOLUTE_TIMEOUT.total_seconds():
                logout(request)
                if request.path.startswith("/api/"):
                    # Signed out, the request goes on: the API answers it as any other
                    # request without a session (its own JSON 401, or a token's user).
                    return self.get_response(request)
                messages.info(
                    request, "Your session reached its 12-hour limit. Please sign in again."
                )
                return sign_in_response(request)
        return self.get_response(request)


class SecurityHeadersMiddleware:
    """The headers Django's SecurityMiddleware does not set, on every response.

    - ``Content-Security-Policy`` from ``CONTENT_SECURITY_POLICY``: scripts and styles
      from our own static files only (no inline script or style, no CDN), so markup that
      slips into a page (a name, a note) can never run.
    - ``Permissions-Policy`` from ``PERMISSIONS_POLICY``: the scanner is a keyboard wedge,
      so no page needs the camera, microphone, location, payment or USB.
    - ``Cache-Control: no-store`` on every response to a signed-in request and every API
      response: patient data must not stay in a browser's or proxy's cache on a shared
      workstation.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.headers.setdefault(
            "Content-Security-Policy",
            "; ".join(f"{k} {v}" for k, v in settings.CONTENT_SECURITY_POLICY.items()),
        )
        response.headers.setdefault("Permissions-Policy", settings.PERMISSIONS_POLICY)
        user = getattr(request, "user", None)
        is_private = request.path.startswith("/api/") or (
            user is not None and user.is_authenticated
        )
        if is_private and "no-store" not in response.get("Cache-Control", ""):
            add_never_cache_headers(response)
        return response
